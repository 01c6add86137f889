package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/redact"
	"github.com/dogpile-go/dogpile/internal/regionconf"
	"github.com/dogpile-go/dogpile/internal/suggest"
)

// DefaultPrefix is the first part of every region's keys: cache.<region>.….
const DefaultPrefix = "cache"

// Option changes how a configuration is read.
type Option func(*options)

type options struct {
	prefix     string
	lookupEnv  func(string) (string, bool)
	regionOpts []dogpile.RegionOption
}

// WithPrefix sets the first part of the region keys (DefaultPrefix,
// "cache", otherwise): with WithPrefix("myapp.cache") a region is configured
// by myapp.cache.<region>.backend and so on. Keys outside the prefix are
// left alone: they are the application's other settings.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = strings.Trim(prefix, ".") }
}

// WithEnv sets where ${VAR} finds its values (os.LookupEnv otherwise).
func WithEnv(lookup func(name string) (value string, ok bool)) Option {
	return func(o *options) { o.lookupEnv = lookup }
}

// WithRegionOptions adds options to every region the configuration makes
// (a logger, a codec, an async runner, …). They apply after the options the
// file sets, so they win.
func WithRegionOptions(opts ...dogpile.RegionOption) Option {
	return func(o *options) { o.regionOpts = append(o.regionOpts, opts...) }
}

// File is a configuration file that was read and checked: the settings of
// each region, before any backend is made. Open makes the regions.
type File struct {
	// Path is the file's path as given (or the source name given to
	// FromMap), used in errors.
	Path string
	// Format is "toml", "yaml", "ini" or "map".
	Format string
	// Regions are the regions the file configures, in the order the file
	// first mentions them.
	Regions []*RegionConfig

	lines      map[string]int
	regionOpts []dogpile.RegionOption
}

// Settings are a region's settings, as a configuration file gives them
// under cache.<region>. (see the package documentation for the keys).
// Region.ConfigureFromMap in package dogpile takes the same settings from a
// map, with the same meaning.
type Settings struct {
	// Backend is the backend's registered name or one of Python
	// dogpile.cache's dotted names (backend).
	Backend string
	// Expiration is expiration_time; 0 means none.
	Expiration time.Duration
	// Metrics is metrics = true: the region is made WithMetrics.
	Metrics bool
	// SharedInvalidation reports whether shared_invalidation is set: the
	// region's invalidations are kept in its backend, for every process
	// (dogpile.SharedInvalidation), re-read every InvalidationRefresh
	// (0: with every value).
	SharedInvalidation  bool
	InvalidationRefresh time.Duration
	// KeyMangler is "sha1" (dogpile.SHA1Mangler), "none" for none at all,
	// or "" for the backend's default (the Memcached backend's hashes the
	// keys Memcached would refuse; other backends have none).
	KeyMangler string
	// Codec is the name of a registered codec ("default", "json",
	// "msgpack" once codec/msgpack is imported), or "" for the default.
	Codec string
	// KeyPrefix begins every key the region stores (key_prefix).
	KeyPrefix string
	// SigningKeys are the keys the region signs entries with (the first)
	// and accepts entries signed with (all): dogpile.WithSigning.
	SigningKeys []string
	// Compress is the compression of large values (compress): "s2" or
	// "zstd", registered by importing package codec/compress, or "none";
	// "" is none too, unless CompressMinBytes is set, which asks for S2.
	Compress string
	// CompressMinBytes is the size of an encoding from which it is
	// compressed (compress_min_bytes, or min_compress_len as Python
	// dogpile.cache's memcached backends call it); 0 is the compression's
	// default.
	CompressMinBytes int
	// ReplaceExistingBackend is replace_existing_backend, Python
	// dogpile.cache's option for reconfiguring a live region; the regions
	// made here are new, so it changes nothing for them.
	ReplaceExistingBackend bool
}

// RegionConfig is one region's settings, with environment variables
// expanded. A program may adjust a copy before opening it.
type RegionConfig struct {
	// Name is the region's name: the <region> in cache.<region>.backend.
	// The region is made WithName(Name), which shared invalidation keys
	// its record by.
	Name string
	// Prefix is the region's key prefix, such as "cache.local.".
	Prefix string
	Settings
	// Arguments are the backend's arguments.
	Arguments dogpile.Args

	file *File
	line int
}

// Config is every region of a configuration file, configured (see Load).
type Config struct {
	// File is the configuration the regions were made from.
	File *File
	// Regions are the regions by name.
	Regions map[string]*dogpile.Region
}

// Load reads the configuration file at path — TOML, YAML or INI, by its
// extension — and returns every region it defines, configured. On an error
// no region is left open. A mistake in the file is an *Error naming the
// file, line and key; a backend that fails for another reason (a cache file
// that cannot be created) is returned wrapped, naming the region.
func Load(path string, opts ...Option) (*Config, error) {
	f, err := Read(path, opts...)
	if err != nil {
		return nil, err
	}
	return f.Open()
}

// Read reads and checks the configuration file at path without making any
// backend; see Load.
func Read(path string, opts ...Option) (*File, error) {
	format, err := formatOf(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &Error{File: path, Msg: "no such configuration file", Err: err}
		case errors.Is(err, fs.ErrPermission):
			return nil, &Error{File: path, Msg: "the configuration file cannot be read: permission denied", Err: err}
		}
		return nil, &Error{File: path, Msg: "cannot read the configuration file: " + err.Error(), Err: err}
	}
	return Parse(path, format, data, opts...)
}

// Parse is Read for a configuration already in memory: format is "toml",
// "yaml" or "ini", and path names it in errors.
func Parse(path, format string, data []byte, opts ...Option) (*File, error) {
	o := collect(opts)
	doc, err := decode(path, format, data, o.prefix)
	if err != nil {
		return nil, err
	}
	return build(path, format, doc, o)
}

// FromMap checks a configuration given as a map, nested as a decoded YAML or
// TOML file is, or flat with dotted keys as an INI file is (both may mix):
//
//	{"cache": {"local": {"backend": "file", "arguments": {"filename": "/tmp/c.db"}}}}
//	{"cache.local.backend": "file", "cache.local.arguments.filename": "/tmp/c.db"}
//
// source names the configuration in errors.
func FromMap(source string, m map[string]any, opts ...Option) (*File, error) {
	return build(source, "map", &document{tree: m, lines: map[string]int{}}, collect(opts))
}

func collect(opts []Option) options {
	o := options{prefix: DefaultPrefix, lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Names returns the names of the file's regions, sorted.
func (f *File) Names() []string {
	names := make([]string, len(f.Regions))
	for i, r := range f.Regions {
		names[i] = r.Name
	}
	sort.Strings(names)
	return names
}

// Region returns the settings of the region called name; an error lists the
// regions there are.
func (f *File) Region(name string) (*RegionConfig, error) {
	for _, r := range f.Regions {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, &Error{File: f.Path, Msg: fmt.Sprintf("no region %q (regions: %s)", name, strings.Join(f.Names(), ", "))}
}

// Only returns the file's region if it has exactly one; otherwise an error
// lists them, for a command that needs to be told which.
func (f *File) Only() (*RegionConfig, error) {
	if len(f.Regions) == 1 {
		return f.Regions[0], nil
	}
	return nil, &Error{File: f.Path, Msg: fmt.Sprintf("%d regions (%s): say which one", len(f.Regions), strings.Join(f.Names(), ", "))}
}

// Open makes every region of the file. On an error the regions already made
// are closed.
func (f *File) Open() (*Config, error) {
	c := &Config{File: f, Regions: make(map[string]*dogpile.Region, len(f.Regions))}
	for _, rc := range f.Regions {
		r, err := rc.Open()
		if err != nil {
			c.Close() //nolint:errcheck // the open error says more
			return nil, err
		}
		c.Regions[rc.Name] = r
	}
	return c, nil
}

// Region returns the region called name; an error lists the regions there
// are.
func (c *Config) Region(name string) (*dogpile.Region, error) {
	if r, ok := c.Regions[name]; ok {
		return r, nil
	}
	return nil, &Error{File: c.File.Path, Msg: fmt.Sprintf("no region %q (regions: %s)", name, strings.Join(c.File.Names(), ", "))}
}

// Close closes every region's backend.
func (c *Config) Close() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Regions)) {
		if err := c.Regions[name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close region %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// configure applies settings to a region with the code that
// dogpile.Region.ConfigureFromMap applies them with.
var configure = regionconf.Configure.(func(*dogpile.Region, string, *regionconf.Settings, map[string]any,
	[]dogpile.RegionOption, []dogpile.ConfigOption) (*dogpile.Region, error))

// Open makes the region: dogpile.NewRegion with the file's settings and
// opts (which win), configured as dogpile.Region.ConfigureFromMap configures
// a region. A mistake in the settings (an unknown backend, a bad argument)
// is an *Error naming the key and its line.
func (rc *RegionConfig) Open(opts ...dogpile.RegionOption) (*dogpile.Region, error) {
	var after []dogpile.RegionOption
	if rc.file != nil {
		after = append(after, rc.file.regionOpts...)
	}
	s := regionconf.Settings(rc.Settings)
	r, err := configure(dogpile.NewRegion(dogpile.WithName(rc.Name)), rc.Prefix, &s, rc.Arguments, append(after, opts...), nil)
	if err != nil {
		return nil, rc.explain(err)
	}
	return r, nil
}

// explain turns an error from configuring the region into one that names the
// file, line and key, when it is a mistake in the settings.
func (rc *RegionConfig) explain(err error) error {
	path := "configuration"
	if rc.file != nil {
		path = rc.file.Path
	}
	if errors.Is(err, dogpile.ErrUnknownBackend) {
		key := rc.Prefix + "backend"
		return &Error{File: path, Line: rc.lineOf(key), Key: key, Err: err, Msg: strings.TrimPrefix(err.Error(), "dogpile: ")}
	}
	var ae *dogpile.ArgError
	if errors.As(err, &ae) {
		key := ae.Name
		reason := ae.Reason
		if ae.Err != nil {
			reason += ": " + ae.Err.Error()
		}
		reason = redact.URLs(reason)
		if setting, ok := regionSetting(ae.Name); ok {
			// The region's own check of a setting (its key prefix, its
			// signing keys), not a backend argument of that name.
			key = rc.Prefix + setting
			if setting != ae.Name {
				reason = ae.Name + ": " + reason // which signing key
			}
		} else if !strings.HasPrefix(key, rc.Prefix) {
			key = rc.Prefix + "arguments." + ae.Name
		}
		msg := reason
		if ae.Value != nil && len(ae.Known) == 0 {
			msg = fmt.Sprintf("%s: %s", quote(key, ae.Value), reason)
		}
		if len(ae.Known) > 0 {
			msg = fmt.Sprintf("the %s backend has no argument %q (its arguments: %s)", rc.Backend, ae.Name, strings.Join(ae.Known, ", "))
			if s, ok := suggest.Closest(ae.Name, ae.Known); ok {
				msg = fmt.Sprintf("the %s backend has no argument %q; did you mean %s? (its arguments: %s)",
					rc.Backend, ae.Name, rc.Prefix+"arguments."+s, strings.Join(ae.Known, ", "))
			}
		}
		return &Error{File: path, Line: rc.lineOf(key), Key: key, Msg: msg, Err: err}
	}
	return &openError{path: path, region: rc.Name, backend: rc.Backend, err: err}
}

// regionSetting returns the setting an *ArgError of the region's own checks
// is about: dogpile names these errors by the setting ("key_prefix") or by
// the signing key ("signing key 0"), without the region's prefix.
func regionSetting(name string) (string, bool) {
	switch {
	case name == "key_prefix":
		return name, true
	case name == "signing keys", strings.HasPrefix(name, "signing key "):
		return "signing_keys", true
	}
	return "", false
}

// openError is a backend that failed for a reason other than its settings
// (a cache file that cannot be created, a server that refuses): the file is
// right, the world is not.
type openError struct {
	path, region, backend string
	err                   error
}

func (e *openError) Error() string {
	return redact.URLs(fmt.Sprintf("%s: region %q (%s backend): %v", e.path, e.region, e.backend, e.err))
}

func (e *openError) Unwrap() error { return e.err }

// lineOf returns the line of key, or of the nearest enclosing key or table
// that has one (the region's first line at worst).
func (rc *RegionConfig) lineOf(key string) int {
	if rc.file != nil {
		for k := key; k != ""; {
			if l, ok := rc.file.lines[k]; ok {
				return l
			}
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
	}
	return rc.line
}
