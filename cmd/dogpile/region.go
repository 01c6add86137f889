package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/config"

	// The backends and codecs a configuration file may name.
	_ "github.com/dogpile-go/dogpile/backends/memcached"
	_ "github.com/dogpile-go/dogpile/backends/redis"
	_ "github.com/dogpile-go/dogpile/codec/compress"
	_ "github.com/dogpile-go/dogpile/codec/msgpack"
)

// regionFlags choose the region a command works on.
type regionFlags struct {
	config  string
	region  string
	backend string
	args    argList
}

type argList []string

func (a *argList) String() string     { return strings.Join(*a, ",") }
func (a *argList) Set(s string) error { *a = append(*a, s); return nil }

// configEnv names the configuration file when --config is not given.
const configEnv = "DOGPILE_CONFIG"

func addRegionFlags(fs *flag.FlagSet) *regionFlags {
	c := &regionFlags{}
	fs.StringVar(&c.config, "config", "", "configuration `file` (.toml, .yaml or .ini); default $"+configEnv)
	fs.StringVar(&c.region, "region", "", "the region `name` in the configuration (default: its only region)")
	fs.StringVar(&c.backend, "backend", "", "without a configuration: the backend `name` (default: the embedded file store)")
	fs.Var(&c.args, "arg", "without a configuration: a backend argument `name=value` (repeatable)")
	return c
}

// choice is the region a command works on, before it is opened.
type choice struct {
	cfg    *config.RegionConfig
	source string // the configuration file, or a description of the default
	adHoc  bool   // no configuration file: the region of --backend and --arg
}

// target is the region a command works on, opened.
type target struct {
	choice
	region *dogpile.Region
}

// describe says which region this is, for headers and messages.
func (t *target) describe() string {
	return fmt.Sprintf("region %q (%s backend, from %s)", t.cfg.Name, t.cfg.Backend, t.source)
}

// choose finds the settings of the chosen region, without opening it.
func (c *regionFlags) choose() (choice, error) {
	rc, source, err := c.settings()
	return choice{cfg: rc, source: source, adHoc: err == nil && c.config == "" && os.Getenv(configEnv) == ""}, err
}

func (c *regionFlags) settings() (*config.RegionConfig, string, error) {
	path, named := c.config, c.config
	if path == "" {
		// A path the user did not type on this command line: its messages
		// say where it came from.
		path = os.Getenv(configEnv)
		named = fmt.Sprintf("%s (from $%s)", path, configEnv)
	}
	if path != "" {
		if c.backend != "" || len(c.args) > 0 {
			return nil, "", usageErrorf("--backend and --arg are for use without a configuration file; %s is given", named)
		}
		f, err := config.Read(path)
		if err != nil {
			return nil, "", fileError(err, named)
		}
		if c.region != "" {
			rc, err := f.Region(c.region)
			return rc, path, fileError(err, named)
		}
		if len(f.Regions) != 1 {
			return nil, "", usageErrorf("%s has %d regions (%s): choose one with --region", named, len(f.Regions), strings.Join(f.Names(), ", "))
		}
		return f.Regions[0], path, nil
	}
	if c.region != "" {
		return nil, "", usageErrorf("--region %s: which configuration? Give --config FILE (or set $%s)", c.region, configEnv)
	}
	return c.adHoc()
}

// fileError names the configuration file as named in an error about the
// file as a whole (missing, unreadable, without the region asked for); an
// error at a line of it keeps the file:line form of a compiler's, by which
// editors find the line.
func fileError(err error, named string) error {
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Line > 0 || ce.Key != "" {
		return err
	}
	e := *ce
	e.File = named
	return &e
}

// adHoc is the region without a configuration file: the embedded file
// store, or the backend of --backend and --arg. It keeps its invalidations in
// the store (shared_invalidation), so that "dogpile invalidate" applies to
// the next command.
func (c *regionFlags) adHoc() (*config.RegionConfig, string, error) {
	args := map[string]any{}
	for _, kv := range c.args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, "", usageErrorf("--arg %q: want name=value", kv)
		}
		args[k] = v
	}
	backend, source := c.backend, "the --backend and --arg flags"
	if backend == "" {
		backend, source = "file", "the embedded default"
	}
	if (backend == "file" || backend == "dbm" || backend == "dogpile.cache.dbm") && args["filename"] == nil {
		path, err := file.DefaultPath()
		if err != nil {
			return nil, "", err
		}
		args["filename"] = path
	}
	f, err := config.FromMap(source, map[string]any{"cache": map[string]any{"default": map[string]any{
		"backend":             backend,
		"arguments":           args,
		"shared_invalidation": true,
	}}})
	if err != nil {
		return nil, "", flagError(err)
	}
	return f.Regions[0], source, nil
}

// open returns the chosen region, opened.
func (c *regionFlags) open(opts ...dogpile.RegionOption) (*target, error) {
	ch, err := c.choose()
	if err != nil {
		return nil, err
	}
	return ch.open(opts...)
}

// parseOpen parses a region command's arguments (as parseArgs) and opens
// the chosen region; the caller closes it.
func (c *regionFlags) parseOpen(fs *flag.FlagSet, args []string, stdout io.Writer, n int, want string) (*target, []string, error) {
	pos, err := parseArgs(fs, args, stdout, n, want)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.open()
	return t, pos, err
}

// open makes the region; opts are added to the configuration's.
func (ch choice) open(opts ...dogpile.RegionOption) (*target, error) {
	r, err := ch.cfg.Open(opts...)
	if err != nil {
		if ch.adHoc {
			err = flagError(err)
		}
		return nil, unusable(err)
	}
	return &target{choice: ch, region: r}, nil
}

// settingsError is a backend that could not be made from the region's
// settings (exit 2, as a mistake in them). Making a backend sends no request
// — the Redis and Memcached backends connect with their first — so what
// fails then is what the settings name: a cache file that is a directory, or
// not a cache file. An unreachable server fails the command's request
// (exit 1).
type settingsError struct{ err error }

func (e *settingsError) Error() string { return e.err.Error() }
func (e *settingsError) Unwrap() error { return e.err }

// unusable marks an error from making the region as a settingsError, unless
// it is a mistake in them already or says it is the backend's own
// (dogpile.ErrBackend).
func unusable(err error) error {
	var ce *config.Error
	if isUsage(err) || errors.As(err, &ce) || errors.Is(err, dogpile.ErrBackend) {
		return err
	}
	return &settingsError{err}
}

// flagError words a mistake in the ad hoc region's settings by the flags
// that gave them (--backend, --arg name) rather than by configuration keys.
func flagError(err error) error {
	var ce *config.Error
	if !errors.As(err, &ce) {
		return err
	}
	key := strings.TrimPrefix(ce.Key, "cache.default.")
	switch {
	case key == "backend":
		key = "--backend"
	case strings.HasPrefix(key, "arguments."):
		key = "--arg " + strings.TrimPrefix(key, "arguments.")
	}
	msg := ce.Msg
	if msg == "" && ce.Err != nil {
		msg = ce.Err.Error()
	}
	msg = strings.ReplaceAll(msg, "cache.default.arguments.", "")
	return &usageError{key + ": " + msg}
}
