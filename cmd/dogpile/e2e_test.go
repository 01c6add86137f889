package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// binary is the dogpile command, built once by TestMain: the end-to-end
// tests run it as a user and a script would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dogpile-cmd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "dogpile")
	// go test puts its own toolchain first on the PATH of what it runs.
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the dogpile command: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// dp runs the binary with args in a clean environment: no $DOGPILE_CONFIG,
// and a user cache directory of the test's own (for the embedded default
// store). env adds NAME=value pairs.
func dp(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + cacheHome(t), "XDG_CACHE_HOME=" + cacheHome(t)}, env...)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run dogpile %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errOut.String(), code}
}

var cacheHomes = map[*testing.T]string{}

func cacheHome(t *testing.T) string {
	if d, ok := cacheHomes[t]; ok {
		return d
	}
	d := t.TempDir()
	cacheHomes[t] = d
	t.Cleanup(func() { delete(cacheHomes, t) })
	return d
}

// want checks the exit code and returns the result.
func (r result) want(t *testing.T, code int, what string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

// TestCL3EndToEnd drives the built command against a file, a Redis and a
// Memcached region, each from a configuration file (TOML, YAML and INI in
// turn): set → get → inspect → keys → stats → invalidate → get misses, soft
// invalidation, delete, bench and demo.
func TestCL3EndToEnd(t *testing.T) {
	for _, c := range []struct {
		name   string
		config func(t *testing.T) (string, *testserver.Process)
		stat   string // a number its stats show
	}{
		{"file", func(t *testing.T) (string, *testserver.Process) {
			return testutil.WriteFile(t, "dogpile.toml", `
[cache.local]
backend = "file"
expiration_time = "1h"
shared_invalidation = true
arguments.filename = "@DIR@/cache.db"

[cache.other]
backend = "memory"
`), nil
		}, "entries"},
		{"redis", func(t *testing.T) (string, *testserver.Process) {
			srv := testserver.StartRedis(t)
			return testutil.WriteFile(t, "dogpile.yaml", fmt.Sprintf(`
cache:
  local:
    backend: redis
    expiration_time: 3600
    shared_invalidation: 0
    arguments:
      url: redis://%s/0
      distributed_lock: true
  other:
    backend: memory
`, srv.Addr())), srv
		}, "misses"},
		{"memcached", func(t *testing.T) (string, *testserver.Process) {
			srv := testserver.Memcached(t, testserver.MemcachedOptions{})
			return testutil.WriteFile(t, "dogpile.ini", fmt.Sprintf(`
[app:main]
cache.local.backend = dogpile.cache.pylibmc
cache.local.expiration_time = 3600
cache.local.shared_invalidation = true
cache.local.key_mangler = sha1
cache.local.arguments.url = %s
cache.local.arguments.distributed_lock = true

[cache.other]
backend = memory
`, srv.Addr())), srv
		}, "evictions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, srv := c.config(t)
			run := func(args ...string) result {
				t.Helper()
				return dp(t, nil, append(args, "--config", cfg, "--region", "local")...)
			}
			run("set", "user:42", "Ada Lovelace").want(t, exitOK, "set")
			if r := run("get", "user:42").want(t, exitOK, "get"); r.stdout != "Ada Lovelace\n" {
				t.Fatalf("get printed %q", r.stdout)
			}
			// Flags after the key work too, and so does $DOGPILE_CONFIG.
			r := dp(t, []string{"DOGPILE_CONFIG=" + cfg}, "get", "user:42", "--json", "--region", "local").want(t, exitOK, "get --json")
			if m := decodeJSON(t, r.stdout); m["found"] != true || m["value"] != "Ada Lovelace" || m["codec"] != "default" {
				t.Errorf("get --json: %v", m)
			}

			r = run("inspect", "user:42").want(t, exitOK, "inspect")
			for _, want := range []string{"created", "fresh (expires in ", "codec       default", "size        "} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
				}
			}
			if c.name == "memcached" && !strings.Contains(r.stdout, "stored as   "+dogpile.SHA1Mangler("user:42")) {
				t.Errorf("inspect does not show the mangled key:\n%s", r.stdout)
			}
			m := decodeJSON(t, run("inspect", "--json", "user:42").want(t, exitOK, "inspect --json").stdout)
			if m["found"] != true || m["size"].(float64) <= float64(len("Ada Lovelace")) || m["format_version"] != float64(dogpile.FormatVersion) {
				t.Errorf("inspect --json: %v", m)
			}

			// Every store lists its keys, and none shows its invalidation
			// record; the memcached region stores their SHA-1, which names
			// no key, and keys says so rather than list hashes.
			if c.name == "memcached" {
				if r := run("keys").want(t, exitError, "keys"); r.stdout != "" || !strings.Contains(r.stderr, `stores its keys as their SHA-1 (key_mangler = "sha1")`) {
					t.Errorf("keys of a hashed region: stdout %q, stderr %q", r.stdout, r.stderr)
				}
			} else if r := run("keys", "--prefix", "user:").want(t, exitOK, "keys"); r.stdout != "user:42\n" {
				t.Errorf("keys printed %q", r.stdout)
			}

			r = run("stats").want(t, exitOK, "stats")
			if !regexp.MustCompile(`(?m)^  `+c.stat+` +\d+$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "this command is a process of its own") {
				t.Errorf("stats lacks %q or the note on counters:\n%s", c.stat, r.stdout)
			}
			checkStatsJSON(t, run("stats", "--json").want(t, exitOK, "stats --json").stdout, c.stat)

			// Hard invalidation: the value is a miss, for this command's
			// next process as for any other.
			run("invalidate", "--hard").want(t, exitOK, "invalidate --hard")
			if r := run("get", "user:42").want(t, exitNotFound, "get after invalidate --hard"); r.stdout != "" {
				t.Errorf("get printed %q for a miss", r.stdout)
			}
			if r := run("inspect", "user:42").want(t, exitOK, "inspect"); !strings.Contains(r.stdout, "hard-invalidated") {
				t.Errorf("inspect after a hard invalidation:\n%s", r.stdout)
			}

			// Soft invalidation: expired, still there for --stale.
			run("set", "user:42", "Ada").want(t, exitOK, "set")
			run("get", "user:42").want(t, exitOK, "get after set")
			run("invalidate", "--soft").want(t, exitOK, "invalidate --soft")
			run("get", "user:42").want(t, exitNotFound, "get after invalidate --soft")
			if r := run("get", "--stale", "user:42").want(t, exitOK, "get --stale"); r.stdout != "Ada\n" {
				t.Errorf("get --stale printed %q", r.stdout)
			}
			if r := run("inspect", "user:42"); !strings.Contains(r.stdout, "soft-invalidated") {
				t.Errorf("inspect after a soft invalidation:\n%s", r.stdout)
			}

			run("delete", "user:42").want(t, exitOK, "delete")
			run("get", "user:42").want(t, exitNotFound, "get after delete")
			run("inspect", "user:42").want(t, exitNotFound, "inspect after delete")
			if r := run("get", "--json", "user:42").want(t, exitNotFound, "get --json of a miss"); decodeJSON(t, r.stdout)["found"] != false {
				t.Errorf("get --json of a miss: %s", r.stdout)
			}

			// bench: every hit is a hit; one creator per stampede.
			m = decodeJSON(t, run("bench", "--load", "hit", "-n", "300", "-c", "4", "--keys", "50", "--json").want(t, exitOK, "bench hit").stdout)
			if m["requests"] != 300.0 || m["errors"] != 0.0 || m["region_stats"].(map[string]any)["hits"] != 300.0 {
				t.Errorf("bench hit: %v", m)
			}
			m = decodeJSON(t, run("bench", "--load", "cold-stampede", "-c", "20", "--rounds", "2", "--delay", "30ms", "--json").want(t, exitOK, "bench cold").stdout)
			if m["creator_calls"] != 2.0 || m["max_creator_calls_per_round"] != 1.0 {
				t.Errorf("bench cold-stampede: %v", m)
			}
			m = decodeJSON(t, run("bench", "--load", "expired-stampede", "-c", "20", "--rounds", "2", "--delay", "30ms", "--json").want(t, exitOK, "bench expired").stdout)
			if rs := m["region_stats"].(map[string]any); m["creator_calls"] != 2.0 || rs["stale_served"] != 38.0 {
				t.Errorf("bench expired-stampede: %v", m)
			}
			// bench leaves no keys behind (in the memcached region they would
			// be hashes, which keys does not list).
			if c.name != "memcached" {
				if r := run("keys", "--all").want(t, exitOK, "keys"); strings.Contains(r.stdout, "dogpile-bench:") {
					t.Errorf("bench left keys: %q", r.stdout)
				}
			}

			r = run("demo", "-n", "20", "-delay", "50ms").want(t, exitOK, "demo")
			if !regexp.MustCompile(`expired, dogpile\s+20\s+1\s`).MatchString(r.stdout) {
				t.Errorf("demo on %s: not one creator call for the expired key\n%s", c.name, r.stdout)
			}

			if srv != nil {
				// An unreachable server is a failure (1), not a miss (3),
				// said in one line that names the command and the backend.
				run("set", "k", "v").want(t, exitOK, "set")
				// It fails fast: one dial attempt, the client's own log lines
				// kept off the command's standard error.
				srv.Kill()
				start := time.Now()
				r := run("get", "k").want(t, exitError, "get from a stopped server")
				if !strings.HasPrefix(r.stderr, "dogpile: get: "+c.name+" backend: ") || strings.Count(r.stderr, "dogpile:") != 1 ||
					strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "get_multi") {
					t.Errorf("the error for a failed get: %q", r.stderr)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("a get from a stopped server took %v", d)
				}
			}
		})
	}
}

// TestCL2ConfigMistakesInTheCommand: each mistake a new user makes in a
// configuration gives one line on standard error, naming the file, line and
// key, and exit status 2.
func TestCL2ConfigMistakesInTheCommand(t *testing.T) {
	for _, c := range []struct {
		name, file, text string
		want             string // the whole of stderr, @FILE@ for the path
	}{
		{"typo in a key", "dogpile.toml", `
[cache.local]
backend = "file"
expiraton_time = 600
`, "dogpile: @FILE@:4: cache.local.expiraton_time: unknown key; did you mean cache.local.expiration_time?\n"},
		{"unknown backend", "dogpile.yaml", `
cache:
  local:
    backend: rediss
    arguments:
      url: redis://localhost:6379/0
`, "dogpile: @FILE@:4: cache.local.backend: unknown backend \"rediss\"; did you mean \"redis\"? (registered: file, memcached, memory, memory_serialized, null, redis, redis_cluster, redis_sentinel)\n"},
		{"bad duration", "dogpile.ini", `
[app:main]
cache.local.backend = file
cache.local.expiration_time = 10 minutes
`, "dogpile: @FILE@:4: cache.local.expiration_time: want seconds or a Go duration such as \"90s\" or \"1h\", not \"10 minutes\"\n"},
		{"unexpanded variable", "dogpile.toml", `
[cache.shared]
backend = "redis"
arguments.url = "redis://cache.internal:6379/0"
arguments.password = "${REDIS_PASSWORD}"
`, "dogpile: @FILE@:5: cache.shared.arguments.password: environment variable REDIS_PASSWORD is not set (set it, or give a default: ${REDIS_PASSWORD:-value})\n"},
		{"typo in a backend argument", "dogpile.toml", `
[cache.local]
backend = "file"
arguments.filenme = "@DIR@/cache.db"
`, "dogpile: @FILE@:4: cache.local.arguments.filenme: the file backend has no argument \"filenme\"; did you mean cache.local.arguments.filename? (its arguments: busy_timeout, distributed_lock, dogpile_lockfile, filename, max_age, max_size, rw_lockfile)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := testutil.WriteFile(t, c.file, c.text)
			r := dp(t, nil, "get", "--config", path, "k").want(t, exitUsage, c.name)
			if want := strings.ReplaceAll(c.want, "@FILE@", path); r.stderr != want {
				t.Errorf("stderr\n got %q\nwant %q", r.stderr, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dogpile.toml")
		r := dp(t, nil, "get", "--config", path, "k").want(t, exitUsage, "missing file")
		if want := "dogpile: " + path + ": no such configuration file\n"; r.stderr != want {
			t.Errorf("stderr\n got %q\nwant %q", r.stderr, want)
		}
	})
}

// Mistakes in using a configuration: which region, and invalidate without
// shared invalidation.
func TestCL2RegionChoice(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.b]
backend = "memory"
[cache.a]
backend = "memory"
`)
	r := dp(t, nil, "get", "--config", path, "k").want(t, exitUsage, "two regions, no --region")
	if want := "dogpile: " + path + " has 2 regions (a, b): choose one with --region\n"; r.stderr != want {
		t.Errorf("stderr %q", r.stderr)
	}
	r = dp(t, nil, "get", "--config", path, "--region", "c", "k").want(t, exitUsage, "unknown region")
	if want := "dogpile: " + path + ": no region \"c\" (regions: a, b)\n"; r.stderr != want {
		t.Errorf("stderr %q", r.stderr)
	}
	r = dp(t, nil, "invalidate", "--hard", "--config", path, "--region", "a").want(t, exitUsage, "invalidate without shared_invalidation")
	if !strings.Contains(r.stderr, `region "a" in `+path+` has no shared_invalidation`) || !strings.Contains(r.stderr, "cache.a.shared_invalidation = true") {
		t.Errorf("stderr %q", r.stderr)
	}
	dp(t, nil, "invalidate", "--config", path, "--region", "a").want(t, exitUsage, "invalidate without --hard or --soft")
	dp(t, nil, "get", "--nosuchflag", "k").want(t, exitUsage, "unknown flag")
	dp(t, nil, "get").want(t, exitUsage, "no key")
	dp(t, nil, "get", "--config", path, "-backend", "memory", "k").want(t, exitUsage, "--config and -backend")
}

// Without a configuration, commands use the embedded file store in the
// user's cache directory, and an invalidation there applies to the next
// command.
func TestCL3EmbeddedDefault(t *testing.T) {
	dp(t, nil, "set", "greeting", "hello").want(t, exitOK, "set")
	if _, err := os.Stat(filepath.Join(cacheHome(t), "dogpile", "cache.db")); err != nil {
		t.Fatalf("the default store is not in the user cache directory: %v", err)
	}
	if r := dp(t, nil, "get", "greeting").want(t, exitOK, "get"); r.stdout != "hello\n" {
		t.Errorf("get printed %q", r.stdout)
	}
	if r := dp(t, nil, "keys").want(t, exitOK, "keys"); r.stdout != "greeting\n" {
		t.Errorf("keys printed %q (the invalidation record is not a key of the user's)", r.stdout)
	}
	dp(t, nil, "invalidate", "--hard").want(t, exitOK, "invalidate")
	dp(t, nil, "get", "greeting").want(t, exitNotFound, "get after invalidate")
	if r := dp(t, nil, "get", "--backend", "nosuch", "k").want(t, exitUsage, "unknown --backend"); !strings.HasPrefix(r.stderr, `dogpile: --backend: unknown backend "nosuch"`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

// Every command has --help with examples, on standard output, exit 0.
func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		r := dp(t, nil, c.name, "--help").want(t, exitOK, c.name+" --help")
		if !strings.HasPrefix(r.stdout, "Usage: dogpile "+c.name) || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "-config") {
			t.Errorf("%s --help:\n%s", c.name, r.stdout)
		}
	}
	r := dp(t, nil, "--help").want(t, exitOK, "--help")
	if !strings.Contains(r.stdout, "3 key not found") {
		t.Errorf("--help does not document the exit codes:\n%s", r.stdout)
	}
	dp(t, nil).want(t, exitUsage, "no command")
}

// bench --plot writes a PNG for every load; --progress draws its line on
// standard error. (TestPlotsReadableForEveryLoad checks the plots' axes.)
func TestBenchPlotAndProgress(t *testing.T) {
	for _, load := range []string{loadHit, loadCold, loadExpired} {
		out := filepath.Join(t.TempDir(), load+".png")
		r := dp(t, nil, "bench", "--load", load, "-c", "10", "--rounds", "2", "-n", "20", "--keys", "5", "--delay", "10ms",
			"--progress", "--plot", out).want(t, exitOK, "bench --plot")
		if !strings.Contains(r.stderr, "bench "+load+" [") || !strings.Contains(r.stderr, "20/20 requests 100.0%") {
			t.Errorf("%s: no progress line on stderr: %q", load, r.stderr)
		}
		if !strings.Contains(r.stdout, "latency plot: "+out) || !strings.Contains(r.stdout, "p99.9") {
			t.Errorf("%s: bench output:\n%s", load, r.stdout)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 600 || cfg.Height < 300 {
			t.Errorf("%s: plot: %v, %dx%d", load, err, cfg.Width, cfg.Height)
		}
	}
	dp(t, nil, "bench", "--plot", filepath.Join(t.TempDir(), "x.svg")).want(t, exitUsage, "--plot not .png")
	dp(t, nil, "bench", "--load", "warm").want(t, exitUsage, "unknown load")
}

// checkStatsJSON: stats --json gives the settings and the store's numbers
// typed — numbers as JSON numbers, booleans as booleans — and no sentences.
func checkStatsJSON(t *testing.T, out, stat string) {
	t.Helper()
	m := decodeJSON(t, out)
	region, ok := m["region"].(map[string]any)
	if !ok {
		t.Fatalf("stats --json: no region object:\n%s", out)
	}
	for name, want := range map[string]string{
		"expiration_seconds": "number", "invalidation_refresh_seconds": "number",
		"shared_invalidation": "bool", "metrics": "bool", "signed": "bool", "name": "string", "codec": "string",
	} {
		if got := jsonType(region[name]); got != want {
			t.Errorf("stats --json: region.%s is a %s (%v), want a %s", name, got, region[name], want)
		}
	}
	stores, ok := m["store"].([]any)
	if !ok || len(stores) == 0 {
		t.Fatalf("stats --json: no store reports:\n%s", out)
	}
	for _, s := range stores {
		st := s.(map[string]any)
		if got := jsonType(st[stat]); got != "number" {
			t.Errorf("stats --json: %s is a %s (%v), want a number", stat, got, st[stat])
		}
		for name, v := range st["extra"].(map[string]any) {
			if str, isStr := v.(string); isStr && regexp.MustCompile(`^-?\d+(\.\d+)?$`).MatchString(str) {
				t.Errorf("stats --json: extra.%s is the string %q, not a number", name, str)
			}
		}
	}
	for _, sentence := range []string{"process of its own", "not available", " (keys and values)"} {
		if strings.Contains(out, sentence) {
			t.Errorf("stats --json has a sentence (%q):\n%s", sentence, out)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case bool:
		return "bool"
	case string:
		return "string"
	case nil:
		return "missing"
	}
	return fmt.Sprintf("%T", v)
}
