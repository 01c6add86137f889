package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/dogpile-go/dogpile"
)

const regionHelp = `
The region comes from --config FILE (or $DOGPILE_CONFIG) and --region NAME
(needed when the file has more than one region). Without a configuration, the
embedded default is used: a file store in your user cache directory, or the
backend of --backend and --arg.
`

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("get", `Usage: dogpile get [flags] KEY

Prints the value stored under KEY, followed by a newline, if the region has a
usable one: present, not expired and not invalidated. Otherwise it prints
nothing and exits with status 3, so that scripts can tell "no value" (3) from
a failure (1).

Values written with the default codec (strings, numbers, and JSON for
structured values) are printed as stored; with the json or msgpack codec, as
JSON. On a terminal, a value's control characters (an ANSI escape sequence,
say) and bytes that are not UTF-8 are printed escaped (\x1b, \xff), so that
what is cached cannot drive the terminal; --raw prints the bytes, exactly,
without the newline.
`+regionHelp+`
Examples:
  dogpile get user:42
  dogpile get --config dogpile.toml --region sessions abc123
  dogpile get --stale --json user:42
  if v=$(dogpile get user:42); then echo "cached: $v"; elif [ $? -eq 3 ]; then echo "not cached"; fi
`)
	rf := addRegionFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON object: key, found, value, created, age_seconds, codec, size")
	stale := fs.Bool("stale", false, "also print a value that has expired or been soft-invalidated")
	raw := fs.Bool("raw", false, "print the value's bytes exactly, not escaped, without the newline")
	t, pos, err := rf.parseOpen(fs, args, stdout, 1, "one KEY")
	if err != nil {
		return err
	}
	defer t.region.Close()
	key := pos[0]

	var opts []dogpile.Option
	if *stale {
		opts = append(opts, dogpile.IgnoreExpiration())
	}
	v, md, ok, err := t.read(ctx, key, opts...)
	if err != nil {
		return err
	}
	if !ok {
		if *asJSON {
			writeJSON(stdout, map[string]any{"key": key, "found": false})
		}
		return &notFoundError{msg: fmt.Sprintf("key %q has no value in %s", key, t.describe()), quiet: *asJSON}
	}
	if *asJSON {
		out := map[string]any{
			"key": key, "found": true,
			"created": md.Created.UTC().Format(time.RFC3339Nano), "age_seconds": time.Since(md.Created).Seconds(),
			"codec": md.Codec, "size": md.Size,
		}
		switch x := v.(type) {
		case []byte:
			if utf8.Valid(x) {
				out["value"] = string(x)
			} else {
				out["value_base64"] = base64.StdEncoding.EncodeToString(x)
			}
		default:
			out["value"] = x
		}
		return writeJSON(stdout, out)
	}
	b, ok := v.([]byte)
	if !ok {
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if *raw {
		_, err := stdout.Write(b)
		return err
	}
	if terminal(stdout) {
		b = []byte(escapeValue(string(b)))
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// read gets key's value: the stored bytes with the default codec (which
// stores strings as they are and everything else as text or JSON), or the
// decoded value with the json and msgpack codecs.
func (t *target) read(ctx context.Context, key string, opts ...dogpile.Option) (any, dogpile.Metadata, bool, error) {
	if t.cfg.Codec == "" || t.cfg.Codec == "default" {
		return asAny(dogpile.GetWithMetadata[[]byte](ctx, t.region, key, opts...))
	}
	return asAny(dogpile.GetWithMetadata[any](ctx, t.region, key, opts...))
}

func asAny[T any](v T, md dogpile.Metadata, ok bool, err error) (any, dogpile.Metadata, bool, error) {
	return v, md, ok, err
}

func runSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("set", `Usage: dogpile set [flags] KEY VALUE
       dogpile set [flags] KEY -        (the value is read from standard input)

Stores VALUE under KEY, created now, in the dogpile entry format, with the
region's key prefix, key mangler, codec and signing. It prints nothing.

An entry records the Go type it was written as. VALUE is written as a
string; with --json-value, as the Go value encoding/json decodes it into:
map[string]any for an object, []any for an array, string, float64, bool, or
nil for null. Applications read it as that type (dogpile.Get[string] for a
plain VALUE) or untyped, with Get[any] or Get[[]byte]; read as any other
type — Get[User], Get[int], GetOrCreate[User] — it is a miss (GetOrCreate
creates the value again), logged as an entry written as another type. So
set is for string values, and for seeding values that applications read as
any; a value of an application's own type is for the application to write.
`+regionHelp+`
Examples:
  dogpile set greeting hello
  dogpile set --config dogpile.toml --region local report:2024 - < report.json
  dogpile set --json-value user:42 '{"name":"Ada","id":42}'
`)
	rf := addRegionFlags(fs)
	jsonValue := fs.Bool("json-value", false, "VALUE is JSON: store the value it describes (for regions with the json or msgpack codec)")
	pos, err := parseArgs(fs, args, stdout, 2, "KEY and VALUE, or KEY and - to read the value from standard input")
	if err != nil {
		return err
	}
	key, text := pos[0], pos[1]
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("set: read the value from standard input: %w", err)
		}
		text = string(b)
	}
	var value any = text
	if *jsonValue {
		if err := json.Unmarshal([]byte(text), &value); err != nil {
			return usageErrorf("set: --json-value: the value is not JSON: %v", err)
		}
	}
	t, err := rf.open()
	if err != nil {
		return err
	}
	defer t.region.Close()
	return t.region.Set(ctx, key, value)
}

func runDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("delete", `Usage: dogpile delete [flags] KEY...

Deletes each KEY from the region's store. A key that has no value is not an
error. It prints nothing.
`+regionHelp+`
Examples:
  dogpile delete user:42
  dogpile delete --config dogpile.toml --region sessions a b c
`)
	rf := addRegionFlags(fs)
	t, pos, err := rf.parseOpen(fs, args, stdout, -1, "at least one KEY")
	if err != nil {
		return err
	}
	defer t.region.Close()
	return t.region.DeleteMulti(ctx, pos)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
