package config_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/config"
	"github.com/dogpile-go/dogpile/internal/testutil"
	_ "modernc.org/sqlite" // the held.db of another process
)

func env(vars map[string]string) config.Option {
	return config.WithEnv(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
}

// The same two regions in the three formats, each written as its users
// write it: TOML tables and dotted keys, YAML nesting, INI flat keys in an
// application's section (the seed's Paste/Pyramid style) and in [cache.*]
// sections.
var sameConfig = map[string]string{
	"dogpile.toml": `
[server]
port = 8080 # the application's own settings are left alone

[cache.local]
backend = "file"
expiration_time = "10m"
metrics = true
shared_invalidation = 0
arguments.filename = "@DIR@/${CACHE_FILE}"
arguments.max_size = "${CACHE_SIZE:-64MiB}"

[cache.sessions]
backend = "dogpile.cache.memory"
expiration_time = 3600
key_mangler = "sha1"
codec = "json"
shared_invalidation = "30s"
`,
	"dogpile.yaml": `
server:
  port: 8080
cache:
  local:
    backend: file
    expiration_time: 10m
    metrics: true
    shared_invalidation: 0
    arguments:
      filename: "@DIR@/${CACHE_FILE}"
      max_size: ${CACHE_SIZE:-64MiB}
  sessions:
    backend: dogpile.cache.memory
    expiration_time: 3600
    key_mangler: sha1
    codec: json
    shared_invalidation: 30s
`,
	"dogpile.ini": `
[app:main]
port = 8080
cache.local.backend = file
cache.local.expiration_time = 10m
cache.local.metrics = true
cache.local.shared_invalidation = 0
cache.local.arguments.filename = @DIR@/${CACHE_FILE}
cache.local.arguments.max_size = ${CACHE_SIZE:-64MiB}

; the same keys, relative to a [cache.<region>] section
[cache.sessions]
backend = dogpile.cache.memory
expiration_time = 3600
key_mangler = sha1
codec = json
shared_invalidation = 30s
`,
}

func TestCL1SameRegionsFromTOMLYAMLAndINI(t *testing.T) {
	for name, text := range sameConfig {
		t.Run(filepath.Ext(name)[1:], func(t *testing.T) {
			path := testutil.WriteFile(t, name, text)
			dir := filepath.Dir(path)
			f, err := config.Read(path, env(map[string]string{"CACHE_FILE": "local.db"}))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Names(); !reflect.DeepEqual(got, []string{"local", "sessions"}) {
				t.Fatalf("regions %v", got)
			}
			local, _ := f.Region("local")
			sessions, _ := f.Region("sessions")
			checkRegion(t, local, config.RegionConfig{Name: "local", Prefix: "cache.local.", Settings: config.Settings{
				Backend: "file", Expiration: 10 * time.Minute, Metrics: true, SharedInvalidation: true,
			}})
			checkRegion(t, sessions, config.RegionConfig{Name: "sessions", Prefix: "cache.sessions.", Settings: config.Settings{
				Backend: "dogpile.cache.memory", Expiration: time.Hour,
				KeyMangler: "sha1", Codec: "json", SharedInvalidation: true, InvalidationRefresh: 30 * time.Second,
			}})
			// The file gives strings or numbers as its format does; the
			// backend's accessors take either.
			if fn, _ := local.Arguments.String("filename", ""); fn != filepath.Join(dir, "local.db") {
				t.Errorf("filename %q", fn)
			}
			if s, _ := local.Arguments.String("max_size", ""); s != "64MiB" {
				t.Errorf("max_size %#v (the default of ${CACHE_SIZE:-64MiB})", local.Arguments["max_size"])
			}

			cfg, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer cfg.Close()
			ctx := context.Background()
			r, err := cfg.Region("local")
			if err != nil {
				t.Fatal(err)
			}
			if r.Name() != "local" || r.Expiration() != 10*time.Minute {
				t.Errorf("region %q expiration %v", r.Name(), r.Expiration())
			}
			if err := r.Set(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := dogpile.Get[string](ctx, r, "k"); err != nil || !ok || v != "v" {
				t.Fatalf("get: %q %v %v", v, ok, err)
			}
			if st := r.Stats(); st.Hits != 1 {
				t.Errorf("metrics = true: stats %+v, want one hit", st)
			}
			if _, err := os.Stat(filepath.Join(dir, "local.db")); err != nil {
				t.Errorf("the file backend did not use the expanded filename: %v", err)
			}
		})
	}
}

func checkRegion(t *testing.T, got *config.RegionConfig, want config.RegionConfig) {
	t.Helper()
	g := *got
	g.Arguments = nil
	want.Arguments = nil
	// Unexported fields (the file, the line) are not part of the comparison.
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Name", g.Name, want.Name}, {"Prefix", g.Prefix, want.Prefix}, {"Backend", g.Backend, want.Backend},
		{"Expiration", g.Expiration, want.Expiration}, {"Metrics", g.Metrics, want.Metrics},
		{"SharedInvalidation", g.SharedInvalidation, want.SharedInvalidation},
		{"InvalidationRefresh", g.InvalidationRefresh, want.InvalidationRefresh},
		{"KeyMangler", g.KeyMangler, want.KeyMangler}, {"Codec", g.Codec, want.Codec},
	} {
		if f.got != f.want {
			t.Errorf("region %s: %s = %v, want %v", want.Name, f.name, f.got, f.want)
		}
	}
}

// The settings beyond the seed's keys take effect: shared_invalidation puts
// the invalidation in the backend, where another process (here another
// Load of the same file) sees it; key_mangler = sha1 stores hashed keys.
func TestCL1SharedInvalidationAndKeyMangler(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.c]
backend = "file"
shared_invalidation = true
key_mangler = "sha1"
arguments = { filename = "@DIR@/c.db" }
`)
	ctx := context.Background()
	a, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ra, rb := a.Regions["c"], b.Regions["c"]
	if err := ra.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ra.Backend().Get(ctx, dogpile.SHA1Mangler("k")); !ok {
		t.Error("key_mangler = sha1: no entry under the SHA-1 of the key")
	}
	if _, ok, _ := dogpile.Get[string](ctx, rb, "k"); !ok {
		t.Fatal("the other region does not see the value")
	}
	if err := ra.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dogpile.Get[string](ctx, rb, "k"); ok {
		t.Error("shared_invalidation: a hard invalidation in one process is not seen by another")
	}
}

func TestCL1EnvironmentExpansion(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.yaml", `
cache:
  r:
    backend: memory
    expiration_time: ${TTL}
    arguments:
      a: "${A}"
      b: "x-${B:-fallback}-y"
      c: "$${NOT_EXPANDED} and $HOME stays"
      d: ["${A}", "${EMPTY:-default for empty}"]
      e: { nested: "${A}" }
      f: "@DIR@/${CACHE_DIR:-${A}}/cache.db"
`)
	f, err := config.Read(path, env(map[string]string{"TTL": "90s", "A": "secret", "EMPTY": ""}))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.Region("r")
	if r.Expiration != 90*time.Second {
		t.Errorf("expiration %v", r.Expiration)
	}
	want := dogpile.Args{
		"a": "secret",
		"b": "x-fallback-y",
		"c": "${NOT_EXPANDED} and $HOME stays",
		"d": []any{"secret", "default for empty"},
		"e": map[string]any{"nested": "secret"},
		"f": filepath.Join(filepath.Dir(path), "secret", "cache.db"), // a nested default, not a directory named ${A}
	}
	if !reflect.DeepEqual(r.Arguments, want) {
		t.Errorf("arguments\n got %#v\nwant %#v", r.Arguments, want)
	}
}

// Flat and nested keys mean the same, in one file too; deeper flat keys
// make nested arguments (the seed's connection_kwargs).
func TestCL1FlatAndNestedKeysMix(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.yaml", `
cache.r.backend: memory
cache:
  r:
    arguments:
      connection_kwargs:
        username: u
cache.r.arguments.connection_kwargs.password: p
`)
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.Region("r")
	want := dogpile.Args{"connection_kwargs": map[string]any{"username": "u", "password": "p"}}
	if r.Backend != "memory" || !reflect.DeepEqual(r.Arguments, want) {
		t.Errorf("backend %q arguments %#v", r.Backend, r.Arguments)
	}
}

func TestCL1Prefix(t *testing.T) {
	path := testutil.WriteFile(t, "app.toml", `
[myapp.cache.r]
backend = "memory"
[cache.ignored]
backend = "memory"
`)
	// A prefix written with its dots at either end is the same prefix.
	for _, prefix := range []string{"myapp.cache", ".myapp.cache."} {
		f, err := config.Read(path, config.WithPrefix(prefix))
		if err != nil {
			t.Fatalf("WithPrefix(%q): %v", prefix, err)
		}
		if got := f.Names(); !reflect.DeepEqual(got, []string{"r"}) || f.Regions[0].Prefix != "myapp.cache.r." {
			t.Errorf("WithPrefix(%q): regions %v prefix %q", prefix, got, f.Regions[0].Prefix)
		}
	}
}

// CL2: each mistake a new user makes gives one message naming the file, the
// line and the key, and saying what is wrong.
func TestCL2ConfigMistakes(t *testing.T) {
	for _, c := range []struct {
		name, file, text string
		want             string // with @FILE@ for the path
		is               error
	}{
		{"typo in a key", "dogpile.toml", `
[cache.local]
backend = "memory"
expiraton_time = 600
`, `@FILE@:4: cache.local.expiraton_time: unknown key; did you mean cache.local.expiration_time?`, nil},
		{"typo in arguments", "dogpile.yaml", `
cache:
  local:
    backend: memory
    argument:
      url: x
`, `@FILE@:5: cache.local.argument: unknown key; did you mean cache.local.arguments?`, nil},
		{"typo in the prefix", "dogpile.ini", `
[app:main]
cahce.local.backend = memory
`, `@FILE@:3: cahce.local.backend: unknown key; did you mean cache.local.backend? (regions are configured under cache.<region>.)`, nil},
		{"typo in a backend argument", "dogpile.toml", `
[cache.local]
backend = "file"
arguments.filenme = "x.db"
`, `@FILE@:4: cache.local.arguments.filenme: the file backend has no argument "filenme"; did you mean cache.local.arguments.filename? (its arguments: busy_timeout, distributed_lock, dogpile_lockfile, filename, max_age, max_size, rw_lockfile)`, dogpile.ErrInvalidArgument},
		{"unknown key", "dogpile.toml", `
[cache.local]
backend = "memory"
colour = "blue"
`, `@FILE@:4: cache.local.colour: unknown key (a region's keys: backend, expiration_time, arguments.<name>, metrics, shared_invalidation, key_mangler, codec, key_prefix, signing_keys, compress, compress_min_bytes, min_compress_len, replace_existing_backend)`, nil},
		{"unknown backend", "dogpile.yaml", `
cache:
  local:
    backend: fiel
`, `@FILE@:4: cache.local.backend: unknown backend "fiel"; did you mean "file"? (registered: @REGISTERED@)`, dogpile.ErrUnknownBackend},
		{"bad duration", "dogpile.ini", `
[app:main]
cache.local.backend = memory
cache.local.expiration_time = 10 minutes
`, `@FILE@:4: cache.local.expiration_time: want seconds or a Go duration such as "90s" or "1h", not "10 minutes"`, nil},
		{"bad argument value", "dogpile.toml", `
[cache.local]
backend = "file"
arguments.filename = "x.db"
arguments.max_size = "lots"
`, `@FILE@:5: cache.local.arguments.max_size: "lots": want a size in bytes, such as 67108864 or "64MiB"`, dogpile.ErrInvalidArgument},
		{"unexpanded variable", "dogpile.toml", `
[cache.shared]
backend = "memory"
arguments.password = "${REDIS_PASSWORD}"
`, `@FILE@:4: cache.shared.arguments.password: environment variable REDIS_PASSWORD is not set (set it, or give a default: ${REDIS_PASSWORD:-value})`, nil},
		{"missing backend", "dogpile.toml", `
[cache.local]
expiration_time = 60
`, `@FILE@:3: cache.local.backend: missing: every region needs a backend (registered: @REGISTERED@)`, nil},
		{"no regions", "dogpile.yaml", `
server:
  port: 80
`, `@FILE@: no regions: a region is configured by keys under "cache.<region>.", such as cache.local.backend`, nil},
		{"TOML syntax", "dogpile.toml", `
[cache.local
backend = "memory"
`, `@FILE@:2: TOML: expected ']' to close table name`, nil},
		{"YAML syntax", "dogpile.yaml", `
cache:
  local:
    backend: memory
   expiration_time: 1
`, `@FILE@:2: YAML: did not find expected key`, nil},
		{"YAML duplicate", "dogpile.yaml", `
cache:
  local:
    backend: memory
    backend: file
`, `@FILE@:5: YAML: mapping key "backend" already defined at line 4`, nil},
		// A key written beside a merge key overrides the merged one, and
		// its mistake is at its own line, not the anchor's.
		{"YAML merged key overridden", "dogpile.yaml", `
defaults: &defaults
  backend: memory
  expiration_time: 60
cache:
  b:
    <<: *defaults
    expiration_time: 10 minutes
`, `@FILE@:8: cache.b.expiration_time: want seconds or a Go duration such as "90s" or "1h", not "10 minutes"`, nil},
		// A key given both flat and nested is reported at its second line,
		// naming the first (both had the first line: "also at line 2" on
		// line 2).
		{"YAML key flat and nested", "dogpile.yaml", `
cache.r.backend: memory
cache:
  r:
    backend: file
`, `@FILE@:5: cache.r.backend: set twice (also at line 2)`, nil},
		{"TOML key flat and nested", "dogpile.toml", `
"cache.r.backend" = "memory"
[cache.r]
backend = "null"
`, `@FILE@:4: cache.r.backend: set twice (also at line 2)`, nil},
		{"INI key twice", "dogpile.ini", `
[cache.local]
backend = memory
backend = file
`, `@FILE@:4: cache.local.backend: set twice (first at line 3)`, nil},
		{"INI interpolation", "dogpile.ini", `
[cache.local]
backend = file
arguments.filename = %(here)s/cache.db
`, `@FILE@:4: cache.local.arguments.filename: %(name)s interpolation is not supported; use ${VAR} for environment variables, or %% for a literal %`, nil},
		{"INI junk line", "dogpile.ini", `
[cache.local]
backend file
`, `@FILE@:3: want key = value, a [section] or a comment; got "backend file"`, nil},
		{"bad shared_invalidation", "dogpile.toml", `
[cache.local]
backend = "memory"
shared_invalidation = "sometimes"
`, `@FILE@:4: cache.local.shared_invalidation: want true, false, 0 (read with every value) or a refresh interval such as "30s", not "sometimes"`, nil},
		// A region's name is one key part of letters, digits, _ and -:
		// one with a space, or an empty one (two dots), is refused, not
		// made into a region no key can name.
		{"region name with a space", "dogpile.yaml", `
cache:
  "my region":
    backend: memory
`, `@FILE@:4: cache.my region.backend: "my region" is not a region name: use letters, digits, _ and -`, nil},
		{"empty region name", "dogpile.ini", `
[app:main]
cache..backend = memory
`, `@FILE@:3: cache..backend: "" is not a region name: use letters, digits, _ and -`, nil},
		// An empty [cache.<region>] table is a region without a backend, not
		// a table to skip: the region would be silently missing.
		{"empty region table", "dogpile.toml", `
[cache.a]
backend = "memory"
[cache.local]
`, `@FILE@:4: cache.local.backend: missing: every region needs a backend (registered: @REGISTERED@)`, nil},
		// A setting refused when the region is made names the setting's own
		// key, not an argument of that name.
		{"codec not imported", "dogpile.toml", `
[cache.local]
backend = "memory"
codec = "msgpack"
`, `@FILE@:4: cache.local.codec: unknown codec "msgpack": import _ "github.com/dogpile-go/dogpile/codec/msgpack" to register it`, nil},
		{"reserved key prefix", "dogpile.toml", `
[cache.local]
backend = "memory_serialized"
key_prefix = "dogpile:x"
`, `@FILE@:4: cache.local.key_prefix: "dogpile:x": begins with "dogpile:", which the library keeps for its own keys`, dogpile.ErrInvalidArgument},
		{"signing key too short", "dogpile.toml", `
[cache.local]
backend = "memory"
signing_keys = ["short"]
`, `@FILE@:4: cache.local.signing_keys: signing key 0: 5 bytes; a signing key must have at least 16 (32 random bytes are best; an empty key is often an unset environment variable)`, dogpile.ErrInvalidArgument},
		// References are expanded inside lists and nested tables too, and an
		// unset one there is the same error, not an empty value.
		{"unset variable in a list", "dogpile.yaml", `
cache:
  r:
    backend: memory
    arguments:
      d: ["${MISSING}"]
`, `@FILE@:6: cache.r.arguments.d: environment variable MISSING is not set (set it, or give a default: ${MISSING:-value})`, nil},
		{"unset variable in a nested table", "dogpile.yaml", `
cache:
  r:
    backend: memory
    arguments:
      e: {nested: "${MISSING}"}
`, `@FILE@:6: cache.r.arguments.e: environment variable MISSING is not set (set it, or give a default: ${MISSING:-value})`, nil},
		// An empty YAML file has no regions, like any file without them.
		{"empty YAML file", "dogpile.yaml", `
`, `@FILE@: no regions: a region is configured by keys under "cache.<region>.", such as cache.local.backend`, nil},
		{"unknown extension", "dogpile.json", `{}`,
			`@FILE@: unknown configuration format ".json": name the file .toml, .yaml, .yml or .ini (also .cfg, .conf)`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The texts start with a newline, so line 1 is empty.
			path := testutil.WriteFile(t, c.file, c.text)
			_, err := config.Load(path, env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			want := strings.NewReplacer("@FILE@", path, "@REGISTERED@", strings.Join(dogpile.Backends(), ", ")).Replace(c.want)
			if err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != path {
				t.Errorf("not a *config.Error naming the file: %#v", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(err, %v) is false", c.is)
			}
		})
	}
}

func TestCL2MissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nosuch.toml")
	_, err := config.Load(path)
	if err == nil || err.Error() != path+": no such configuration file" {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("not fs.ErrNotExist")
	}
}

// A backend that fails for a reason other than its settings is not a
// config.Error: the file is right, the world is not. Here another process
// holds the cache file locked for longer than busy_timeout.
func TestCL2BackendFailureIsNotAConfigError(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.local]
backend = "file"
arguments.filename = "@DIR@/held.db"
arguments.busy_timeout = 0.05
`)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(path), "held.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{`PRAGMA locking_mode = EXCLUSIVE`, `CREATE TABLE held (x)`, `BEGIN EXCLUSIVE`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(stmt, err)
		}
	}
	_, err = config.Load(path)
	var ce *config.Error
	if err == nil || errors.As(err, &ce) || errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("error %v (config.Error: %v)", err, ce != nil)
	}
	if !strings.HasPrefix(err.Error(), path+`: region "local" (file backend): `) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("error %q does not name the file and region, and say the cache file is locked", err)
	}
}

// A cache file that is not a dogpile cache is a mistake in the settings:
// the error points at the filename's line, and says what SQLite said.
func TestCL2NotACacheFileIsAConfigError(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.local]
backend = "file"
arguments.filename = "@DIR@/not-a-cache.db"
`)
	notACache := filepath.Join(filepath.Dir(path), "not-a-cache.db")
	if err := os.WriteFile(notACache, []byte("hello, not SQLite"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	want := path + `:4: cache.local.arguments.filename: "` + notACache + `": not a dogpile cache file: file is not a database (26)`
	var ce *config.Error
	if err == nil || err.Error() != want || !errors.As(err, &ce) || !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("error\n got %v\nwant %s (a *config.Error matching ErrInvalidArgument)", err, want)
	}
}

func TestOnlyAndRegionListNames(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.b]
backend = "memory"
[cache.a]
backend = "memory"
`)
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Regions[0].Name != "b" {
		t.Errorf("regions not in file order: %v", f.Regions[0].Name)
	}
	if _, err := f.Only(); err == nil || err.Error() != path+": 2 regions (a, b): say which one" {
		t.Errorf("Only: %v", err)
	}
	if _, err := f.Region("c"); err == nil || err.Error() != path+`: no region "c" (regions: a, b)` {
		t.Errorf("Region: %v", err)
	}
}

// YAML anchors and merge keys work, and merged keys are located at the
// anchor's lines.
func TestCL1YAMLAnchors(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.yaml", `
defaults: &defaults
  backend: memory
  expiration_time: 60
  colour: blue
cache:
  a:
    <<: *defaults
  b:
    <<: *defaults
    expiration_time: 120
`)
	_, err := config.Read(path)
	if err == nil || err.Error() != path+":5: cache.a.colour: unknown key (a region's keys: backend, expiration_time, arguments.<name>, metrics, shared_invalidation, key_mangler, codec, key_prefix, signing_keys, compress, compress_min_bytes, min_compress_len, replace_existing_backend)" {
		t.Fatalf("error %v", err)
	}
	path = testutil.WriteFile(t, "dogpile.yaml", strings.Replace(mustRead(t, path), "  colour: blue\n", "", 1))
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Region("a")
	b, _ := f.Region("b")
	if a.Backend != "memory" || a.Expiration != time.Minute || b.Expiration != 2*time.Minute {
		t.Errorf("a %s %v, b %v", a.Backend, a.Expiration, b.Expiration)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// RL3: no input makes the readers panic.
func FuzzParse(f *testing.F) {
	for name, text := range sameConfig {
		f.Add(filepath.Ext(name)[1:], []byte(text))
	}
	f.Add("ini", []byte("[cache.x]\nbackend = memory\n  continued\n"))
	f.Add("yaml", []byte("a: &a {b: *a}"))
	f.Add("toml", []byte("cache.x = { backend = 1 }"))
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		switch format {
		case "toml", "yaml", "ini":
		default:
			return
		}
		fc, err := config.Parse("fuzz."+format, format, data, env(map[string]string{"CACHE_FILE": "x"}))
		if err == nil && len(fc.Regions) == 0 {
			t.Fatal("no error and no regions")
		}
	})
}
