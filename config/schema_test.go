package config_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/config"
)

// signingKey is long enough for WithSigning.
const signingKey = "0123456789abcdef0123456789abcdef"

// schemaCases are one region's settings, as a configuration gives them
// (relative to cache.local.), valid and mistaken.
var schemaCases = []struct {
	name     string
	settings map[string]any
}{
	{"minimal", map[string]any{"backend": "memory"}},
	{"python alias", map[string]any{"backend": "dogpile.cache.memory_pickle", "expiration_time": 3600}},
	{"every setting", map[string]any{
		"backend": "memory_serialized", "expiration_time": "10m", "metrics": true, "shared_invalidation": "30s",
		"key_mangler": "sha1", "codec": "json", "signing_keys": []any{signingKey}, "replace_existing_backend": false,
		"arguments": map[string]any{"max_entries": 10},
	}},
	{"values as INI gives them", map[string]any{
		"backend": "memory_serialized", "expiration_time": "60", "metrics": "yes", "shared_invalidation": "0",
		"key_mangler": "SHA1", "codec": "JSON", "signing_keys": signingKey + ", " + strings.ToUpper(signingKey),
		"arguments": map[string]any{"max_entries": "10"},
	}},
	{"nulls are unset", map[string]any{"backend": "memory", "expiration_time": nil, "codec": nil, "metrics": nil}},
	{"zero expiration is none", map[string]any{"backend": "memory", "expiration_time": 0}},
	{"key prefix", map[string]any{"backend": "memory_serialized", "key_prefix": "app:"}},
	{"compression off", map[string]any{"backend": "memory_serialized", "compress": "none", "compress_min_bytes": 0}},
	{"python min_compress_len argument of 0", map[string]any{"backend": "memory_serialized", "arguments": map[string]any{"min_compress_len": 0}}},
	{"key mangling off", map[string]any{"backend": "memory_serialized", "key_mangler": "none"}},

	{"misspelt key", map[string]any{"backend": "memory", "expiraton_time": 600}},
	{"unknown key", map[string]any{"backend": "memory", "colour": "blue"}},
	{"misspelt arguments", map[string]any{"backend": "memory", "argumnets": map[string]any{"max_entries": 1}}},
	{"setting as a table", map[string]any{"backend": "memory", "metrics": map[string]any{"on": true}}},
	{"arguments not a table", map[string]any{"backend": "memory", "arguments": "max_entries=1"}},
	{"no backend", map[string]any{"expiration_time": 60}},
	{"backend not a name", map[string]any{"backend": 5}},
	{"unknown backend", map[string]any{"backend": "memroy"}},
	{"unregistered backend", map[string]any{"backend": "redis"}},
	{"bad duration", map[string]any{"backend": "memory", "expiration_time": "10 minutes"}},
	{"negative duration", map[string]any{"backend": "memory", "expiration_time": -5}},
	{"bad boolean", map[string]any{"backend": "memory", "metrics": "maybe"}},
	{"bad shared_invalidation", map[string]any{"backend": "memory", "shared_invalidation": "sometimes"}},
	{"bad key_mangler", map[string]any{"backend": "memory", "key_mangler": "md5"}},
	{"unknown codec", map[string]any{"backend": "memory", "codec": "cbor"}},
	{"codec not imported", map[string]any{"backend": "memory", "codec": "msgpack"}},
	{"codec not a name", map[string]any{"backend": "memory", "codec": 5}},
	{"compression not imported", map[string]any{"backend": "memory", "compress": "s2"}},
	{"python min_compress_len, compression not imported", map[string]any{"backend": "memory", "min_compress_len": 1024}},
	{"python min_compress_len argument, compression not imported", map[string]any{"backend": "memory", "arguments": map[string]any{"min_compress_len": 1024}}},
	{"unknown compression", map[string]any{"backend": "memory", "compress": "lz4"}},
	{"compress not a name", map[string]any{"backend": "memory", "compress": true}},
	{"bad compress_min_bytes", map[string]any{"backend": "memory", "compress_min_bytes": -1}},
	{"compress_min_bytes not whole", map[string]any{"backend": "memory", "compress_min_bytes": "1.5k"}},
	{"both names of the threshold", map[string]any{"backend": "memory", "compress_min_bytes": 10, "min_compress_len": 10}},
	{"key_prefix not a string", map[string]any{"backend": "memory", "key_prefix": 5}},
	{"signing_keys not a list", map[string]any{"backend": "memory", "signing_keys": 5}},
	{"signing key not a string", map[string]any{"backend": "memory", "signing_keys": []any{signingKey, 5}}},
	{"bad replace_existing_backend", map[string]any{"backend": "memory", "replace_existing_backend": "perhaps"}},
	{"bad backend argument", map[string]any{"backend": "memory", "arguments": map[string]any{"max_entries": "lots"}}},
	{"unknown backend argument", map[string]any{"backend": "memory", "arguments": map[string]any{"colour": "red"}}},
}

// TestOneSchema: Region.ConfigureFromMap and package config take the same
// settings: for every case, both configure a region that behaves the same,
// or both refuse it with the same error — the same key and the same reason.
// ConfigureFromMap is fed the flat keys of Python's configure_from_config
// and, again, with the arguments as one nested map; config reads the
// settings nested, as a YAML or TOML file gives them.
func TestOneSchema(t *testing.T) {
	const prefix = "cache.local."
	for _, c := range schemaCases {
		t.Run(c.name, func(t *testing.T) {
			flat, nestedArgs := map[string]any{}, map[string]any{}
			for k, v := range c.settings {
				nestedArgs[prefix+k] = v
				if args, ok := v.(map[string]any); ok && k == "arguments" {
					for a, av := range args {
						flat[prefix+"arguments."+a] = av
					}
					continue
				}
				flat[prefix+k] = v
			}

			var results []string
			for _, m := range []map[string]any{flat, nestedArgs} {
				r, err := dogpile.NewRegion(dogpile.WithName("local")).ConfigureFromMap(m, prefix)
				results = append(results, outcome(t, r, err))
			}
			f, err := config.FromMap("settings", map[string]any{"cache": map[string]any{"local": c.settings}})
			var r *dogpile.Region
			if err == nil {
				r, err = f.Regions[0].Open()
			}
			results = append(results, outcome(t, r, err))

			if results[0] != results[1] || results[0] != results[2] {
				t.Errorf("the readers disagree:\nConfigureFromMap, flat:             %s\nConfigureFromMap, nested arguments: %s\nconfig:                             %s",
					results[0], results[1], results[2])
			}
		})
	}
}

// outcome describes what a configuration produced: the error's key and
// reason, or how the region behaves.
func outcome(t *testing.T, r *dogpile.Region, err error) string {
	t.Helper()
	if err != nil {
		if r != nil {
			t.Errorf("an error (%v) and a region", err)
		}
		var ae *dogpile.ArgError
		switch {
		case errors.Is(err, dogpile.ErrUnknownBackend):
			var ce *config.Error
			if errors.As(err, &ce) {
				return "unknown backend: " + ce.Msg
			}
			return "unknown backend: " + strings.TrimPrefix(err.Error(), "dogpile: ")
		case errors.As(err, &ae):
			return fmt.Sprintf("invalid %s: %s", ae.Name, ae.Reason)
		}
		t.Fatalf("neither an ArgError nor an unknown backend: %v", err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dogpile.Get[string](ctx, r, "k"); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, k := range []string{"k", dogpile.SHA1Mangler("k"), "app:k", "dogpile:invalidated:local", dogpile.SHA1Mangler("dogpile:invalidated:local")} {
		b, ok, err := r.Backend().Get(ctx, k)
		if err != nil || !ok {
			continue
		}
		entry := "raw"
		if md, err := dogpile.InspectEntry(b); err == nil {
			entry = fmt.Sprintf("codec %s, signed %v", md.Codec, md.Signed)
		}
		stored = append(stored, fmt.Sprintf("%s (%s)", k, entry))
	}
	slices.Sort(stored)
	return fmt.Sprintf("backend %T, expiration %v, hits counted %d, stored %v",
		r.Backend(), r.Expiration(), r.Stats().Hits, stored)
}

// The settings the schema test covers are every setting there is.
func TestOneSchemaCoversEverySetting(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range schemaCases {
		for k := range maps.Keys(c.settings) {
			seen[k] = true
		}
	}
	_, err := config.FromMap("settings", map[string]any{"cache": map[string]any{"local": map[string]any{"backend": "memory", "nosuch": 1}}})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(ce.Msg, "a region's keys: ")
	for _, k := range strings.Split(strings.TrimSuffix(list, ")"), ", ") {
		if k = strings.TrimSuffix(k, ".<name>"); !seen[k] {
			t.Errorf("no case sets %s", k)
		}
	}
}
