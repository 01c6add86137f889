package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
)

// settings are the keys a region takes, as messages list them.
var settings = []string{
	"backend", "expiration_time", "arguments.<name>",
	"metrics", "shared_invalidation", "key_mangler", "codec", "replace_existing_backend",
}

// settingNames are the settings as keys, for suggestions.
var settingNames = []string{
	"backend", "expiration_time", "arguments",
	"metrics", "shared_invalidation", "key_mangler", "codec", "replace_existing_backend",
}

// entry is one value under the prefix: a region's setting or argument.
type entry struct {
	key   string   // the full dotted key
	rel   []string // the key's parts after the prefix: region, setting, argument path…
	value any
	line  int
	err   string // a mistake found while walking (reported in line order)
}

// build walks a decoded document and checks every region's settings. The
// first mistake in file order is returned, so that the message a user sees
// does not depend on map order.
func build(path, format string, doc *document, o options) (*File, error) {
	f := &File{Path: path, Format: format, lines: doc.lines, regionOpts: o.regionOpts}
	prefix := strings.Split(o.prefix, ".")
	w := &walker{doc: doc, prefix: prefix, seen: map[string]int{}}
	w.walkMap("", doc.tree)
	sort.SliceStable(w.entries, func(i, j int) bool {
		a, b := w.entries[i], w.entries[j]
		if a.line != b.line {
			return a.line < b.line
		}
		return a.key < b.key
	})

	regions := map[string]*RegionConfig{}
	has := map[string]map[string]bool{} // region → settings given
	for i := range w.entries {
		e := &w.entries[i]
		fail := func(format string, a ...any) error {
			return &Error{File: path, Line: e.line, Key: e.key, Msg: fmt.Sprintf(format, a...)}
		}
		if e.err != "" {
			return nil, fail("%s", e.err)
		}
		name := e.rel[0]
		if !validRegionName(name) {
			return nil, fail("%q is not a region name: use letters, digits, _ and -", name)
		}
		rc := regions[name]
		if rc == nil {
			rc = &RegionConfig{Name: name, Prefix: o.prefix + "." + name + ".", Arguments: dogpile.Args{}, file: f, line: e.line}
			regions[name] = rc
			has[name] = map[string]bool{}
			f.Regions = append(f.Regions, rc)
		}
		v, err := expandValue(e.value, o.lookupEnv)
		if err != nil {
			return nil, fail("%v", err)
		}
		if len(e.rel) < 2 {
			if m, ok := asMap(v); ok && len(m) == 0 {
				continue // an empty [cache.<region>] table: the missing backend is reported below
			}
			return nil, fail("want a table of the region's settings (%s), not %s", strings.Join(settings, ", "), quote(v))
		}
		setting := e.rel[1]
		if setting == "arguments" {
			if len(e.rel) == 2 {
				return nil, fail("want a table of the backend's arguments, not %s", quote(v))
			}
			if err := setArg(rc.Arguments, e.rel[2:], v); err != nil {
				return nil, fail("%v", err)
			}
			continue
		}
		if len(e.rel) > 2 {
			if s, ok := closest(setting, []string{"arguments"}); ok {
				return nil, fail("unknown key; did you mean %s%s.%s?", rc.Prefix, s, strings.Join(e.rel[2:], "."))
			}
			if slices.Contains(settingNames, setting) {
				return nil, fail("%s takes a value, not a table", rc.Prefix+setting)
			}
			return nil, fail("unknown key (a region's keys: %s)", strings.Join(settings, ", "))
		}
		has[name][setting] = true
		switch setting {
		case "backend":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return nil, fail("want the name of a backend, such as \"file\" or \"redis\", not %s", quote(v))
			}
			rc.Backend = strings.TrimSpace(s)
		case "expiration_time":
			d, err := dogpile.ParseDuration(v)
			if err != nil {
				return nil, fail("%v", err)
			}
			rc.Expiration = d
		case "metrics":
			b, ok := parseBool(v)
			if !ok {
				return nil, fail("want true or false, not %s", quote(v))
			}
			rc.Metrics = b
		case "shared_invalidation":
			if b, ok := parseBool(v); ok && !isNumber(v) {
				rc.SharedInvalidation = b
				continue
			}
			d, err := dogpile.ParseDuration(v)
			if err != nil {
				return nil, fail("want true, false, 0 (read with every value) or a refresh interval such as \"30s\", not %s", quote(v))
			}
			rc.SharedInvalidation, rc.InvalidationRefresh = true, d
		case "key_mangler":
			s, _ := v.(string)
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "sha1":
				rc.KeyMangler = "sha1"
			case "", "none":
				rc.KeyMangler = ""
			default:
				return nil, fail("want \"sha1\" or \"none\", not %s", quote(v))
			}
		case "codec":
			s, _ := v.(string)
			switch s = strings.ToLower(strings.TrimSpace(s)); s {
			case "default", "json", "msgpack":
				rc.Codec = s
			default:
				return nil, fail("want \"default\", \"json\" or \"msgpack\", not %s", quote(v))
			}
		case "replace_existing_backend":
			// The seed's option for reconfiguring a live region: every
			// region made here is new, so it has nothing to replace.
			if _, ok := parseBool(v); !ok {
				return nil, fail("want true or false, not %s", quote(v))
			}
		default:
			if s, ok := closest(setting, settingNames); ok {
				if _, isMap := asMap(v); s == "arguments" && !isMap {
					s = "arguments.<name>"
				}
				return nil, fail("unknown key; did you mean %s%s?", rc.Prefix, s)
			}
			return nil, fail("unknown key (a region's keys: %s)", strings.Join(settings, ", "))
		}
	}
	if len(f.Regions) == 0 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("no regions: a region is configured by keys under %q, such as %s.local.backend", o.prefix+".<region>.", o.prefix)}
	}
	for _, rc := range f.Regions {
		if !has[rc.Name]["backend"] {
			return nil, &Error{File: path, Line: rc.line, Key: rc.Prefix + "backend",
				Msg: fmt.Sprintf("missing: every region needs a backend (registered: %s)", strings.Join(dogpile.Backends(), ", "))}
		}
	}
	return f, nil
}

type walker struct {
	doc     *document
	prefix  []string
	entries []entry
	seen    map[string]int // full key → index in entries
}

func (w *walker) walkMap(base string, m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := k
		if base != "" {
			key = base + "." + k
		}
		w.walk(key, m[k])
	}
}

func (w *walker) walk(key string, v any) {
	segs := strings.Split(key, ".")
	for i, p := range w.prefix {
		if i >= len(segs) {
			// Above the prefix ("myapp" of "myapp.cache"): look inside.
			if m, ok := asMap(v); ok {
				w.walkMap(key, m)
			}
			return
		}
		if segs[i] != p {
			// Another of the application's settings — unless it is the
			// prefix misspelt, which would silently drop every region.
			if _, ok := closest(segs[i], []string{p}); ok {
				fixed := append(append(segs[:i:i], p), segs[i+1:]...)
				w.add(entry{key: key, line: w.lineOf(key), err: fmt.Sprintf("unknown key; did you mean %s? (regions are configured under %s.<region>.)",
					strings.Join(fixed, "."), strings.Join(w.prefix, "."))})
			}
			return
		}
	}
	rel := segs[len(w.prefix):]
	m, isMap := asMap(v)
	switch {
	case len(rel) == 0:
		if !isMap {
			w.add(entry{key: key, line: w.lineOf(key), err: fmt.Sprintf("want a table of regions (%s.<region>.backend = …), not %s", key, quote(v))})
			return
		}
		w.walkMap(key, m)
	case isMap && (len(rel) == 1 || len(rel) == 2 && rel[1] == "arguments"):
		if len(m) == 0 && len(rel) == 1 {
			w.add(entry{key: key, rel: rel, value: m, line: w.lineOf(key)})
			return
		}
		w.walkMap(key, m)
	default:
		w.add(entry{key: key, rel: rel, value: v, line: w.lineOf(key)})
	}
}

func (w *walker) add(e entry) {
	if i, dup := w.seen[e.key]; dup {
		first := w.entries[i]
		if e.line < first.line {
			first, e = e, first
		}
		e.err = fmt.Sprintf("set twice (also at line %d)", first.line)
		w.entries = append(w.entries, e)
		return
	}
	w.seen[e.key] = len(w.entries)
	w.entries = append(w.entries, e)
}

// lineOf returns the line of key or of its nearest enclosing table.
func (w *walker) lineOf(key string) int {
	for k := key; ; {
		if l, ok := w.doc.lines[k]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return 0
		}
		k = k[:i]
	}
}

// asMap returns v as a map with string keys, converting the
// map[any]any that YAML gives for non-string keys.
func asMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case dogpile.Args:
		return x, true
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return m, true
	}
	return nil, false
}

// setArg sets the argument at path (name, or name.sub… for a nested map such
// as connection_kwargs) in args.
func setArg(args map[string]any, path []string, v any) error {
	if m, ok := asMap(v); ok {
		v = normalize(m)
	}
	if len(path) == 1 {
		if old, ok := args[path[0]]; ok {
			om, ok1 := old.(map[string]any)
			nm, ok2 := v.(map[string]any)
			if !ok1 || !ok2 {
				return fmt.Errorf("argument %q is set twice", path[0])
			}
			for k, e := range nm {
				om[k] = e
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

// normalize converts nested map[any]any (YAML) into map[string]any, which
// dogpile.Args accessors take.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case map[any]any:
		m, _ := asMap(x)
		return normalize(m)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func validRegionName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseBool reads a boolean as configurations write it (configparser's
// getboolean words included).
func parseBool(v any) (bool, bool) {
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
		_, err := dogpile.ParseDuration(strings.TrimSpace(x))
		return err == nil && strings.TrimLeft(strings.TrimSpace(x), "0123456789.") == ""
	}
	return false
}
