package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile/config"
)

// fuzzKeys are the keys a region may have, and a misspelt one; the fuzzer
// picks among them and may also give its own.
var fuzzKeys = []string{"expiration_time", "metrics", "shared_invalidation", "key_mangler", "codec",
	"replace_existing_backend", "expiraton_time", "arguments", "key_prefix", "signing_keys"}

// fuzzBackends are backend names: registered, aliases, and not.
var fuzzBackends = []string{"memory", "memory_serialized", "null", "dogpile.cache.memory", "redis", "file", "", "nosuch"}

// FuzzFromMapFlatAndNested (RL3): configuration maps never make FromMap
// panic, its errors are *config.Error, and a region written with flat
// dotted keys (as INI files give them) reads exactly as the same region
// written nested (as TOML and YAML give them), as FromMap documents — for
// valid settings and mistakes alike.
func FuzzFromMapFlatAndNested(f *testing.F) {
	f.Add("local", uint8(0), uint8(0), "300", "max_entries", "10", uint8(4), "json")
	f.Add("r1", uint8(4), uint8(1), "true", "url", "redis://${HOST}:6379/0", uint8(2), "30s")
	f.Add("x", uint8(5), uint8(3), "sha1", "filename", "/tmp/${MISSING}", uint8(0), "10m")
	f.Add("", uint8(6), uint8(6), "1h", "", "", uint8(8), "")
	f.Add("a-b_c", uint8(7), uint8(2), "-5", "connection_kwargs", "x", uint8(7), "1")
	f.Fuzz(func(t *testing.T, region string, backendIdx, keyIdx uint8, keyVal, argName, argVal string, key2Idx uint8, key2Val string) {
		if strings.Contains(region, ".") || strings.Contains(argName, ".") {
			return // a dot makes a deeper key: not the same region in both forms
		}
		pick := func(i uint8, list []string, raw string) string {
			if int(i) < len(list) {
				return list[i]
			}
			return raw
		}
		backend := pick(backendIdx, fuzzBackends, region+"-backend")
		key1 := pick(keyIdx, fuzzKeys, "k"+keyVal)
		key2 := pick(key2Idx, fuzzKeys, "k"+key2Val)
		if strings.Contains(key1, ".") || strings.Contains(key2, ".") || key1 == key2 {
			return
		}

		prefix := "cache." + region + "."
		flat := map[string]any{prefix + "backend": backend, prefix + key1: keyVal, prefix + key2: key2Val}
		settings := map[string]any{"backend": backend, key1: keyVal, key2: key2Val}
		if argName != "" && key1 != "arguments" && key2 != "arguments" {
			flat[prefix+"arguments."+argName] = argVal
			settings["arguments"] = map[string]any{argName: argVal}
		}
		nested := map[string]any{"cache": map[string]any{region: settings}}
		envs := config.WithEnv(func(name string) (string, bool) { return "cache.internal", name == "HOST" })

		ff, ferr := config.FromMap("flat", flat, envs)
		nf, nerr := config.FromMap("nested", nested, envs)
		for _, err := range []error{ferr, nerr} {
			var ce *config.Error
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("FromMap error %v (%T) is not a *config.Error", err, err)
			}
		}
		if (ferr == nil) != (nerr == nil) {
			t.Fatalf("flat %v: %v\nnested %v: %v\nthe two forms disagree", flat, ferr, nested, nerr)
		}
		if ferr != nil {
			return
		}
		if len(ff.Regions) != 1 || len(nf.Regions) != 1 {
			t.Fatalf("flat gives %d regions, nested %d; want 1", len(ff.Regions), len(nf.Regions))
		}
		a, b := *ff.Regions[0], *nf.Regions[0]
		exported := func(rc config.RegionConfig) []any {
			return []any{rc.Name, rc.Prefix, rc.Settings, rc.Arguments}
		}
		if !reflect.DeepEqual(exported(a), exported(b)) {
			t.Fatalf("flat %v reads as %+v\nnested %v reads as %+v", flat, exported(a), nested, exported(b))
		}
	})
}
