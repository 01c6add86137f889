package dogpile

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/internal/redact"
	"github.com/dogpile-go/dogpile/internal/regionconf"
)

// Args are a backend's arguments by the names Python's dogpile.cache gives
// them ("url", "lock_timeout", …), as a configuration file or JSON gives
// them. The accessors accept what such sources produce: numbers as int,
// int64, float64 or numeric strings; booleans as bool or "true"/"false";
// durations as seconds (dogpile.cache's unit) or Go duration strings
// ("1500ms"). Anything else is an *ArgError naming the argument.
type Args map[string]any

// clone copies a deeply enough that a factory writing to its copy, nested
// maps and lists included, cannot modify the caller's arguments.
func (a Args) clone() Args {
	if a == nil {
		return nil
	}
	out := make(Args, len(a))
	for k, v := range a {
		out[k] = cloneArg(v)
	}
	return out
}

func cloneArg(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return map[string]any(Args(x).clone())
	case Args:
		return x.clone()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneArg(e)
		}
		return out
	case []string:
		return slices.Clone(x)
	}
	return v
}

// Has reports whether name is set.
func (a Args) Has(name string) bool { _, ok := a[name]; return ok }

// Known returns an error naming every argument not among names, so that a
// misspelt argument is not silently ignored.
func (a Args) Known(names ...string) error {
	var unknown []string
	for k := range a {
		found := false
		for _, n := range names {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return &ArgError{Name: unknown[0], Reason: fmt.Sprintf("unknown argument (known: %s)", strings.Join(sorted, ", ")), Known: sorted}
}

// String returns the string argument name, or def when it is not set.
func (a Args) String(name, def string) (string, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return "", &ArgError{Name: name, Value: v, Reason: "want a string"}
}

// Int returns the integer argument name, or def when it is not set.
func (a Args) Int(name string, def int) (int, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case int32:
		return int(x), nil
	case uint:
		return int(x), nil
	case uint64:
		return int(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, nil
		}
	}
	return 0, &ArgError{Name: name, Value: v, Reason: "want a whole number"}
}

// Bool returns the boolean argument name, or def when it is not set.
func (a Args) Bool(name string, def bool) (bool, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, nil
		}
	case int:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	}
	return false, &ArgError{Name: name, Value: v, Reason: `want true or false`}
}

// Duration returns the duration argument name, or def when it is not set.
// Numbers are seconds (fractions allowed); strings are seconds or Go
// durations ("250ms", "1h").
func (a Args) Duration(name string, def time.Duration) (time.Duration, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, &ArgError{Name: name, Value: v, Reason: err.Error()}
	}
	return d, nil
}

// Strings returns a list argument: a list of strings, or one string of
// comma-separated items.
func (a Args) Strings(name string) ([]string, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case []string:
		return append([]string(nil), x...), nil
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, &ArgError{Name: name, Value: v, Reason: "want a list of strings"}
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, &ArgError{Name: name, Value: v, Reason: "want a list of strings or a comma-separated string"}
}

// Map returns a nested map argument (such as dogpile.cache's connection_kwargs).
func (a Args) Map(name string) (Args, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case map[string]any:
		return Args(x).clone(), nil
	case Args:
		return x.clone(), nil
	}
	return nil, &ArgError{Name: name, Value: v, Reason: "want a map of arguments"}
}

// ParseDuration reads a duration as configurations give it: a number of
// seconds (int, float64, or a numeric string), a Go duration string, or a
// time.Duration. Negative durations are an error.
func ParseDuration(v any) (time.Duration, error) { return regionconf.ParseDuration(v) }

// ArgError is a wrong configuration value or backend argument.
// It matches ErrInvalidArgument.
//
// Its message never shows a secret: the value of an argument whose name says
// it is one (password, sentinel_password, token, api_key, signing_keys, …) is
// masked, and so is the password of any URL in the value or the reason.
type ArgError struct {
	Name   string // the argument or key, as the user wrote it
	Value  any    // what was given (nil when missing)
	Reason string // why it is wrong, and what is accepted
	// Known lists the accepted names when Name is not one of them (set by
	// Args.Known), so that a caller can suggest the one that was meant.
	Known []string
	// Err is what found the value wrong, when that was an error of its own
	// (the file's reader for a file that is not a cache), or nil.
	Err error
}

func (e *ArgError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("dogpile: argument %q: %s", e.Name, e.reason())
	}
	return fmt.Sprintf("dogpile: argument %q = %s: %s", e.Name, redact.Value(e.Name, e.Value), e.reason())
}

// reason is Reason followed by Err, with the passwords of URLs masked.
func (e *ArgError) reason() string {
	if e.Err == nil {
		return redact.URLs(e.Reason)
	}
	return redact.URLs(e.Reason + ": " + e.Err.Error())
}

// Is reports true for ErrInvalidArgument.
func (e *ArgError) Is(target error) bool { return target == ErrInvalidArgument }

// Unwrap returns Err.
func (e *ArgError) Unwrap() error { return e.Err }
