package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/regionconf"
	"github.com/dogpile-go/dogpile/internal/suggest"
)

// entry is one value under the prefix: a region's setting or argument.
type entry struct {
	key   string   // the full dotted key
	rel   []string // the key's parts after the prefix: region, setting, argument path…
	value any
	line  int
	err   string // a mistake found while walking (reported in line order)
}

// build walks a decoded document and checks every region's settings, with
// the schema dogpile.Region.ConfigureFromMap reads maps with. The first
// mistake in file order is returned, so that the message a user sees does
// not depend on map order.
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

	regions := map[string]*regionconf.Region{}
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
		rs := regions[name]
		if rs == nil {
			rs = regionconf.NewRegion(o.prefix + "." + name + ".")
			regions[name] = rs
			f.Regions = append(f.Regions, &RegionConfig{Name: name, Prefix: rs.Prefix, file: f, line: e.line})
		}
		v, err := expandValue(e.value, o.lookupEnv)
		if err != nil {
			return nil, fail("%v", err)
		}
		if len(e.rel) < 2 {
			if m, ok := regionconf.AsMap(v); ok && len(m) == 0 {
				continue // an empty [cache.<region>] table: the missing backend is reported below
			}
			return nil, fail("want a table of the region's settings (%s), not %s", regionconf.Listed, regionconf.Kind(v))
		}
		if err := rs.Set(e.rel[1:], v); err != nil {
			return nil, &Error{File: path, Line: e.line, Key: err.Key, Msg: err.Msg, Err: &dogpile.ArgError{Name: err.Key, Reason: err.Msg}}
		}
	}
	if len(f.Regions) == 0 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("no regions: a region is configured by keys under %q, such as %s.local.backend", o.prefix+".<region>.", o.prefix)}
	}
	for _, rc := range f.Regions {
		rs := regions[rc.Name]
		if err := rs.Done(dogpile.Backends()); err != nil {
			return nil, &Error{File: path, Line: rc.line, Key: err.Key, Msg: err.Msg, Err: &dogpile.ArgError{Name: err.Key, Reason: err.Msg}}
		}
		rc.Settings, rc.Arguments = Settings(rs.Settings), rs.Arguments
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
			if m, ok := regionconf.AsMap(v); ok {
				w.walkMap(key, m)
			}
			return
		}
		if segs[i] != p {
			// Another of the application's settings — unless it is the
			// prefix misspelt, which would silently drop every region.
			if _, ok := suggest.Closest(segs[i], []string{p}); ok {
				fixed := append(append(segs[:i:i], p), segs[i+1:]...)
				w.add(entry{key: key, line: w.lineOf(key), err: fmt.Sprintf("unknown key; did you mean %s? (regions are configured under %s.<region>.)",
					strings.Join(fixed, "."), strings.Join(w.prefix, "."))})
			}
			return
		}
	}
	rel := segs[len(w.prefix):]
	m, isMap := regionconf.AsMap(v)
	switch {
	case len(rel) == 0:
		if !isMap {
			w.add(entry{key: key, line: w.lineOf(key), err: fmt.Sprintf("want a table of regions (%s.<region>.backend = …), not %s", key, regionconf.Kind(v))})
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
		// Both occurrences have the key's first line (lineOf): the
		// second is reported at its own line, when the decoder gave it.
		first := w.entries[i]
		e.err = "set twice"
		if also, ok := w.doc.also[e.key]; ok && first.line > 0 {
			e.line = also
			e.err = fmt.Sprintf("set twice (also at line %d)", first.line)
		}
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
