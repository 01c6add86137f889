package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/dogpile-go/dogpile/internal/redact"
	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"go.yaml.in/yaml/v3"
)

// A document is a decoded file: its tree of values (keys may themselves be
// dotted, as INI and flat YAML keys are) and the line of each dotted key.
type document struct {
	tree  map[string]any
	lines map[string]int
	// also is the line of a key's second occurrence, for a key given both
	// flat and nested ("cache.r.backend" and cache: r: backend), which
	// the decoders accept and the walker reports as set twice.
	also map[string]int
}

// formatOf picks the format by the file's extension.
func formatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return "toml", nil
	case ".yaml", ".yml":
		return "yaml", nil
	case ".ini", ".cfg", ".conf":
		return "ini", nil
	}
	return "", fmt.Errorf("unknown configuration format %q: name the file .toml, .yaml, .yml or .ini (also .cfg, .conf)", filepath.Ext(path))
}

func decode(path, format string, data []byte, prefix string) (*document, error) {
	switch format {
	case "toml":
		return decodeTOML(path, data)
	case "yaml":
		return decodeYAML(path, data)
	case "ini":
		return decodeINI(path, data, prefix)
	}
	return nil, &Error{File: path, Msg: fmt.Sprintf("unknown configuration format %q (want toml, yaml or ini)", format)}
}

// --- TOML ---

func decodeTOML(path string, data []byte) (*document, error) {
	tree := map[string]any{}
	if err := toml.Unmarshal(data, &tree); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, &Error{File: path, Line: line, Key: strings.Join(de.Key(), "."), Msg: "TOML: " + strings.TrimPrefix(de.Error(), "toml: "), Err: err}
		}
		return nil, &Error{File: path, Msg: "TOML: " + strings.TrimPrefix(err.Error(), "toml: "), Err: err}
	}
	lines, also := tomlLines(data)
	return &document{tree: tree, lines: lines, also: also}, nil
}

// tomlLines finds the line of every key and table in a TOML document that
// toml.Unmarshal accepted.
func tomlLines(data []byte) (lines, also map[string]int) {
	lines, also = map[string]int{}, map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var line int
			table, line = keyParts(&p, nil, e.Key())
			record(lines, also, strings.Join(table, "."), line)
		case unstable.KeyValue:
			tomlKeyLines(&p, lines, also, table, e)
		}
	}
	return lines, also
}

// keyParts returns base followed by the parts of the key it walks (a
// dotted key's), in a new slice, and the line the key begins on.
func keyParts(p *unstable.Parser, base []string, it unstable.Iterator) (parts []string, line int) {
	parts = append([]string(nil), base...)
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

func tomlKeyLines(p *unstable.Parser, lines, also map[string]int, base []string, kv *unstable.Node) {
	parts, line := keyParts(p, base, kv.Key())
	record(lines, also, strings.Join(parts, "."), line)
	if v := kv.Value(); v.Kind == unstable.InlineTable {
		ch := v.Children()
		for ch.Next() {
			if ch.Node().Kind == unstable.KeyValue {
				tomlKeyLines(p, lines, also, parts, ch.Node())
			}
		}
	}
}

// record keeps the first line given for key in lines, and the first other
// line in also.
func record(lines, also map[string]int, key string, line int) {
	first, seen := lines[key]
	switch {
	case line <= 0:
	case !seen:
		lines[key] = line
	case line != first:
		if _, ok := also[key]; !ok {
			also[key] = line
		}
	}
}

// --- YAML ---

var (
	yamlLine     = regexp.MustCompile(`^yaml: line (\d+): `)
	yamlTypeLine = regexp.MustCompile(`^line (\d+): `)
)

func decodeYAML(path string, data []byte) (*document, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		return nil, &Error{File: path, Line: line, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
	}
	doc := &document{tree: map[string]any{}, lines: map[string]int{}, also: map[string]int{}}
	if root.Kind == 0 || len(root.Content) == 0 {
		return doc, nil // an empty file
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: top.Line, Msg: "YAML: want a mapping (key: value lines) at the top of the file"}
	}
	if err := top.Decode(&doc.tree); err != nil {
		e := &Error{File: path, Line: top.Line, Msg: "YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// "line 5: mapping key "backend" already defined at line 4":
			// the first problem, at its own line.
			msg := te.Errors[0]
			if m := yamlTypeLine.FindStringSubmatch(msg); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			}
			e.Msg = "YAML: " + msg
		}
		return nil, e
	}
	yamlLines(doc.lines, doc.also, "", top, 0)
	return doc, nil
}

// yamlLines records the line of every mapping key under n, following
// aliases and merge keys ("<<: *defaults") so that merged keys have the
// anchor's lines.
func yamlLines(lines, also map[string]int, prefix string, n *yaml.Node, depth int) {
	if depth > 32 {
		return // aliases nest no deeper in a sane configuration
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	// The mapping's own keys first, then the merged ones: record keeps
	// the first line it is given, and a key written in the mapping
	// overrides a merged one wherever the merge key stands.
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				merged = append(merged, v.Content...)
			} else {
				merged = append(merged, v)
			}
			continue
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		record(lines, also, key, k.Line)
		yamlLines(lines, also, key, v, depth+1)
	}
	for _, m := range merged {
		yamlLines(lines, also, prefix, m, depth+1)
	}
}

// --- INI ---

// decodeINI reads an INI file as Python's configparser does by default, so
// that Python applications' files carry over: "key = value" or "key: value"
// lines in [sections], comment lines starting with # or ;, indented lines
// continuing the previous value, keys lowercased, values taken as written
// (no quotes removed, no inline comments). It is strict where configparser
// is strict: a key set twice in a section, a section given twice, or a line
// that is none of these is an error naming its line.
//
// Keys in any section count, as Python's configure_from_config sees the
// keys of an application's section ([app:main]); in a section named "cache"
// or "cache.<…>" (the prefix) the keys are relative to the section's name,
// so [cache.local] with "backend = file" sets cache.local.backend.
// configparser's %(name)s interpolation is not supported (use ${VAR}); a
// value containing "%(" is an error saying so.
func decodeINI(path string, data []byte, prefix string) (*document, error) {
	doc := &document{tree: map[string]any{}, lines: map[string]int{}}
	type pending struct {
		key  string
		line int
		val  []string
	}
	var (
		section     string
		sectionLine = map[string]int{}
		cur         *pending
	)
	fail := func(line int, key, format string, a ...any) error {
		return &Error{File: path, Line: line, Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	flush := func() error {
		if cur == nil {
			return nil
		}
		v := strings.TrimRight(strings.Join(cur.val, "\n"), "\n")
		if strings.Contains(v, "%(") {
			return fail(cur.line, cur.key, "%%(name)s interpolation is not supported; use ${VAR} for environment variables, or %%%% for a literal %%")
		}
		v = strings.ReplaceAll(v, "%%", "%")
		doc.tree[cur.key] = v
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" {
			if cur != nil {
				cur.val = append(cur.val, "") // configparser keeps blank lines inside a continued value
			}
			continue
		}
		if trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if cur == nil {
				return nil, fail(n, "", "an indented line continues a value, but no key comes before it")
			}
			cur.val = append(cur.val, trimmed)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if trimmed[0] == '[' {
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				return nil, fail(n, "", "a section header is [name]; got %s", trimmed)
			}
			section = strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			if prev, dup := sectionLine[section]; dup {
				return nil, fail(n, "", "section [%s] is given twice (first at line %d)", section, prev)
			}
			sectionLine[section] = n
			continue
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			shown := trimmed
			if first, _, _ := strings.Cut(trimmed, " "); redact.IsSecret(first) {
				shown = first + " " + redact.Mask // the rest may be the secret
			}
			return nil, fail(n, "", "want key = value, a [section] or a comment; got %q", shown)
		}
		key := strings.ToLower(strings.TrimSpace(trimmed[:i]))
		if section == prefix || strings.HasPrefix(section, prefix+".") {
			key = section + "." + key
		}
		if prev, dup := doc.lines[key]; dup {
			return nil, fail(n, key, "set twice (first at line %d)", prev)
		}
		doc.lines[key] = n
		cur = &pending{key: key, line: n, val: []string{strings.TrimSpace(trimmed[i+1:])}}
	}
	if err := sc.Err(); err != nil {
		return nil, fail(n+1, "", "%v", err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return doc, nil
}
