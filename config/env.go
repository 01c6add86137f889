package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with the environment's
// values; $${ is a literal "${". A $ not followed by { is left alone, so
// passwords and the like need no escaping. An unset variable without a
// default is an error naming it; ${VAR:-default} also takes the default for a
// variable set to the empty string, as the shell does.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${": an escaped "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q has an unterminated ${ (write $${ for a literal ${)", s[i:])
		}
		ref := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: %q is not an environment variable name (letters, digits and _, not starting with a digit)", ref, name)
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (set it, or give a default: ${%s:-value})", name, name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// expandValue expands every string in v (a value as a decoder gives it:
// strings, numbers, lists and maps of them).
func expandValue(v any, lookup func(string) (string, bool)) (any, error) {
	switch x := v.(type) {
	case string:
		return expand(x, lookup)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = expandValue(e, lookup); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = expandValue(e, lookup); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}
