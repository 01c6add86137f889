package dogpile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// An argument error never shows a secret: not the value of an argument whose
// name says it is one ("want a string" for a numeric password), and not the
// password of a URL in the value or in the reason (a URL that fails to parse
// is quoted by url.Parse's error).
func TestArgErrorHidesSecrets(t *testing.T) {
	const secret = "S3cr%et-Passw0rd"
	args := dogpile.Args{"password": 31415926, "sentinel_password": []any{secret}, "api_token": map[string]any{"v": secret}}
	for _, name := range []string{"password", "api_token"} {
		if _, err := args.String(name, ""); err == nil || strings.Contains(err.Error(), "31415926") || strings.Contains(err.Error(), secret) {
			t.Errorf("String(%q): %v", name, err)
		}
	}
	if _, err := args.Int("sentinel_password", 0); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Int(sentinel_password): %v", err)
	}
	url := "redis://app:" + secret + "@cache.internal:6379/0"
	err := &dogpile.ArgError{Name: "url", Value: url, Reason: `parse "` + url + `": invalid URL escape "%et"`}
	if msg := err.Error(); strings.Contains(msg, "Passw0rd") || !strings.Contains(msg, "redis://app:xxxxx@cache.internal:6379/0") {
		t.Errorf("a URL's password is shown: %s", msg)
	}
	// What is not secret is still shown.
	if _, err := (dogpile.Args{"db": "three"}).Int("db", 0); err == nil || !strings.Contains(err.Error(), `"three"`) {
		t.Errorf("Int(db): %v", err)
	}
}

type argStringer struct{}

func (argStringer) String() string { return "stringer" }

// The accessors take what configuration sources produce, and an unset or
// nil argument is the default.
func TestArgsAccessorsAcceptConfigurationValues(t *testing.T) {
	a := dogpile.Args{
		"nil": nil, "s": "text", "stringer": argStringer{},
		"int": 3, "int64": int64(4), "int32": int32(5), "uint": uint(6), "uint64": uint64(7), "float": 8.0, "numeric": " 9 ",
		"bool": true, "boolstr": " true ", "one": 1, "zero": 0,
		"secs": 1.5, "godur": "250ms",
	}
	str := func(name, def string) string {
		t.Helper()
		v, err := a.String(name, def)
		if err != nil {
			t.Fatalf("String(%q): %v", name, err)
		}
		return v
	}
	num := func(name string, def int) int {
		t.Helper()
		v, err := a.Int(name, def)
		if err != nil {
			t.Fatalf("Int(%q): %v", name, err)
		}
		return v
	}
	boolean := func(name string, def bool) bool {
		t.Helper()
		v, err := a.Bool(name, def)
		if err != nil {
			t.Fatalf("Bool(%q): %v", name, err)
		}
		return v
	}
	dur := func(name string, def time.Duration) time.Duration {
		t.Helper()
		v, err := a.Duration(name, def)
		if err != nil {
			t.Fatalf("Duration(%q): %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"String of a string", str("s", "d"), "text"},
		{"String of a Stringer", str("stringer", "d"), "stringer"},
		{"String unset", str("absent", "d"), "d"},
		{"String nil", str("nil", "d"), "d"},
		{"Int of an int", num("int", -1), 3},
		{"Int of an int64", num("int64", -1), 4},
		{"Int of an int32", num("int32", -1), 5},
		{"Int of a uint", num("uint", -1), 6},
		{"Int of a uint64", num("uint64", -1), 7},
		{"Int of a whole float64", num("float", -1), 8},
		{"Int of a numeric string, spaced", num("numeric", -1), 9},
		{"Int unset", num("absent", -1), -1},
		{"Int nil", num("nil", -1), -1},
		{"Bool of a bool", boolean("bool", false), true},
		{"Bool of a string, spaced", boolean("boolstr", false), true},
		{"Bool of 1", boolean("one", false), true},
		{"Bool of 0", boolean("zero", true), false},
		{"Bool unset", boolean("absent", true), true},
		{"Duration of seconds", dur("secs", time.Hour), 1500 * time.Millisecond},
		{"Duration of a Go duration", dur("godur", time.Hour), 250 * time.Millisecond},
		{"Duration unset", dur("absent", time.Hour), time.Hour},
		{"Duration nil", dur("nil", time.Hour), time.Hour},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// What a configuration can't mean is an *ArgError naming the argument, not
// a value made up.
func TestArgsAccessorsRejectWhatTheyCantRead(t *testing.T) {
	a := dogpile.Args{"frac": 1.5, "huge": 1e300, "word": "many", "two": 2, "yes": "yes", "mixed": []any{"a", 1}, "num": 3}
	for _, c := range []struct {
		what string
		err  error
	}{
		{"Int of 1.5", second(a.Int("frac", 0))},
		{"Int of 1e300", second(a.Int("huge", 0))},
		{"Int of a word", second(a.Int("word", 0))},
		{"Bool of 2", second(a.Bool("two", false))},
		{"Bool of yes", second(a.Bool("yes", false))},
		{"String of a number", second(a.String("num", ""))},
		{"Strings of a list with a number", second(a.Strings("mixed"))},
		{"Strings of a number", second(a.Strings("num"))},
		{"Map of a number", second(a.Map("num"))},
	} {
		var ae *dogpile.ArgError
		if !errors.As(c.err, &ae) || !errors.Is(c.err, dogpile.ErrInvalidArgument) {
			t.Errorf("%s: %v; want an *ArgError", c.what, c.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// Strings splits a comma-separated string, dropping blanks, and returns a
// list the caller may modify without modifying the arguments; so does Map,
// at every depth.
func TestArgsStringsAndMap(t *testing.T) {
	list := []string{"a", "b"}
	inner := dogpile.Args{"k": 1}
	a := dogpile.Args{"csv": " a, ,b ,", "list": list, "any": []any{"x", "y"},
		"map": map[string]any{"inner": inner, "m": map[string]any{"k": 1}}}
	for name, want := range map[string][]string{"csv": {"a", "b"}, "list": {"a", "b"}, "any": {"x", "y"}, "absent": nil} {
		got, err := a.Strings(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Strings(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	got, _ := a.Strings("list")
	got[0] = "changed"
	if list[0] != "a" {
		t.Error("modifying Strings' list modified the argument")
	}
	m, err := a.Map("map")
	if err != nil || len(m) != 2 {
		t.Fatalf("Map = %v, %v", m, err)
	}
	m["added"] = true
	m["inner"].(dogpile.Args)["k"] = 2
	m["m"].(map[string]any)["k"] = 2
	if _, ok := a["map"].(map[string]any)["added"]; ok || inner["k"] != 1 || a["map"].(map[string]any)["m"].(map[string]any)["k"] != 1 {
		t.Errorf("modifying Map's result modified the arguments: %v", a)
	}
}

// Known names the first unknown argument in sorted order and lists the
// known ones sorted, whatever the map's order.
func TestArgsKnownIsSorted(t *testing.T) {
	a := dogpile.Args{"zeta": 1, "beta": 2, "url": 3, "delta": 4}
	for range 10 { // map order is random on every range
		err := a.Known("url", "timeout", "db")
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) {
			t.Fatalf("Known: %v; want an *ArgError", err)
		}
		if ae.Name != "beta" || !slices.Equal(ae.Known, []string{"db", "timeout", "url"}) || !strings.Contains(err.Error(), "(known: db, timeout, url)") {
			t.Fatalf("Known: name %q, known %q, %v; want beta and db, timeout, url", ae.Name, ae.Known, err)
		}
	}
	if err := a.Known("zeta", "beta", "url", "delta"); err != nil {
		t.Fatalf("Known with every name: %v", err)
	}
}

// A URL's password in the reason alone, with no value, is masked too.
func TestArgErrorHidesSecretsInTheReasonAlone(t *testing.T) {
	err := &dogpile.ArgError{Name: "url", Reason: "dial redis://app:S3cret@cache.internal:6379: refused"}
	if msg := err.Error(); strings.Contains(msg, "S3cret") || !strings.Contains(msg, "cache.internal:6379") {
		t.Errorf("Error() = %s", msg)
	}
}

// An ArgError's Err is in its message, masked like the reason, and in its
// chain, which still matches ErrInvalidArgument.
func TestArgErrorWrapsItsCause(t *testing.T) {
	cause := fmt.Errorf("dial redis://app:S3cret@cache.internal:6379: %w", fs.ErrPermission)
	err := error(&dogpile.ArgError{Name: "url", Value: "x", Reason: "cannot be used", Err: cause})
	if msg := err.Error(); msg != `dogpile: argument "url" = "x": cannot be used: dial redis://app:xxxxx@cache.internal:6379: permission denied` {
		t.Errorf("Error() = %s", msg)
	}
	if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("errors.Is: the cause %v, ErrInvalidArgument %v", errors.Is(err, fs.ErrPermission), errors.Is(err, dogpile.ErrInvalidArgument))
	}
}
