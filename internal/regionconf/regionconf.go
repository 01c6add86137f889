// Package regionconf is the one schema of a region's settings: the keys a
// configuration gives a region (backend, expiration_time, arguments, codec,
// …), what values each takes, and the messages for mistakes. Both
// dogpile.Region.ConfigureFromMap and package config read settings with it,
// so that a map and a file accept the same settings, mean the same by them,
// and refuse the same mistakes in the same words.
//
// It lives in the root module's internal tree because config imports
// dogpile: dogpile cannot import config, and both can import this.
package regionconf

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/internal/redact"
	"github.com/dogpile-go/dogpile/internal/suggest"
)

// Settings are a region's settings, checked. The field set is mirrored by
// config.Settings (which documents it for users); the two convert into each
// other, so the compiler keeps them the same.
type Settings struct {
	Backend                string
	Expiration             time.Duration
	Metrics                bool
	SharedInvalidation     bool
	InvalidationRefresh    time.Duration
	KeyMangler             string
	Codec                  string
	KeyPrefix              string
	SigningKeys            []string
	Compress               string // "" or a registered compression (codec.LookupCompression)
	CompressMinBytes       int
	ReplaceExistingBackend bool
}

// Names are the settings a region takes, in the order messages list them.
var Names = []string{
	"backend", "expiration_time", "arguments",
	"metrics", "shared_invalidation", "key_mangler", "codec", "key_prefix", "signing_keys",
	"compress", "compress_min_bytes", "min_compress_len", "replace_existing_backend",
}

// pythonArgs are arguments of Python dogpile.cache's backends that are
// settings of the same name here: they are read as the setting, and never
// reach the backend.
var pythonArgs = []string{"min_compress_len"}

// Listed is Names as messages list them.
var Listed = strings.Replace(strings.Join(Names, ", "), "arguments", "arguments.<name>", 1)

// IsSetting reports whether name is one of Names.
func IsSetting(name string) bool { return slices.Contains(Names, name) }

// Error is a mistake in a region's settings: the full key and what is wrong
// with it, in words that quote the value only when it is not a secret.
type Error struct {
	Key string // the full key, such as "cache.local.expiration_time"
	Msg string
}

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

// Region reads one region's settings, key by key.
type Region struct {
	// Prefix begins the region's keys ("cache.local."), in messages and
	// suggestions.
	Prefix    string
	Settings  Settings
	Arguments map[string]any // the backend's arguments
	given     map[string]bool
	threshold string // the key that set Settings.CompressMinBytes, for messages
}

// NewRegion starts reading the settings of the region whose keys begin with
// prefix.
func NewRegion(prefix string) *Region {
	return &Region{Prefix: prefix, Arguments: map[string]any{}, given: map[string]bool{}}
}

// Set reads the value v at path, the key's parts after the region's prefix:
// a setting (["backend"]), the backend's arguments as a table
// (["arguments"]), one argument (["arguments", "url"]) or a part of a nested
// argument (["arguments", "connection_kwargs", "password"]). v is a value as
// decoders give them: strings, numbers, booleans, lists and maps of them.
func (r *Region) Set(path []string, v any) *Error {
	key := r.Prefix + strings.Join(path, ".")
	fail := func(format string, a ...any) *Error { return &Error{Key: key, Msg: fmt.Sprintf(format, a...)} }
	setting := path[0]
	if setting == "arguments" {
		if len(path) == 1 {
			m, ok := AsMap(v)
			if !ok {
				return fail("want a table of the backend's arguments, not %s", redact.Value(key, v))
			}
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if err := r.Set([]string{"arguments", k}, m[k]); err != nil {
					return err
				}
			}
			return nil
		}
		if len(path) == 2 && slices.Contains(pythonArgs, path[1]) {
			if err := r.Set(path[1:], v); err != nil {
				return &Error{Key: key, Msg: err.Msg}
			}
			r.threshold = key
			return nil
		}
		if err := setArg(r.Arguments, path[1:], v); err != nil {
			return fail("%v", err)
		}
		return nil
	}
	if len(path) > 1 {
		if s, ok := suggest.Closest(setting, []string{"arguments"}); ok {
			return fail("unknown key; did you mean %s%s.%s?", r.Prefix, s, strings.Join(path[1:], "."))
		}
		if IsSetting(setting) {
			return fail("%s takes a value, not a table", r.Prefix+setting)
		}
		return fail("unknown key (a region's keys: %s)", Listed)
	}
	if !IsSetting(setting) {
		if s, ok := suggest.Closest(setting, Names); ok {
			if _, isMap := AsMap(v); s == "arguments" && !isMap {
				s = "arguments.<name>"
			}
			return fail("unknown key; did you mean %s%s?", r.Prefix, s)
		}
		return fail("unknown key (a region's keys: %s)", Listed)
	}
	if r.given[setting] {
		return fail("set twice")
	}
	if setting == "min_compress_len" && r.given["compress_min_bytes"] || setting == "compress_min_bytes" && r.given["min_compress_len"] {
		return fail("set twice: min_compress_len and compress_min_bytes are two names of one setting")
	}
	r.given[setting] = true
	if v == nil && setting != "backend" {
		return nil // YAML's null, an empty TOML value: not set
	}
	s := &r.Settings
	switch setting {
	case "backend":
		name, ok := v.(string)
		if !ok || strings.TrimSpace(name) == "" {
			return fail("want the name of a backend, such as \"file\" or \"redis\", not %s", redact.Value(key, v))
		}
		s.Backend = strings.TrimSpace(name)
	case "expiration_time":
		d, err := ParseDuration(v)
		if err != nil {
			return fail("%v", err)
		}
		s.Expiration = d
	case "metrics":
		return setBool(&s.Metrics, v, fail, key)
	case "shared_invalidation":
		if b, ok := ParseBool(v); ok && !isNumber(v) {
			s.SharedInvalidation = b
			return nil
		}
		d, err := ParseDuration(v)
		if err != nil {
			return fail("want true, false, 0 (read with every value) or a refresh interval such as \"30s\", not %s", redact.Value(key, v))
		}
		s.SharedInvalidation, s.InvalidationRefresh = true, d
	case "key_mangler":
		name, _ := v.(string)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sha1":
			s.KeyMangler = "sha1"
		case "":
			s.KeyMangler = ""
		case "none":
			s.KeyMangler = "none" // not even the backend's default
		default:
			return fail("want \"sha1\" or \"none\", not %s", redact.Value(key, v))
		}
	case "codec":
		name, ok := v.(string)
		if !ok {
			return fail("want the name of a codec, such as \"json\", not %s", redact.Value(key, v))
		}
		c, err := LookupCodec(name)
		if err != nil {
			return fail("%s", strings.TrimPrefix(err.Error(), "codec: "))
		}
		s.Codec = c.Name()
	case "key_prefix":
		p, ok := v.(string)
		if !ok {
			return fail("want a string, such as \"myapp:\", not %s", redact.Value(key, v))
		}
		s.KeyPrefix = p
	case "signing_keys":
		keys, err := strList(v)
		if err != nil {
			return fail("want a list of keys, such as [\"${DOGPILE_SIGNING_KEY}\"]: %v", err)
		}
		s.SigningKeys = keys
	case "compress":
		name, ok := v.(string)
		if !ok {
			return fail("want the name of a compression, such as \"s2\", or \"none\", not %s", redact.Value(key, v))
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "none" || name == "" {
			s.Compress = "none"
			return nil
		}
		if _, err := codec.LookupCompression(name); err != nil {
			return fail("%s", strings.TrimPrefix(err.Error(), "codec: unknown codec: "))
		}
		s.Compress = name
	case "compress_min_bytes", "min_compress_len":
		n, err := parseSize(v)
		if err != nil {
			return fail("%v", err)
		}
		s.CompressMinBytes, r.threshold = n, key
	case "replace_existing_backend":
		return setBool(&s.ReplaceExistingBackend, v, fail, key)
	}
	return nil
}

// Compression returns the compression the settings ask for, or nil: compress
// names one ("none" is none), and a threshold given without compress (as
// Python dogpile.cache's min_compress_len is) asks for the default, S2.
func (s *Settings) Compression() (codec.Compression, error) {
	name := s.Compress
	if name == "" && s.CompressMinBytes > 0 {
		name = "s2"
	}
	if name == "" || name == "none" {
		return nil, nil
	}
	return codec.LookupCompression(name)
}

// parseSize reads a number of bytes: a non-negative integer, or a string of
// one.
func parseSize(v any) (int, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return 0, fmt.Errorf("want a whole number of bytes, not %v", x)
		}
		n = int64(x)
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 32); err != nil {
			return 0, fmt.Errorf("want a whole number of bytes, not %q", x)
		}
	default:
		return 0, fmt.Errorf("want a whole number of bytes, not %s", Kind(v))
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("want a number of bytes from 0 to %d, not %d", math.MaxInt32, n)
	}
	return int(n), nil
}

// setBool sets a boolean setting from v.
func setBool(dst *bool, v any, fail func(string, ...any) *Error, key string) *Error {
	b, ok := ParseBool(v)
	if !ok {
		return fail("want true or false, not %s", redact.Value(key, v))
	}
	*dst = b
	return nil
}

// Done checks what a region must have once every key is read: a backend.
// registered lists the backends there are, for the message.
func (r *Region) Done(registered []string) *Error {
	if !r.given["backend"] {
		return &Error{Key: r.Prefix + "backend", Msg: fmt.Sprintf("missing: every region needs a backend (registered: %s)", strings.Join(registered, ", "))}
	}
	if _, err := r.Settings.Compression(); err != nil {
		// Only a threshold without compress gets here: a compress naming
		// an unregistered compression was refused when it was read.
		return &Error{Key: r.threshold, Msg: "asks for compression (S2, as compress is not set): " + strings.TrimPrefix(err.Error(), "codec: unknown codec: ")}
	}
	return nil
}

// LookupCodec finds a registered codec by name, case ignored when no codec
// has the name as written.
func LookupCodec(name string) (codec.Codec, error) {
	name = strings.TrimSpace(name)
	c, err := codec.Lookup(name)
	if err != nil && errors.Is(err, codec.ErrUnknown) && strings.ToLower(name) != name {
		if c2, err2 := codec.Lookup(strings.ToLower(name)); err2 == nil {
			return c2, nil
		}
	}
	return c, err
}

// strList reads a list of strings: a list, or one string of comma-separated
// items as INI files give lists. No item is quoted in an error: the items
// are secrets.
func strList(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	case []string:
		return slices.Clone(x), nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d is %s, not a string", i+1, Kind(e))
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("got %s", Kind(v))
}

// Kind names what sort of value v is, for a message that must not show it.
func Kind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int, int64, float64:
		return "a number"
	}
	if _, ok := AsMap(v); ok {
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// setArg sets the argument at path (name, or name.sub… for a nested map such
// as connection_kwargs) in args.
func setArg(args map[string]any, path []string, v any) error {
	if m, ok := AsMap(v); ok {
		v = normalize(m)
	}
	if len(path) == 1 {
		if old, ok := args[path[0]]; ok {
			om, ok1 := old.(map[string]any)
			nm, ok2 := v.(map[string]any)
			if !ok1 || !ok2 {
				return fmt.Errorf("argument %q is set twice", path[0])
			}
			for _, k := range slices.Sorted(maps.Keys(nm)) {
				if err := setArg(om, []string{k}, nm[k]); err != nil {
					return err
				}
			}
			return nil
		}
		args[path[0]] = v
		return nil
	}
	sub, ok := args[path[0]].(map[string]any)
	if !ok {
		if _, set := args[path[0]]; set {
			return fmt.Errorf("argument %q is given both as a value and as a table", path[0])
		}
		sub = map[string]any{}
		args[path[0]] = sub
	}
	return setArg(sub, path[1:], v)
}

// AsMap returns v as a map with string keys, converting the map[any]any
// that YAML gives for non-string keys. A named map type (dogpile.Args) is a
// map too.
func AsMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return m, true
	}
	if m, ok := asNamedMap(v); ok {
		return m, true
	}
	return nil, false
}

// normalize converts nested map[any]any (YAML) into map[string]any, which
// dogpile.Args accessors take, copying as it goes: the settings never share
// a map with the caller's configuration.
func normalize(v any) any {
	if m, ok := AsMap(v); ok {
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = normalize(e)
		}
		return out
	}
	if x, ok := v.([]any); ok {
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// ParseBool reads a boolean as configurations write it: true and false,
// Python configparser's words (yes/no, on/off), and 1 and 0.
func ParseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "on", "1":
			return true, true
		case "false", "no", "off", "0":
			return false, true
		}
	case int, int64:
		n := fmt.Sprint(x)
		if n == "0" || n == "1" {
			return n == "1", true
		}
	}
	return false, false
}

// isNumber reports whether v is a number, or a string of one.
func isNumber(v any) bool {
	switch x := v.(type) {
	case int, int64, float64, time.Duration:
		return true
	case string:
		s := strings.TrimSpace(x)
		_, err := strconv.ParseFloat(s, 64)
		return err == nil && strings.TrimLeft(s, "0123456789.") == ""
	}
	return false
}

// ParseDuration reads a duration as configurations give it: a number of
// seconds (int, float64, or a numeric string), a Go duration string, or a
// time.Duration. Negative durations are an error.
func ParseDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case int:
		return ParseDuration(int64(x))
	case int64:
		// Checked: an overflowing product would wrap into another, valid
		// looking duration (18446744074 s into 0.29 s).
		if x > math.MaxInt64/int64(time.Second) || x < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("%d seconds is out of a duration's range (about 292 years)", x)
		}
		d = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("%v is not a duration in seconds", x)
		}
		d = time.Duration(x * float64(time.Second))
	case string:
		s := strings.TrimSpace(x)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return ParseDuration(f)
		}
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want seconds or a Go duration such as \"90s\" or \"1h\", not %q", x)
		}
	default:
		return 0, fmt.Errorf("want seconds or a Go duration string, not %s", redact.Type(v))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %v", d)
	}
	return d, nil
}

// asNamedMap returns a map of a named type whose underlying type is
// map[string]any, such as dogpile.Args, which this package cannot name.
func asNamedMap(v any) (map[string]any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || !rv.Type().ConvertibleTo(mapType) {
		return nil, false
	}
	return rv.Convert(mapType).Interface().(map[string]any), true
}

var mapType = reflect.TypeFor[map[string]any]()
