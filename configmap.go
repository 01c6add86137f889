package dogpile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/internal/regionconf"
	"github.com/dogpile-go/dogpile/internal/suggest"
)

// ConfigureFromMap configures the region from a configuration map, as
// Python's dogpile.cache configure_from_config does, with its key names under
// prefix (such as "cache.local."). It takes the settings of package config's
// files, with the same meaning and the same errors:
//
//	<prefix>backend                   the backend's name or a Python dotted alias (required)
//	<prefix>expiration_time           seconds (a number or numeric string) or a Go duration ("10m"); none if absent or 0
//	<prefix>arguments.<name>          the backend argument <name>
//	<prefix>metrics                   true: count hits, misses, … (WithMetrics)
//	<prefix>shared_invalidation       true, or a refresh interval: SharedInvalidation
//	<prefix>key_mangler               "sha1": SHA1Mangler; "none": not even the backend's default mangler
//	<prefix>codec                     a registered codec's name ("default", "json"; "msgpack" with codec/msgpack imported)
//	<prefix>key_prefix                a prefix for every key the region stores
//	<prefix>signing_keys              a list of keys: WithSigning (the first signs)
//	<prefix>compress                  "s2" or "zstd" (with codec/compress imported), or "none": compress large values
//	<prefix>compress_min_bytes        the size from which values are compressed (min_compress_len is another
//	                                  name for it, also among the arguments, as Python's memcached backends take it)
//	<prefix>replace_existing_backend  true to replace the backend of a configured region
//
// Arguments may also be given as one nested map under <prefix>arguments, as
// YAML and TOML files give them; an argument given both ways is an error.
// Keys directly under prefix that are none of these are an error naming them
// (with the closest setting, so that a misspelt key is not silently
// ignored); keys with a further dot that are not a setting's (another
// region's, such as "<prefix>other.backend") are left alone. Unlike package
// config, values are taken as they are: ${VAR} is not expanded.
//
// metrics, key_mangler, codec, key_prefix and signing_keys are the region's
// own options: they apply to a region that is not yet configured, and replacing
// the backend of a configured region cannot change them.
//
// cfg is not modified. The extra options are applied after the map's
// settings: they add what a map cannot hold, such as WithWrap. On an error
// ConfigureFromMap returns nil and the region is left unconfigured.
func (r *Region) ConfigureFromMap(cfg map[string]any, prefix string, extra ...ConfigOption) (*Region, error) {
	rc := regionconf.NewRegion(prefix)
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		path := strings.Split(rest, ".")
		if len(path) > 1 && !regionconf.IsSetting(path[0]) {
			if _, meant := suggest.Closest(path[0], []string{"arguments"}); !meant {
				continue // another region's key, under a longer prefix
			}
		}
		if err := rc.Set(path, cfg[k]); err != nil {
			return nil, &ArgError{Name: err.Key, Reason: err.Msg}
		}
	}
	if err := rc.Done(Backends()); err != nil {
		if dotted := prefix + "."; prefix != "" && !strings.HasSuffix(prefix, ".") && hasKeyUnder(cfg, dotted) {
			// "cache.users" for "cache.users.": every key reads as
			// ".backend", ".expiration_time", … and none as a setting.
			return nil, &ArgError{Name: "prefix", Value: prefix, Reason: fmt.Sprintf("the settings are under %q: end the prefix with its dot", dotted)}
		}
		return nil, &ArgError{Name: err.Key, Reason: err.Msg}
	}
	return configureSettings(r, rc.Prefix, &rc.Settings, rc.Arguments, nil, extra)
}

func init() {
	// Package config applies its files' settings with this very function.
	regionconf.Configure = configureSettings
}

// configureSettings configures r from checked settings: the region's own
// options first (then after, which win), then the backend with the
// configuration options (then extra). prefix begins the keys in errors.
func configureSettings(r *Region, prefix string, s *regionconf.Settings, args map[string]any, after []RegionOption, extra []ConfigOption) (*Region, error) {
	var ropts []RegionOption
	if s.Metrics {
		ropts = append(ropts, WithMetrics())
	}
	switch s.KeyMangler {
	case "":
	case "sha1":
		ropts = append(ropts, WithKeyMangler(SHA1Mangler))
	case "none":
		ropts = append(ropts, WithKeyMangler(nil))
	default:
		return nil, &ArgError{Name: prefix + "key_mangler", Value: s.KeyMangler, Reason: `want "sha1" or "none"`}
	}
	var c codec.Codec
	if s.Codec != "" {
		var err error
		if c, err = regionconf.LookupCodec(s.Codec); err != nil {
			return nil, &ArgError{Name: prefix + "codec", Reason: strings.TrimPrefix(err.Error(), "codec: ")}
		}
	}
	compression, err := s.Compression()
	if err != nil {
		return nil, &ArgError{Name: prefix + "compress", Reason: strings.TrimPrefix(err.Error(), "codec: unknown codec: ")}
	}
	if compression != nil {
		if c == nil {
			c = r.codec // the region's own (WithCodec), compressed
		}
		if c == nil {
			c = codec.Default
		}
		if c, err = compression(c, s.CompressMinBytes); err != nil {
			return nil, &ArgError{Name: prefix + "compress", Reason: err.Error()}
		}
	}
	if c != nil {
		ropts = append(ropts, WithCodec(c))
	}
	if s.KeyPrefix != "" {
		ropts = append(ropts, WithKeyPrefix(s.KeyPrefix))
	}
	if len(s.SigningKeys) > 0 {
		keys := make([][]byte, len(s.SigningKeys))
		for i, k := range s.SigningKeys {
			keys[i] = []byte(k)
		}
		ropts = append(ropts, WithSigning(keys...))
	}
	ropts = append(ropts, after...)
	if len(ropts) > 0 {
		r.configMu.Lock()
		configured := r.state.Load() != nil
		if !configured {
			for _, o := range ropts {
				o(r)
			}
		}
		r.configMu.Unlock()
		if configured && s.ReplaceExistingBackend {
			// Live callers read these options without a lock: they are set
			// once, before the region is first configured.
			return nil, &ArgError{Name: prefix + "backend", Reason: "metrics, key_mangler, codec, key_prefix and signing_keys are set when a region is first configured; replacing its backend cannot change them"}
		}
	}

	copts := []ConfigOption{WithArguments(Args(args))}
	if s.Expiration > 0 {
		copts = append(copts, WithExpiration(s.Expiration))
	}
	if s.ReplaceExistingBackend {
		copts = append(copts, WithReplaceBackend())
	}
	if s.SharedInvalidation {
		copts = append(copts, WithInvalidationStrategy(SharedInvalidation(s.InvalidationRefresh)))
	}
	if _, err := r.Configure(s.Backend, append(copts, extra...)...); err != nil {
		return nil, err
	}
	return r, nil
}

// hasKeyUnder reports whether a key of cfg begins with prefix.
func hasKeyUnder(cfg map[string]any, prefix string) bool {
	for k := range cfg {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
