package config

import (
	"reflect"
	"testing"
)

// TestFormatOf: the format is picked by the extension, in any case, with
// .cfg and .conf read as INI (the names Python applications give their
// configparser files).
func TestFormatOf(t *testing.T) {
	for path, want := range map[string]string{
		"a.toml": "toml", "a.TOML": "toml",
		"a.yaml": "yaml", "a.yml": "yaml", "a.Yml": "yaml",
		"a.ini": "ini", "a.cfg": "ini", "a.conf": "ini", "a.INI": "ini",
	} {
		if got, err := formatOf(path); got != want || err != nil {
			t.Errorf("formatOf(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}

// TestDecodeINIAsConfigparser: the INI reader reads what Python's
// configparser reads, as it reads it: keys lowercased, ":" as well as "=",
// tab-indented continuation lines with the blank lines inside them kept,
// %% as a literal %, a byte-order mark and CRLF line ends ignored; keys in a
// section named the prefix itself are relative to it, and a section whose
// name merely begins with the prefix is an application's section.
func TestDecodeINIAsConfigparser(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       map[string]any
	}{
		{"keys lowercased", "[cache.r]\nBackend = memory\n", map[string]any{"cache.r.backend": "memory"}},
		{"colon separator", "[cache.r]\nbackend: memory\n", map[string]any{"cache.r.backend": "memory"}},
		{"continuation, blank line kept", "[cache.r]\narguments.x = a\n\n\tb\n", map[string]any{"cache.r.arguments.x": "a\n\nb"}},
		{"literal percent", "[cache.r]\narguments.x = 100%%\n", map[string]any{"cache.r.arguments.x": "100%"}},
		{"byte-order mark", "\ufeff[cache.r]\nbackend = memory\n", map[string]any{"cache.r.backend": "memory"}},
		{"CRLF", "[cache.r]\r\nbackend = memory\r\n", map[string]any{"cache.r.backend": "memory"}},
		{"section named the prefix", "[cache]\nr.backend = memory\n", map[string]any{"cache.r.backend": "memory"}},
		{"section beginning with the prefix's letters", "[cacheapp]\ncache.r.backend = memory\n", map[string]any{"cache.r.backend": "memory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := decodeINI("c.ini", []byte(c.text), "cache")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(doc.tree, c.want) {
				t.Errorf("tree %#v; want %#v", doc.tree, c.want)
			}
		})
	}
}

// TestDecodeINIMistakes: the lines configparser refuses are refused, with
// the line and what is wrong.
func TestDecodeINIMistakes(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"section given twice", "[cache.r]\nbackend = memory\n[cache.r]\n", "c.ini:3: section [cache.r] is given twice (first at line 1)"},
		{"empty section name", "[]\n", "c.ini:1: a section header is [name]; got []"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeINI("c.ini", []byte(c.text), "cache")
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v; want %s", err, c.want)
			}
		})
	}
}
