package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/config"

	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// inProcess runs the command in this process (run, as main does, without
// the signal handling) and returns what it printed and its exit code. The
// environment names no configuration file, so the region is the one of the
// flags.
func inProcess(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	t.Setenv(configEnv, "")
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return result{out.String(), errOut.String(), code}
}

// fileRegion is the flags of an ad hoc file region of the test's own.
func fileRegion(t *testing.T) []string {
	return []string{"--backend", "file", "--arg", "filename=" + filepath.Join(t.TempDir(), "cache.db")}
}

// adHocDesc is how messages describe the region of fileRegion.
const adHocDesc = `region "default" (file backend, from the --backend and --arg flags)`

// "dogpile help CMD" is "dogpile CMD --help": the command's own help, on
// standard output.
func TestHelpCommandPrintsTheCommandsHelp(t *testing.T) {
	for _, c := range commands {
		r := inProcess(t, context.Background(), "help", c.name).want(t, exitOK, "help "+c.name)
		if !strings.HasPrefix(r.stdout, "Usage: dogpile "+c.name) || !strings.Contains(r.stdout, "\nFlags:\n") || r.stderr != "" {
			t.Errorf("help %s: stdout %q, stderr %q", c.name, r.stdout, r.stderr)
		}
	}
}

// A command stopped by an interrupt says so, once: the cancellation it
// returned is the interrupt, not a failure to report besides.
func TestInterruptedCommandSaysOnlyThatItWasInterrupted(t *testing.T) {
	region := fileRegion(t)
	inProcess(t, context.Background(), append([]string{"set", "k", "v"}, region...)...).want(t, exitOK, "set")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"get", "k"}, {"inspect", "k"}, {"keys"}, {"delete", "k"}, {"set", "k", "w"}} {
		r := inProcess(t, ctx, append(args, region...)...).want(t, exitInterrupted, args[0]+" interrupted")
		if want := "dogpile: " + args[0] + ": interrupted\n"; r.stderr != want || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr %q; want stderr %q", args, r.stdout, r.stderr, want)
		}
	}
}

// A key with no value: exit 3 and one line on standard error that says so,
// or, with --json, the answer on standard output and nothing on standard
// error (a script parsing the JSON has its answer).
func TestNoValueIsOneLineOrTheJSONAnswer(t *testing.T) {
	region := fileRegion(t)
	for _, c := range []struct {
		args         []string
		stdout       string // "" or a JSON object's "found"
		stderr       string
		jsonNotFound bool
	}{
		{args: []string{"get", "k"}, stderr: `dogpile: key "k" has no value in ` + adHocDesc + "\n"},
		{args: []string{"inspect", "k"}, stderr: `dogpile: key "k" is not in ` + adHocDesc + "\n"},
		{args: []string{"get", "--json", "k"}, jsonNotFound: true},
		{args: []string{"inspect", "--json", "k"}, jsonNotFound: true},
	} {
		r := inProcess(t, context.Background(), append(c.args, region...)...).want(t, exitNotFound, strings.Join(c.args, " "))
		if r.stderr != c.stderr {
			t.Errorf("%v: stderr %q, want %q", c.args, r.stderr, c.stderr)
		}
		if !c.jsonNotFound {
			if r.stdout != "" {
				t.Errorf("%v: stdout %q", c.args, r.stdout)
			}
			continue
		}
		if m := decodeJSON(t, r.stdout); m["found"] != false || m["key"] != "k" {
			t.Errorf("%v: stdout %s", c.args, r.stdout)
		}
	}
}

// The library's errors say where they come from ("dogpile: …"); the
// command says "dogpile:" once.
func TestLibraryErrorsAreWordedOnce(t *testing.T) {
	r := inProcess(t, context.Background(), append([]string{"set", "dogpile:mine", "v"}, fileRegion(t)...)...).want(t, exitUsage, "set of a reserved key")
	if want := `dogpile: set: invalid argument: reserved key: key "dogpile:mine": keys beginning with "dogpile:" are the library's own` + "\n"; r.stderr != want {
		t.Errorf("stderr\n got %q\nwant %q", r.stderr, want)
	}
}

// Each command takes the positional arguments it documents, and refuses
// others with exit 2 and a line that says what it wants.
func TestPositionalArgumentsAreChecked(t *testing.T) {
	region := fileRegion(t)
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"get", "a", "b"}, "dogpile: get: want one KEY (see dogpile get --help)\n"},
		{[]string{"inspect", "a", "b"}, "dogpile: inspect: want one KEY (see dogpile inspect --help)\n"},
		{[]string{"set", "k", "v", "w"}, "dogpile: set: want KEY and VALUE, or KEY and - to read the value from standard input (see dogpile set --help)\n"},
		{[]string{"delete"}, "dogpile: delete: want at least one KEY (see dogpile delete --help)\n"},
		{[]string{"keys", "user:"}, `dogpile: keys: unexpected argument "user:" (a prefix is given with --prefix)` + "\n"},
		{[]string{"stats", "x"}, `dogpile: stats: unexpected argument "x"` + "\n"},
		{[]string{"invalidate", "--hard", "k"}, `dogpile: invalidate: unexpected argument "k": it invalidates a whole region (to remove keys, use dogpile delete)` + "\n"},
	} {
		r := inProcess(t, context.Background(), append(c.args, region...)...).want(t, exitUsage, strings.Join(c.args, " "))
		if r.stderr != c.stderr || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr\n got %q\nwant %q", c.args, r.stdout, r.stderr, c.stderr)
		}
	}
}

// "--" ends the flags: what follows is a key or value even if it looks like
// a flag, --help included.
func TestDoubleDashEndsTheFlags(t *testing.T) {
	region := fileRegion(t)
	args := append([]string{"set"}, region...)
	inProcess(t, context.Background(), append(args, "--", "k", "-v")...).want(t, exitOK, "set -- k -v")
	if r := inProcess(t, context.Background(), append(append([]string{"get"}, region...), "k")...).want(t, exitOK, "get"); r.stdout != "-v\n" {
		t.Errorf("get printed %q, want the value -v", r.stdout)
	}
	r := inProcess(t, context.Background(), append(append([]string{"get"}, region...), "--", "--help")...).want(t, exitNotFound, "get -- --help")
	if r.stdout != "" || r.stderr != `dogpile: key "--help" has no value in `+adHocDesc+"\n" {
		t.Errorf("get -- --help: stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// The flag lists give a default where there is one worth saying, strings
// quoted, and nothing for a flag that is off or zero by default.
func TestHelpListsTheDefaultsThatMatter(t *testing.T) {
	r := inProcess(t, context.Background(), "bench", "--help").want(t, exitOK, "bench --help")
	_, flags, _ := strings.Cut(r.stdout, "\nFlags:\n")
	for _, want := range []string{
		"  --load string\n    \tthe load: hit, cold-stampede or expired-stampede (default \"hit\")\n",
		"  -n int\n    \thit: requests in all (default 20000)\n",
		"  --delay duration\n    \tstampedes: how long the creator takes (default 50ms)\n",
		"  -c int\n    \tconcurrent callers (default 16 for hit, 100 for the stampedes)\n",
		"  --json\n    \tprint the results as a JSON object\n",
		"  --plot file\n    \twrite a latency plot to file (PNG)\n",
	} {
		if !strings.Contains(flags, want) {
			t.Errorf("bench --help lacks %q:\n%s", want, flags)
		}
	}
	r = inProcess(t, context.Background(), "keys", "--help").want(t, exitOK, "keys --help")
	if !strings.Contains(r.stdout, "  --limit n\n    \tlist at most n keys (0: all) (default 1000)\n") {
		t.Errorf("keys --help:\n%s", r.stdout)
	}
}

// Mistakes in the flags that choose the region: exit 2 and one line naming
// the flag, as a user typed it (--arg NAME, not a configuration key).
func TestRegionFlagMistakes(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.local]\nbackend = \"file\"\narguments.filename = \"@DIR@/cache.db\"\n")
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--config", cfg, "--arg", "max_size=1"}, "dogpile: --backend and --arg are for use without a configuration file; " + cfg + " is given\n"},
		{[]string{"--config", cfg, "--backend", "memory"}, "dogpile: --backend and --arg are for use without a configuration file; " + cfg + " is given\n"},
		{[]string{"--region", "local"}, "dogpile: --region local: which configuration? Give --config FILE (or set $DOGPILE_CONFIG)\n"},
		{[]string{"--arg", "filename"}, `dogpile: --arg "filename": want name=value` + "\n"},
		{[]string{"--arg", "=x"}, `dogpile: --arg "=x": want name=value` + "\n"},
		{[]string{"--backend", "file", "--arg", "filenme=x.db"},
			`dogpile: --arg filenme: the file backend has no argument "filenme"; did you mean filename? (its arguments: busy_timeout, distributed_lock, dogpile_lockfile, filename, max_age, max_size, rw_lockfile)` + "\n"},
		{[]string{"--backend", "file", "--arg", "max_age=abc"}, `dogpile: --arg max_age: "abc": want seconds or a Go duration such as "90s" or "1h", not "abc"` + "\n"},
		{[]string{"--backend", "file", "--arg", "filename="}, "dogpile: --arg filename: required: the path of the cache file\n"},
		{[]string{"--backend", "file", "--arg", "filename.x=1"}, `dogpile: --arg filename.x: argument "filename" is given both as a value and as a table` + "\n"},
	} {
		r := inProcess(t, context.Background(), append([]string{"get"}, append(c.args, "k")...)...).want(t, exitUsage, strings.Join(c.args, " "))
		if r.stderr != c.stderr || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr\n got %q\nwant %q", c.args, r.stdout, r.stderr, c.stderr)
		}
	}
}

// A backend that cannot be made from its arguments — a cache file that is a
// directory, or a file that is not a cache — is a mistake in them: exit 2,
// for every command, from the flags as from a configuration file. A server
// that cannot be reached is a failure of the request (exit 1).
func TestBackendThatCannotBeMadeIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	notACache := testutil.WriteFile(t, "notes.txt", "not SQLite\n")
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.f]\nbackend = \"file\"\narguments.filename = \""+dir+"\"\n")
	for _, c := range []struct {
		args []string
		want string // in the one line of stderr
	}{
		{[]string{"get", "--backend", "file", "--arg", "filename=" + dir, "k"}, dir + ": is a directory"},
		{[]string{"keys", "--backend", "file", "--arg", "filename=" + dir}, dir + ": is a directory"},
		{[]string{"set", "--backend", "file", "--arg", "filename=" + notACache, "k", "v"}, notACache + `": not a dogpile cache file`},
		{[]string{"stats", "--config", cfg}, dir + ": is a directory"},
	} {
		r := inProcess(t, context.Background(), c.args...).want(t, exitUsage, strings.Join(c.args, " "))
		if !strings.HasPrefix(r.stderr, "dogpile: ") || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr %q; want one line with %q", c.args, r.stdout, r.stderr, c.want)
		}
	}
	for _, region := range [][]string{
		{"--backend", "redis", "--arg", "url=redis://127.0.0.1:1/0"},
		{"--backend", "memcached", "--arg", "url=127.0.0.1:1"},
	} {
		inProcess(t, context.Background(), append([]string{"get", "k"}, region...)...).want(t, exitError, "get from an unreachable "+region[1])
	}
}

// The file backend's other names (dbm, as Python's dogpile.cache calls it)
// get the embedded default's cache file too, when no filename is given.
func TestFileBackendAliasesUseTheDefaultFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", home)
	for _, name := range []string{"file", "dbm", "dogpile.cache.dbm"} {
		inProcess(t, context.Background(), "set", "--backend", name, "k", name).want(t, exitOK, "set with --backend "+name)
		if r := inProcess(t, context.Background(), "get", "k").want(t, exitOK, "get from the default"); r.stdout != name+"\n" {
			t.Errorf("--backend %s wrote elsewhere than the default store: get printed %q", name, r.stdout)
		}
	}
}

// --arg filename is the store: the command writes there, not in the
// embedded default's file.
func TestArgFilenameIsTheStore(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", home)
	path := filepath.Join(t.TempDir(), "mine.db")
	inProcess(t, context.Background(), "set", "--backend", "file", "--arg", "filename="+path, "k", "v").want(t, exitOK, "set")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the --arg filename store was not written: %v", err)
	}
	inProcess(t, context.Background(), "get", "k").want(t, exitNotFound, "get from the embedded default")
}

// get --json of a value that is not UTF-8 gives its bytes in base64, as
// value_base64, since a JSON string cannot hold them.
func TestGetJSONGivesBinaryValuesInBase64(t *testing.T) {
	region := fileRegion(t)
	inProcess(t, context.Background(), append([]string{"set", "k", "\xff\xfe\x00a"}, region...)...).want(t, exitOK, "set")
	m := decodeJSON(t, inProcess(t, context.Background(), append([]string{"get", "--json", "k"}, region...)...).want(t, exitOK, "get --json").stdout)
	if _, has := m["value"]; has || m["value_base64"] != "//4AYQ==" {
		t.Errorf("get --json of binary bytes: %v", m)
	}
	if m["size"].(float64) <= 4 || m["codec"] != "default" {
		t.Errorf("get --json: %v", m)
	}
}

// What set's help says of the type a value is stored as: an application
// reads a plain VALUE with Get[string], a --json-value object as
// map[string]any, either untyped (any, []byte), and as another type it is a
// miss.
func TestSetStoresAStringOrWhatJSONDecodesInto(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.c]\nbackend = \"file\"\narguments.filename = \"@DIR@/cache.db\"\n")
	r := inProcess(t, context.Background(), "set", "--help").want(t, exitOK, "set --help")
	for _, want := range []string{"VALUE is written as a\nstring", "map[string]any for an object", "dogpile.Get[string]", "Get[any] or Get[[]byte]", "it is a miss"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("set --help does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "as the region's applications would") {
		t.Errorf("set --help claims what it does not do:\n%s", r.stdout)
	}
	inProcess(t, context.Background(), "set", "--config", cfg, "s", "42").want(t, exitOK, "set")
	inProcess(t, context.Background(), "set", "--config", cfg, "--json-value", "j", `{"id":42}`).want(t, exitOK, "set --json-value")

	f, err := config.Read(cfg)
	if err != nil {
		t.Fatal(err)
	}
	region, err := f.Regions[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer region.Close()
	ctx := context.Background()
	if v, ok, err := dogpile.Get[string](ctx, region, "s"); !ok || err != nil || v != "42" {
		t.Errorf("Get[string]: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := dogpile.Get[any](ctx, region, "s"); !ok || err != nil || v != "42" {
		t.Errorf("Get[any]: %#v, %v, %v", v, ok, err)
	}
	if v, ok, err := dogpile.Get[[]byte](ctx, region, "s"); !ok || err != nil || string(v) != "42" {
		t.Errorf("Get[[]byte]: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := dogpile.Get[int](ctx, region, "s"); ok || err != nil {
		t.Errorf("Get[int] of a string: %v, %v, %v; want a miss", v, ok, err)
	}
	if v, ok, err := dogpile.Get[map[string]any](ctx, region, "j"); !ok || err != nil || v["id"] != 42.0 {
		t.Errorf("Get[map[string]any]: %v, %v, %v", v, ok, err)
	}
	type user struct{ ID int }
	if v, ok, err := dogpile.Get[user](ctx, region, "j"); ok || err != nil {
		t.Errorf("Get[user] of a --json-value object: %v, %v, %v; want a miss", v, ok, err)
	}
}

// set KEY - stores standard input, exactly.
func TestSetReadsTheValueFromStandardInput(t *testing.T) {
	region := fileRegion(t)
	const value = "line 1\nline 2\n"
	old := stdin
	stdin = strings.NewReader(value)
	t.Cleanup(func() { stdin = old })
	inProcess(t, context.Background(), append([]string{"set", "k", "-"}, region...)...).want(t, exitOK, "set k -")
	if r := inProcess(t, context.Background(), append([]string{"get", "--raw", "k"}, region...)...).want(t, exitOK, "get"); r.stdout != value {
		t.Errorf("get --raw printed %q, want %q", r.stdout, value)
	}
}

// Regions with the json codec store the value --json-value describes, and
// get prints it as JSON; a region whose codec is named "default" prints the
// stored bytes as the unnamed default does. A --json-value that is not JSON
// is a usage error.
func TestValuesByCodec(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.j]
backend = "file"
codec = "json"
arguments.filename = "@DIR@/j.db"
[cache.d]
backend = "file"
codec = "default"
arguments.filename = "@DIR@/d.db"
`)
	in := func(region string, args ...string) result {
		return inProcess(t, context.Background(), append(args, "--config", cfg, "--region", region)...)
	}
	in("j", "set", "--json-value", "user", `{"name":"Ada","id":42}`).want(t, exitOK, "set --json-value")
	if r := in("j", "get", "user").want(t, exitOK, "get"); r.stdout != `{"id":42,"name":"Ada"}`+"\n" {
		t.Errorf("get of a json value printed %q", r.stdout)
	}
	in("j", "set", "text", `{"name":"Ada"}`).want(t, exitOK, "set without --json-value")
	if r := in("j", "get", "text").want(t, exitOK, "get"); r.stdout != `"{\"name\":\"Ada\"}"`+"\n" {
		t.Errorf("get of a string in a json region printed %q", r.stdout)
	}
	in("d", "set", "k", "plain").want(t, exitOK, "set")
	if r := in("d", "get", "k").want(t, exitOK, "get"); r.stdout != "plain\n" {
		t.Errorf("get from a codec = \"default\" region printed %q", r.stdout)
	}
	r := in("j", "set", "--json-value", "user", "{nope").want(t, exitUsage, "set --json-value of no JSON")
	if !strings.HasPrefix(r.stderr, "dogpile: set: --json-value: the value is not JSON: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q", r.stderr)
	}
}

// delete deletes every key it is given.
func TestDeleteDeletesEveryKey(t *testing.T) {
	region := fileRegion(t)
	for _, k := range []string{"a", "b", "c"} {
		inProcess(t, context.Background(), append([]string{"set", k, "v"}, region...)...).want(t, exitOK, "set")
	}
	inProcess(t, context.Background(), append([]string{"delete", "a", "b", "c"}, region...)...).want(t, exitOK, "delete")
	if r := inProcess(t, context.Background(), append([]string{"keys"}, region...)...).want(t, exitOK, "keys"); r.stdout != "" {
		t.Errorf("keys after deleting them all: %q", r.stdout)
	}
}

// invalidate takes exactly one of --hard and --soft, and says when other
// processes see the invalidation: with their next read, or within their
// refresh interval.
func TestInvalidateFlagsAndWhenProcessesSeeIt(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.every]
backend = "file"
shared_invalidation = true
arguments.filename = "@DIR@/every.db"
[cache.refresh]
backend = "file"
shared_invalidation = "30s"
arguments.filename = "@DIR@/refresh.db"
`)
	r := inProcess(t, context.Background(), "invalidate", "--hard", "--soft", "--config", cfg, "--region", "every").want(t, exitUsage, "--hard --soft")
	if want := "dogpile: invalidate: give exactly one of --hard and --soft (see dogpile invalidate --help)\n"; r.stderr != want {
		t.Errorf("stderr %q", r.stderr)
	}
	for region, seen := range map[string]string{
		"every":   "see it with their next read\n",
		"refresh": "see it within 30s (their refresh interval)\n",
	} {
		r := inProcess(t, context.Background(), "invalidate", "--soft", "--config", cfg, "--region", region).want(t, exitOK, "invalidate")
		if !strings.HasPrefix(r.stdout, `region "`+region+`" (file backend, from `+cfg+`): soft invalidation at `) || !strings.HasSuffix(r.stdout, seen) {
			t.Errorf("invalidate --soft in %s printed %q", region, r.stdout)
		}
	}
}

// inspect shows a key's metadata line by line: no "stored as" line for a
// key stored as it is, "none" for a region without expiration; with --json
// the same, typed, and the expiration in seconds when there is one.
func TestInspectShowsTheMetadata(t *testing.T) {
	region := fileRegion(t)
	inProcess(t, context.Background(), append([]string{"set", "k", "v"}, region...)...).want(t, exitOK, "set")
	r := inProcess(t, context.Background(), append([]string{"inspect", "k"}, region...)...).want(t, exitOK, "inspect")
	for _, line := range []string{
		`key         k`, `region      ` + regexp.QuoteMeta(adHocDesc), `expiration  none`, `state       fresh \(no expiration\)`,
		`size        \d+ bytes`, `codec       default`, `format      ` + strconv.Itoa(dogpile.FormatVersion), `signed      false`,
		`created     \d{4}-\d\d-\d\dT[\d:.]+Z`, `age         \d+(\.\d+)?(µs|ms|s)`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(r.stdout) {
			t.Errorf("inspect lacks the line %q:\n%s", line, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "stored as") {
		t.Errorf("inspect shows a stored key for a key stored as it is:\n%s", r.stdout)
	}

	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.e]
backend = "file"
expiration_time = 600
arguments.filename = "@DIR@/e.db"
`)
	inProcess(t, context.Background(), "set", "--config", cfg, "k", "v").want(t, exitOK, "set")
	m := decodeJSON(t, inProcess(t, context.Background(), "inspect", "--json", "--config", cfg, "k").want(t, exitOK, "inspect --json").stdout)
	if _, has := m["stored_key"]; has || m["expiration_seconds"] != 600.0 || m["signed"] != nil || m["codec"] != "default" ||
		!regexp.MustCompile(`^fresh \(expires in (10m0s|9m5\ds)\)$`).MatchString(m["state"].(string)) {
		t.Errorf("inspect --json: %v", m)
	}
}

// inspect says why a region cannot read an entry that is there: another
// codec, or a signature it cannot verify.
func TestInspectSaysWhyAnEntryIsUnreadable(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.j]
backend = "file"
codec = "json"
arguments.filename = "@DIR@/shared.db"
[cache.d]
backend = "file"
arguments.filename = "@DIR@/shared.db"
[cache.s]
backend = "file"
signing_keys = ["${DOGPILE_SIGNING_KEY}"]
arguments.filename = "@DIR@/shared.db"
`)
	in := func(region string, args ...string) result {
		return inProcess(t, context.Background(), append(args, "--config", cfg, "--region", region)...)
	}
	t.Setenv("DOGPILE_SIGNING_KEY", "0123456789abcdef0123456789abcdef")
	in("j", "set", "written-as-json", "v").want(t, exitOK, "set")
	r := in("d", "inspect", "written-as-json").want(t, exitOK, "inspect")
	if !strings.Contains(r.stdout, "state       unreadable by this region: written with codec \"json\", the region uses \"default\" (a miss)\n") {
		t.Errorf("inspect of another codec's entry:\n%s", r.stdout)
	}
	in("s", "set", "signed", "v").want(t, exitOK, "set")
	t.Setenv("DOGPILE_SIGNING_KEY", "another key, another key, 32 b")
	r = in("s", "inspect", "signed").want(t, exitOK, "inspect")
	if !strings.Contains(r.stdout, "state       unreadable by this region: signed, and this region cannot verify it (a miss)\n") ||
		!strings.Contains(r.stdout, "signed      true\n") {
		t.Errorf("inspect of an entry signed with another key:\n%s", r.stdout)
	}
}

// Bytes in the store that are not a dogpile entry are a failure (1) that
// says so, not a key without a value.
func TestInspectOfBytesThatAreNoEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	rf := &regionFlags{backend: "file", args: argList{"filename=" + path}}
	tg, err := rf.open()
	if err != nil {
		t.Fatal(err)
	}
	err = tg.region.Backend().Set(context.Background(), "k", []byte("junk"))
	tg.region.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := inProcess(t, context.Background(), "inspect", "--backend", "file", "--arg", "filename="+path, "k").want(t, exitError, "inspect")
	if !strings.HasPrefix(r.stderr, `dogpile: inspect: key "k" holds 4 bytes that are not a dogpile entry (written by something else?): `) || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// keys: --limit stops the listing (and says so on standard error only when
// keys were left out; 0 lists all), --all adds the library's own keys,
// --json of no keys is an empty array, and a store that cannot list its
// keys is a failure that says so.
func TestKeysListing(t *testing.T) {
	region := fileRegion(t)
	keys := func(args ...string) result {
		return inProcess(t, context.Background(), append(append([]string{"keys"}, args...), region...)...).want(t, exitOK, "keys "+strings.Join(args, " "))
	}
	if r := keys("--json"); r.stdout != "[]\n" {
		t.Errorf("keys --json of an empty store printed %q", r.stdout)
	}
	for _, k := range []string{"a", "b", "c"} {
		inProcess(t, context.Background(), append([]string{"set", k, "v"}, region...)...).want(t, exitOK, "set")
	}
	for _, c := range []struct {
		limit, stdout, stderr string
	}{
		{"2", "a\nb\n", "dogpile: keys: stopped at --limit 2\n"},
		{"3", "a\nb\nc\n", ""},
		{"0", "a\nb\nc\n", ""},
	} {
		if r := keys("--limit", c.limit); r.stdout != c.stdout || r.stderr != c.stderr {
			t.Errorf("keys --limit %s: stdout %q, stderr %q; want %q, %q", c.limit, r.stdout, r.stderr, c.stdout, c.stderr)
		}
	}
	inProcess(t, context.Background(), append([]string{"invalidate", "--hard"}, region...)...).want(t, exitOK, "invalidate")
	if r := keys(); r.stdout != "a\nb\nc\n" {
		t.Errorf("keys printed %q", r.stdout)
	}
	if r := keys("--all"); r.stdout != "a\nb\nc\ndogpile:invalidated:default\n" {
		t.Errorf("keys --all printed %q", r.stdout)
	}
	r := inProcess(t, context.Background(), "keys", "--backend", "null").want(t, exitError, "keys of the null backend")
	if want := "dogpile: keys: the null backend cannot list its keys; dogpile inspect KEY shows one key\n"; r.stderr != want || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// keys lists the region's own keys, as get, set and delete take them: in a
// store shared with another region, a region with a key_prefix lists the
// keys under it, without it, and not the other region's (with --prefix as
// without); the region without one lists every key of the store. The
// library's record
// stays hidden without --all. A region whose keys are SHA-1 hashes refuses,
// as its hashes name nothing.
func TestKeysListsTheRegionsOwnKeys(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.users]
backend = "file"
key_prefix = "users:"
shared_invalidation = true
arguments.filename = "@DIR@/shared.db"
[cache.other]
backend = "file"
arguments.filename = "@DIR@/shared.db"
[cache.hashed]
backend = "file"
key_mangler = "sha1"
arguments.filename = "@DIR@/shared.db"
`)
	in := func(region string, args ...string) []string {
		return append(args, "--config", cfg, "--region", region)
	}
	for _, k := range []string{"user:404", "user:42"} {
		inProcess(t, context.Background(), in("other", "set", k, "other's")...).want(t, exitOK, "set in other")
	}
	inProcess(t, context.Background(), in("users", "set", "user:42", "Ada")...).want(t, exitOK, "set in users")
	inProcess(t, context.Background(), in("users", "invalidate", "--soft")...).want(t, exitOK, "invalidate users")
	for _, c := range []struct {
		region string
		args   []string
		stdout string
	}{
		{"users", []string{"--prefix", "user:"}, "user:42\n"},
		{"users", nil, "user:42\n"},
		{"users", []string{"--json"}, "[\n  \"user:42\"\n]\n"},
		{"users", []string{"--all"}, "dogpile:invalidated:users\nuser:42\n"},
		{"users", []string{"--prefix", "user:4"}, "user:42\n"},
		{"users", []string{"--prefix", "users:"}, ""},
		{"other", []string{"--prefix", "user:"}, "user:404\nuser:42\n"},
		// Its key space is the store's: the other region's record is a key
		// in it, that only the other region knows is one.
		{"other", nil, "user:404\nuser:42\nusers:dogpile:invalidated:users\nusers:user:42\n"},
	} {
		r := inProcess(t, context.Background(), in(c.region, append([]string{"keys"}, c.args...)...)...).want(t, exitOK, "keys")
		if r.stdout != c.stdout || r.stderr != "" {
			t.Errorf("keys --region %s %v: stdout %q, stderr %q; want %q", c.region, c.args, r.stdout, r.stderr, c.stdout)
		}
	}
	// What keys prints is what get takes.
	inProcess(t, context.Background(), in("users", "set", "user:7", "Grace")...).want(t, exitOK, "set")
	r := inProcess(t, context.Background(), in("users", "keys", "--prefix", "user:7")...).want(t, exitOK, "keys")
	if r := inProcess(t, context.Background(), in("users", "get", strings.TrimSuffix(r.stdout, "\n"))...).want(t, exitOK, "get of a listed key"); r.stdout != "Grace\n" {
		t.Errorf("get of the listed key printed %q", r.stdout)
	}
	r = inProcess(t, context.Background(), in("hashed", "keys")...).want(t, exitError, "keys of a region with key_mangler = sha1")
	if want := `dogpile: keys: region "hashed" stores its keys as their SHA-1 (key_mangler = "sha1"), which cannot be turned back into ` +
		"the keys that get and set take; dogpile inspect KEY shows where one key is stored\n"; r.stderr != want || r.stdout != "" {
		t.Errorf("keys of a hashed region: stdout %q, stderr\n got %q\nwant %q", r.stdout, r.stderr, want)
	}
}

// On Memcached, a region's key that Memcached would refuse is stored as its
// SHA-1 (the backend's key mangler); keys lists that hash, and get takes it,
// as the help says.
func TestKeysOfMemcachedsHashedKeysReachTheirEntries(t *testing.T) {
	srv := testserver.Memcached(t, testserver.MemcachedOptions{})
	region := []string{"--backend", "memcached", "--arg", "url=" + srv.Addr()}
	inProcess(t, context.Background(), append([]string{"set", "has space", "v"}, region...)...).want(t, exitOK, "set")
	inProcess(t, context.Background(), append([]string{"set", "plain", "w"}, region...)...).want(t, exitOK, "set")
	r := inProcess(t, context.Background(), append([]string{"keys", "--json"}, region...)...).want(t, exitOK, "keys")
	var keys []string
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("keys --json: %v\n%s", err, r.stdout)
	}
	slices.Sort(keys)
	hash := dogpile.SHA1Mangler("has space")
	if want := []string{hash, "plain"}; !slices.Equal(keys, want) {
		t.Fatalf("keys listed %q; want %q", keys, want)
	}
	if r := inProcess(t, context.Background(), append([]string{"get", hash}, region...)...).want(t, exitOK, "get of the hash"); r.stdout != "v\n" {
		t.Errorf("get of the listed hash printed %q", r.stdout)
	}
}

// hashingMemory is a memory store with a key mangler of its own, as a
// third-party backend may have: keys that begin with "h:" are stored as
// "h:" and their SHA-1, which the mangler would hash again.
type hashingMemory struct{ *dogpile.MemoryBackend }

func (hashingMemory) KeyMangler() func(string) string {
	return func(key string) string {
		if rest, ok := strings.CutPrefix(key, "h:"); ok {
			return "h:" + dogpile.SHA1Mangler(rest)
		}
		return key
	}
}

var hashingRuns atomic.Int32

// keys leaves out the stored keys that no key reaches, whatever mangler made
// them, and says how many it left out.
func TestKeysLeavesOutWhatTheManglerMade(t *testing.T) {
	m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A name per run: the registry keeps it for the process (-count=2).
	name := "test-hashing-memory-" + strconv.Itoa(int(hashingRuns.Add(1)))
	if err := dogpile.RegisterBackend(name, func(dogpile.Args) (dogpile.Backend, error) { return hashingMemory{m}, nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"h:secret", "plain"} {
		inProcess(t, context.Background(), "set", "--backend", name, k, "v").want(t, exitOK, "set "+k)
	}
	r := inProcess(t, context.Background(), "keys", "--backend", name).want(t, exitOK, "keys")
	if want := "dogpile: keys: stored keys left out: 1, made by the region's key mangler, which cannot be turned back into keys\n"; r.stdout != "plain\n" || r.stderr != want {
		t.Errorf("keys: stdout %q, stderr\n got %q\nwant %q", r.stdout, r.stderr, want)
	}
}

// stats of a region whose store reports nothing: its settings, as
// configured, and the two notes; with --json, typed, and no reports.
func TestStatsOfAStoreThatReportsNothing(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.n]
backend = "null"
expiration_time = 600
shared_invalidation = "30s"
key_prefix = "p:"
key_mangler = "sha1"
[cache.plain]
backend = "null"
`)
	r := inProcess(t, context.Background(), "stats", "--config", cfg, "--region", "n").want(t, exitOK, "stats")
	want := `region               n
configuration        ` + cfg + `
backend              null
expiration           10m0s
shared invalidation  yes, re-read every 30s
key prefix           p:
key mangler          sha1
codec                default
signed               false
metrics              false

store: the null backend reports nothing about itself

` + countersNote + "\n"
	if r.stdout != want {
		t.Errorf("stats printed\n%s\nwant\n%s", r.stdout, want)
	}
	r = inProcess(t, context.Background(), "stats", "--config", cfg, "--region", "plain").want(t, exitOK, "stats")
	for _, line := range []string{"expiration           none\n", "shared invalidation  no (invalidations stay in the process that makes them)\n", "key prefix           none\n", "key mangler          none\n"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stats lacks %q:\n%s", line, r.stdout)
		}
	}
	var got struct {
		Region map[string]any   `json:"region"`
		Store  []map[string]any `json:"store"`
	}
	r = inProcess(t, context.Background(), "stats", "--json", "--config", cfg, "--region", "n").want(t, exitOK, "stats --json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Store == nil || len(got.Store) != 0 {
		t.Fatalf("stats --json: %v\n%s", err, r.stdout)
	}
	for name, want := range map[string]any{
		"expiration_seconds": 600.0, "invalidation_refresh_seconds": 30.0, "shared_invalidation": true,
		"key_prefix": "p:", "key_mangler": "sha1", "codec": "default", "backend": "null", "name": "n",
	} {
		if got.Region[name] != want {
			t.Errorf("stats --json: region.%s = %v, want %v", name, got.Region[name], want)
		}
	}
}

// demo and the expired-stampede bench expire their own values by soft
// invalidations that must stay in their process: on a region with
// shared_invalidation, the other values of the store stay fresh.
func TestDemoAndBenchLeaveTheRegionsValuesFresh(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.shared]
backend = "file"
shared_invalidation = true
arguments.filename = "@DIR@/cache.db"
`)
	in := func(args ...string) result {
		return inProcess(t, context.Background(), append(args, "--config", cfg)...)
	}
	in("set", "user:42", "Ada").want(t, exitOK, "set")
	for _, args := range [][]string{
		{"demo", "-n", "2", "--delay", "1ms"},
		{"bench", "--load", "expired-stampede", "-c", "2", "--rounds", "1", "--delay", "1ms", "--json"},
	} {
		in(args...).want(t, exitOK, args[0])
		if r := in("get", "user:42").want(t, exitOK, "get after "+args[0]); r.stdout != "Ada\n" {
			t.Errorf("get after %s printed %q", args[0], r.stdout)
		}
	}
}

// demo and bench refuse numbers they cannot run with.
func TestDemoAndBenchRefuseBadNumbers(t *testing.T) {
	region := fileRegion(t)
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"demo", "-n", "0"}, "dogpile: demo: -n must be at least 1 and --delay positive\n"},
		{[]string{"demo", "--delay", "0s"}, "dogpile: demo: -n must be at least 1 and --delay positive\n"},
		{[]string{"bench", "-c", "-1"}, "dogpile: bench: -c, -n, --rounds and --keys must be at least 1, --value-size and --delay not negative\n"},
		{[]string{"bench", "--rounds", "0", "--load", "cold-stampede"}, "dogpile: bench: -c, -n, --rounds and --keys must be at least 1, --value-size and --delay not negative\n"},
	} {
		r := inProcess(t, context.Background(), append(c.args, region...)...).want(t, exitUsage, strings.Join(c.args, " "))
		if r.stderr != c.stderr || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr %q; want %q", c.args, r.stdout, r.stderr, c.stderr)
		}
	}
}

// bench's defaults and what it reports of each load: 16 callers for the hit
// load (and its keys), 100 for a stampede (its rounds and the most creator
// calls in one), said in the table as well.
func TestBenchReportsItsParameters(t *testing.T) {
	region := fileRegion(t)
	bench := func(args ...string) result {
		return inProcess(t, context.Background(), append(append([]string{"bench"}, args...), region...)...).want(t, exitOK, "bench "+strings.Join(args, " "))
	}
	m := decodeJSON(t, bench("--json", "-n", "40", "--keys", "5").stdout)
	if m["concurrency"] != 16.0 || m["keys"] != 5.0 || m["requests"] != 40.0 || m["rounds"] != nil {
		t.Errorf("bench --load hit --json: %v", m)
	}
	m = decodeJSON(t, bench("--json", "--load", "cold-stampede", "--rounds", "2", "--delay", "1ms").stdout)
	if m["concurrency"] != 100.0 || m["rounds"] != 2.0 || m["max_creator_calls_per_round"] != 1.0 || m["creator_calls"] != 2.0 || m["keys"] != nil {
		t.Errorf("bench --load cold-stampede --json: %v", m)
	}
	if r := bench("--load", "cold-stampede", "-c", "5", "--rounds", "3", "--delay", "1ms"); !regexp.MustCompile(`\s3 \(at most 1 a round\)\n`).MatchString(r.stdout) {
		t.Errorf("bench --load cold-stampede:\n%s", r.stdout)
	}
	plot := filepath.Join(t.TempDir(), "LATENCY.PNG")
	bench("-n", "20", "--keys", "2", "--plot", plot)
	if _, err := os.Stat(plot); err != nil {
		t.Errorf("bench --plot %s: %v", plot, err)
	}
}

// The quantiles are nearest-rank: the smallest latency at or above the
// share q of the requests.
func TestBenchQuantilesAreNearestRank(t *testing.T) {
	res := &benchResult{}
	for i := 1; i <= 10; i++ {
		res.latencies = append(res.latencies, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 5 * time.Millisecond, 0.9: 9 * time.Millisecond, 0.99: 10 * time.Millisecond, 1: 10 * time.Millisecond, 0.05: time.Millisecond} {
		if got := res.quantile(q); got != want {
			t.Errorf("quantile(%v) of 1ms…10ms = %v, want %v", q, got, want)
		}
	}
}

// A configuration named by $DOGPILE_CONFIG is a configuration file like
// --config's: its mistakes are named by file, line and key, not by flags.
func TestConfigFromTheEnvironmentNamesItsMistakes(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.local]\nbackend = \"redis\"\narguments.url = \"nope://x\"\n")
	want := "dogpile: " + cfg + `:3: cache.local.arguments.url: "nope://x": invalid URL scheme: nope` + "\n"
	r := inProcess(t, context.Background(), "get", "--config", cfg, "k").want(t, exitUsage, "get --config")
	if r.stderr != want {
		t.Errorf("--config: stderr\n got %q\nwant %q", r.stderr, want)
	}
	var out, errOut bytes.Buffer
	t.Setenv(configEnv, cfg)
	if code := run(context.Background(), []string{"get", "k"}, &out, &errOut); code != exitUsage || errOut.String() != want {
		t.Errorf("$%s: exit %d, stderr\n got %q\nwant %q", configEnv, code, errOut.String(), want)
	}
}

// A configuration file that $DOGPILE_CONFIG names, and that cannot be used
// as a whole (missing, without the region asked for, beside --backend), is
// named with the variable: the user did not type the path. --config's is
// named as typed.
func TestConfigFromTheEnvironmentSaysSo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone.toml")
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.a]\nbackend = \"memory\"\n[cache.b]\nbackend = \"memory\"\n")
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{missing, []string{"get", "k"}, "dogpile: " + missing + " (from $DOGPILE_CONFIG): no such configuration file\n"},
		{cfg, []string{"get", "--region", "c", "k"}, "dogpile: " + cfg + ` (from $DOGPILE_CONFIG): no region "c" (regions: a, b)` + "\n"},
		{cfg, []string{"get", "k"}, "dogpile: " + cfg + " (from $DOGPILE_CONFIG) has 2 regions (a, b): choose one with --region\n"},
		{cfg, []string{"get", "--backend", "file", "k"}, "dogpile: --backend and --arg are for use without a configuration file; " + cfg + " (from $DOGPILE_CONFIG) is given\n"},
		{"", []string{"get", "--config", missing, "k"}, "dogpile: " + missing + ": no such configuration file\n"},
	} {
		t.Setenv(configEnv, c.env)
		var out, errOut bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errOut); code != exitUsage || errOut.String() != c.want || out.Len() != 0 {
			t.Errorf("$%s=%s %v: exit %d, stdout %q, stderr\n got %q\nwant %q", configEnv, c.env, c.args, code, out.String(), errOut.String(), c.want)
		}
	}
}

// A key Memcached cannot store: the message says what is wrong with it and
// the setting that fixes it, and not the backend's advice to Go programmers
// (dogpile.SHA1Mangler), which a command-line user cannot follow. The key
// is refused before anything is sent, so no server is needed.
func TestMemcachedKeyErrorHasNoGoAdvice(t *testing.T) {
	cfg := testutil.WriteFile(t, "dogpile.toml", "[cache.m]\nbackend = \"memcached\"\nkey_mangler = \"none\"\narguments.url = \"127.0.0.1:1\"\n")
	const fix = `; to store such keys, set key_mangler = "sha1" in the region's configuration (cache.<region>.key_mangler): keys are then stored as their SHA-1` + "\n"
	for key, reason := range map[string]string{
		"has space":              `memcached backend: set "has space": invalid argument: memcached key "has space": byte 3 is ' '; Memcached keys can hold no spaces or control characters`,
		strings.Repeat("k", 300): `memcached backend: set "` + strings.Repeat("k", 300) + `": invalid argument: memcached key "` + strings.Repeat("k", 64) + `"…: 300 bytes, over Memcached's 250-byte limit`,
	} {
		r := inProcess(t, context.Background(), "set", "--config", cfg, key, "v").want(t, exitUsage, "set of a bad key")
		if want := "dogpile: set: " + reason + fix; r.stderr != want {
			t.Errorf("stderr\n got %q\nwant %q", r.stderr, want)
		}
	}
}

// A store that cannot report (its server is down) is shown with its error,
// in the table and in the JSON, in place of its numbers, and the command
// fails (exit 1), saying how many servers did not report.
func TestStatsShowsAStoresError(t *testing.T) {
	region := []string{"--backend", "redis", "--arg", "url=redis://127.0.0.1:1/0"}
	const reason = "cannot connect to redis at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"
	r := inProcess(t, context.Background(), append([]string{"stats"}, region...)...).want(t, exitError, "stats")
	if want := "dogpile: stats: 1 of 1 servers did not report (the error rows above say why)\n"; r.stderr != want {
		t.Errorf("stats of a stopped server: stderr %q; want %q", r.stderr, want)
	}
	if !strings.Contains(r.stdout, "\nstore: redis at 127.0.0.1:1\n  error  "+reason+"\n\n") {
		t.Errorf("stats of a stopped server:\n%s", r.stdout)
	}
	var got struct {
		Store []map[string]any `json:"store"`
	}
	r = inProcess(t, context.Background(), append([]string{"stats", "--json"}, region...)...).want(t, exitError, "stats --json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Store) != 1 || got.Store[0]["error"] != reason || len(got.Store[0]) != 2 {
		t.Errorf("stats --json of a stopped server: %v\n%s", err, r.stdout)
	}
}
