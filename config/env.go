package config

import (
	"errors"
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with the environment's
// values; $${ is a literal "${". A $ not followed by { is left alone, so
// passwords and the like need no escaping. An unset variable without a
// default is an error naming it; ${VAR:-default} also takes the default for a
// variable set to the empty string, as the shell does. A default may itself
// hold references (${A:-${B}}, ${A:-${B:-x}}): they are expanded when the
// default is taken, as the shell does, so a default that is not needed is not
// an error.
//
// The errors never quote s: a value may be a secret.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
		case strings.HasPrefix(s, "${"):
			end, err := refEnd(s)
			if err != nil {
				return "", err
			}
			v, err := resolve(s[2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			s = s[end+1:]
		default:
			b.WriteByte('$')
			s = s[1:]
		}
	}
}

// errUnterminated is a ${ without its }.
var errUnterminated = errors.New("a ${ has no closing } (write $${ for a literal ${)")

// refEnd returns the index of the } that closes the reference s begins with
// ("${"), past any references nested in its default.
func refEnd(s string) (int, error) {
	depth := 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			depth++
			i += 2
		case s[i] == '}':
			depth--
			if depth == 0 {
				return i, nil
			}
			i++
		default:
			i++
		}
	}
	return 0, errUnterminated
}

// resolve returns the value of one reference: ref is what is between ${ and
// its closing }.
func resolve(ref string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validEnvName(name) {
		return "", fmt.Errorf("a ${…} reference must start with an environment variable name (letters, digits and _, not starting with a digit), then } or :-default}")
	}
	v, ok := lookup(name)
	switch {
	case hasDef && v == "":
		return expand(def, lookup)
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (set it, or give a default: ${%s:-value})", name, name)
	}
	return v, nil
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
