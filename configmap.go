package dogpile

import (
	"fmt"
	"sort"
	"strings"
)

// ConfigureFromMap configures the region from a flat configuration map, as
// the seed's configure_from_config does, with the seed's key names under
// prefix (such as "cache.local."):
//
//	<prefix>backend                   the backend's name or one of the seed's dotted aliases (required)
//	<prefix>expiration_time           seconds (a number or numeric string) or a Go duration ("10m"); none if absent
//	<prefix>arguments.<name>          the backend argument <name>
//	<prefix>replace_existing_backend  true to replace the backend of a configured region
//
// Arguments may also be given as one nested map under <prefix>arguments, as
// YAML and TOML files give them; a flat key wins over the same name in it.
// Keys directly under prefix that are none of these are an error naming them,
// so that a misspelt key is not silently ignored; keys with a further dot
// (another region's, such as "<prefix>other.backend") are left alone.
// cfg is not modified. The extra options are applied after the map's
// settings: they add what a map cannot hold, such as WithInvalidationStrategy
// or WithWrap.
func (r *Region) ConfigureFromMap(cfg map[string]any, prefix string, extra ...ConfigOption) (*Region, error) {
	var (
		backend string
		opts    []ConfigOption
		args    = Args{}
		flat    = Args{}
	)
	var unknown []string
	for k, v := range cfg {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		switch rest {
		case "backend":
			s, ok := v.(string)
			if !ok || s == "" {
				return r, &ArgError{Name: k, Value: v, Reason: "want the name of a backend, such as \"memory\" or \"redis\""}
			}
			backend = s
		case "expiration_time":
			if v == nil {
				continue
			}
			d, err := ParseDuration(v)
			if err != nil {
				return r, &ArgError{Name: k, Value: v, Reason: err.Error()}
			}
			opts = append(opts, WithExpiration(d))
		case "replace_existing_backend":
			replace, err := Args{k: v}.Bool(k, false)
			if err != nil {
				return r, err
			}
			if replace {
				opts = append(opts, WithReplaceBackend())
			}
		case "arguments":
			nested, err := Args{k: v}.Map(k)
			if err != nil {
				return r, err
			}
			for name, a := range nested {
				args[name] = a // flat keys, applied below, win
			}
		default:
			if name, ok := strings.CutPrefix(rest, "arguments."); ok {
				flat[name] = v
			} else if !strings.Contains(rest, ".") {
				unknown = append(unknown, k)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return r, &ArgError{Name: unknown[0], Value: cfg[unknown[0]], Reason: fmt.Sprintf(
			"unknown configuration key (known under %q: backend, expiration_time, arguments.<name>, replace_existing_backend)", prefix)}
	}
	if backend == "" {
		return r, &ArgError{Name: prefix + "backend", Reason: "missing: the configuration must name the region's backend"}
	}
	for name, a := range flat {
		args[name] = a
	}
	opts = append(opts, WithArguments(args))
	return r.Configure(backend, append(opts, extra...)...)
}
