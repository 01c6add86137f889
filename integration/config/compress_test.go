package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/config"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// A configuration's compress settings make the region compress large
// values, and Python dogpile.cache's min_compress_len carries over (as a
// setting, and among a memcached backend's arguments): the entry in the
// store is compressed and smaller, a value under the threshold is not, and
// both read back.
func TestConfigCompress(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.zstd]
backend = "file"
compress = "zstd"
compress_min_bytes = 256
arguments.filename = "@DIR@/zstd.db"

[cache.python]
backend = "file"
arguments.filename = "@DIR@/python.db"
arguments.min_compress_len = 256

[cache.off]
backend = "file"
compress = "none"
arguments.filename = "@DIR@/off.db"
`)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	ctx := context.Background()
	large := strings.Repeat(`{"id": 42, "name": "a user"}, `, 400) // 12 KB
	for name, want := range map[string]string{"zstd": "compress+default", "python": "compress+default", "off": "default"} {
		r := cfg.Regions[name]
		if got := r.Codec().Name(); got != want {
			t.Errorf("region %s: codec %q, want %q", name, got, want)
		}
		for _, v := range []string{large, "small"} {
			if err := r.Set(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			key, err := r.StorageKey("k")
			if err != nil {
				t.Fatal(err)
			}
			raw, ok, err := r.Backend().Get(ctx, key)
			if err != nil || !ok {
				t.Fatalf("region %s: raw entry: %v, %v", name, ok, err)
			}
			if compressed := len(raw) < len(v)/4; compressed != (v == large && name != "off") {
				t.Errorf("region %s: a %d-byte value is stored in %d bytes", name, len(v), len(raw))
			}
			got, ok, err := dogpile.Get[string](ctx, r, "k")
			if err != nil || !ok || got != v {
				t.Fatalf("region %s: Get = %.20q…, %v, %v", name, got, ok, err)
			}
		}
	}

	// ConfigureFromMap reads the same settings alike.
	r, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{
		"c.backend": "memory_serialized", "c.arguments.min_compress_len": "256",
	}, "c.")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Codec().Name(); got != "compress+default" {
		t.Errorf("ConfigureFromMap: codec %q", got)
	}
}
