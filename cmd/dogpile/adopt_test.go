package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// --version prints the module version the toolchain recorded.
func TestVersion(t *testing.T) {
	r := dp(t, nil, "--version").want(t, exitOK, "--version")
	if !regexp.MustCompile(`^dogpile (\(devel\)|v\d+\.\d+\.\d+\S*)( \([0-9a-f]{1,12}(, modified)?\))?, go1\.\d+`).MatchString(r.stdout) {
		t.Errorf("--version printed %q", r.stdout)
	}
	if r2 := dp(t, nil, "version").want(t, exitOK, "version"); r2.stdout != r.stdout {
		t.Errorf("version and --version differ: %q, %q", r2.stdout, r.stdout)
	}
}

// A mistyped command gets the command that was meant, as a mistyped key does.
func TestCommandSuggestion(t *testing.T) {
	for typed, meant := range map[string]string{"gte": "get", "stat": "stats", "invaldate": "invalidate", "bnech": "bench"} {
		r := dp(t, nil, typed, "k").want(t, exitUsage, typed)
		if want := fmt.Sprintf("dogpile: unknown command %q; did you mean %q?\n", typed, meant); r.stderr != want {
			t.Errorf("stderr %q; want %q", r.stderr, want)
		}
	}
	if r := dp(t, nil, "frobnicate").want(t, exitUsage, "no near command"); !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("an unknown command with nothing near: %q", r.stderr)
	}
}

// A flag before the command is not taken for an unknown command: the
// message says that flags go after it, with the line as it should be when
// an argument is a command, quoted for the shell.
func TestFlagsBeforeTheCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "file", "get", "k"}, "dogpile: flags go after the command: dogpile get --backend file k\n"},
		{[]string{"-config", "my cache.toml", "set", "k", "it's"}, `dogpile: flags go after the command: dogpile set -config 'my cache.toml' k 'it'\''s'` + "\n"},
		{[]string{"--json"}, "dogpile: --json: flags go after the command: dogpile <command> --json … (see dogpile --help)\n"},
	} {
		if r := dp(t, nil, c.args...).want(t, exitUsage, strings.Join(c.args, " ")); r.stderr != c.want || r.stdout != "" {
			t.Errorf("%q: stdout %q, stderr\n got %q\nwant %q", c.args, r.stdout, r.stderr, c.want)
		}
	}
}

// flagToken is a flag as a help text writes it: one or two dashes and a
// name, after a space, a bracket or a parenthesis.
var flagToken = regexp.MustCompile(`(?:^|[\s\[(|])(--?)([a-z][a-z0-9-]*)\b`)

// Every command's help writes its flags as its flag list does, and lists
// each as the help writes it: -c, -n for one letter, --json for a word.
func TestHelpAndFlagListAgree(t *testing.T) {
	for _, c := range commands {
		r := dp(t, nil, c.name, "--help").want(t, exitOK, c.name+" --help")
		text, list, ok := strings.Cut(r.stdout, "\nFlags:\n")
		if !ok {
			t.Fatalf("%s --help has no flag list:\n%s", c.name, r.stdout)
		}
		listed := map[string]string{} // name → dashes
		for _, line := range strings.Split(list, "\n") {
			if m := regexp.MustCompile(`^  (--?)([a-z][a-z0-9-]*)`).FindStringSubmatch(line); m != nil {
				listed[m[2]] = m[1]
				if want := flagName(m[2]); m[1]+m[2] != want {
					t.Errorf("%s: the flag list shows %s%s; want %s", c.name, m[1], m[2], want)
				}
			}
		}
		if len(listed) == 0 {
			t.Fatalf("%s: no flags listed:\n%s", c.name, list)
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "$?") {
				continue // a shell test ([ $? -eq 3 ]), not a flag
			}
			for _, m := range flagToken.FindAllStringSubmatch(line, -1) {
				dashes, ok := listed[m[2]]
				if !ok {
					t.Errorf("%s --help mentions %s%s, which is not among its flags", c.name, m[1], m[2])
				} else if dashes != m[1] {
					t.Errorf("%s --help writes %s%s; its flag list %s%s", c.name, m[1], m[2], dashes, m[2])
				}
			}
		}
	}
}

// redisKeys returns the keys of the Redis server at addr.
func redisKeys(t *testing.T, addr string) []string {
	t.Helper()
	reply, err := testserver.Do(context.Background(), addr, "KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range reply.([]any) {
		keys = append(keys, fmt.Sprint(k))
	}
	return keys
}

// Ctrl-C in bench: the command exits with status 130, after its creators
// returned and released their distributed locks, and its keys are deleted.
// The signal is sent while a creator holds a lock on the server.
func TestInterruptReleasesLocks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	srv := testserver.StartRedis(t)
	cfg := testutil.WriteFile(t, "dogpile.toml", fmt.Sprintf(`
[cache.r]
backend = "redis"
arguments.url = "redis://%s/0"
arguments.distributed_lock = true
arguments.lock_timeout = 60
`, srv.Addr()))
	cmd := exec.Command(binary, "bench", "--config", cfg, "--load", "cold-stampede", "-c", "20", "--rounds", "100", "--delay", "30s")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // ended already, unless the test failed
	locked := func() []string {
		var held []string
		for _, k := range redisKeys(t, srv.Addr()) {
			if strings.Contains(k, "dogpile:lock:") {
				held = append(held, k)
			}
		}
		return held
	}
	if err := testserver.WaitFor(20*time.Second, "a creator holding its lock", func(context.Context) error {
		if len(locked()) == 0 {
			return fmt.Errorf("no lock key")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr.String())
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code != exitInterrupted {
		t.Fatalf("exit %d (%v), want %d\nstderr: %s", code, err, exitInterrupted, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the command took %v to stop after the interrupt", d)
	}
	if held := locked(); len(held) > 0 {
		t.Errorf("lock keys left behind: %q", held)
	}
	if keys := redisKeys(t, srv.Addr()); len(keys) > 0 {
		t.Errorf("keys left behind: %q", keys)
	}
	if !strings.HasSuffix(stderr.String(), "dogpile: bench: interrupted\n") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// A key with a newline and an escape sequence, and a value with a terminal
// control: keys prints one line per key, escaped; --raw the bytes; --json
// a JSON array. get prints the value as stored into a pipe.
func TestKeysAndValuesPrintedSafely(t *testing.T) {
	const key, value = "evil\nkey\x1b[2J\xff", "red\x1b[31mtext\a\n"
	dp(t, nil, "set", key, value).want(t, exitOK, "set")
	dp(t, nil, "set", "plain", "v").want(t, exitOK, "set")
	if r := dp(t, nil, "keys").want(t, exitOK, "keys"); r.stdout != `evil\nkey\x1b[2J\xff`+"\nplain\n" {
		t.Errorf("keys printed %q", r.stdout)
	}
	if r := dp(t, nil, "keys", "--raw").want(t, exitOK, "keys --raw"); r.stdout != key+"\nplain\n" {
		t.Errorf("keys --raw printed %q", r.stdout)
	}
	var got []string
	r := dp(t, nil, "keys", "--json").want(t, exitOK, "keys --json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 2 || got[1] != "plain" || !strings.HasPrefix(got[0], "evil\nkey\x1b[2J") {
		t.Errorf("keys --json printed %q (%v)", r.stdout, err)
	}
	if r := dp(t, nil, "get", key).want(t, exitOK, "get into a pipe"); r.stdout != value+"\n" {
		t.Errorf("get into a pipe printed %q", r.stdout)
	}
	if r := dp(t, nil, "inspect", key).want(t, exitOK, "inspect"); !strings.Contains(r.stdout, `evil\nkey\x1b[2J\xff`) || strings.Contains(r.stdout, "\x1b") {
		t.Errorf("inspect printed the key unescaped:\n%q", r.stdout)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"user:42":              "user:42",
		"é and ü":              "é and ü",
		"a\nb":                 `a\nb`,
		"tab\there":            `tab\there`,
		"\x1b[31mred":          `\x1b[31mred`,
		"back\\slash":          `back\\slash`,
		"bad\xffutf8":          `bad\xffutf8`,
		"bidi\u202eoverride":   `bidi\u202eoverride`,
		"nbsp\u00a0and\u0085":  `nbsp\u00a0and\u0085`,
		"bell\a and del\x7f\r": `bell\x07 and del\x7f\r`,
	} {
		if got := escapeKey(in); got != want {
			t.Errorf("escapeKey(%q) = %s; want %s", in, got, want)
		}
	}
	if got := escapeValue("line 1\n\tline 2 \\ \x1b[2J"); got != "line 1\n\tline 2 \\ \\x1b[2J" {
		t.Errorf("escapeValue kept or lost the wrong things: %q", got)
	}
}

// A key Memcached cannot store, in a region whose key mangling is off: the
// message tells a command-line user the setting that fixes it, not the Go
// option.
func TestMemcachedKeyErrorNamesTheSetting(t *testing.T) {
	srv := testserver.Memcached(t, testserver.MemcachedOptions{})
	cfg := testutil.WriteFile(t, "dogpile.toml", fmt.Sprintf(`
[cache.m]
backend = "memcached"
key_mangler = "none"
arguments.url = "%s"
`, srv.Addr()))
	for _, key := range []string{"has space", strings.Repeat("k", 300)} {
		r := dp(t, nil, "set", "--config", cfg, key, "v").want(t, exitUsage, "set of a bad key")
		if !strings.Contains(r.stderr, `key_mangler = "sha1"`) || strings.Contains(r.stderr, "WithKeyMangler") ||
			strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "dogpile: set: ") {
			t.Errorf("stderr %q", r.stderr)
		}
	}
}

// The command looks into stores only through package backend's capabilities
// and dogpile's API: no backend's client, no SQL, no sockets of its own, and
// of the backend packages only what every user may use (the embedded
// default's path, the memcached key error and its type).
func TestCommandUsesOnlyCapabilities(t *testing.T) {
	forbidden := []string{"database/sql", "net", "github.com/redis/go-redis/v9", "github.com/bradfitz/gomemcache/memcache", "modernc.org/sqlite"}
	allowed := map[string][]string{ // package → the names it may be used for
		"github.com/dogpile-go/dogpile/backends/file":      {"DefaultPath"},
		"github.com/dogpile-go/dogpile/backends/memcached": {"ErrInvalidKey", "KeyError"},
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		local := map[string]string{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if slices.Contains(forbidden, path) {
				t.Errorf("%s imports %s", name, path)
			}
			if _, ok := allowed[path]; ok && (imp.Name == nil || imp.Name.Name != "_") {
				local[filepath.Base(path)] = path
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok {
					if path, ok := local[id.Name]; ok && !slices.Contains(allowed[path], x.Sel.Name) {
						t.Errorf("%s uses %s.%s", fset.Position(x.Pos()), id.Name, x.Sel.Name)
					}
				}
			case *ast.TypeAssertExpr:
				// A backend is asked for capabilities (backend.Lister), never
				// for what it is.
				if call, ok := x.X.(*ast.CallExpr); ok && isBackendCall(call) {
					if sel, ok := x.Type.(*ast.SelectorExpr); !ok || sel.X.(*ast.Ident).Name != "backend" {
						t.Errorf("%s: a backend asserted to a type outside package backend", fset.Position(x.Pos()))
					}
				}
			}
			return true
		})
	}
}

// isBackendCall reports whether call is region.Backend().
func isBackendCall(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Backend"
}

// A signed region is read by the command with the keys from its
// configuration (signing_keys, from the environment); with another key its
// entries are misses.
func TestSignedRegion(t *testing.T) {
	dir := t.TempDir()
	cfg := testutil.WriteFile(t, "dogpile.toml", `
[cache.s]
backend = "file"
shared_invalidation = true
signing_keys = ["${DOGPILE_SIGNING_KEY}"]
arguments.filename = "`+dir+`/signed.db"
`)
	key := []string{"DOGPILE_SIGNING_KEY=0123456789abcdef0123456789abcdef"}
	dp(t, key, "set", "--config", cfg, "k", "v").want(t, exitOK, "set")
	if r := dp(t, key, "get", "--config", cfg, "k").want(t, exitOK, "get"); r.stdout != "v\n" {
		t.Errorf("get printed %q", r.stdout)
	}
	m := decodeJSON(t, dp(t, key, "inspect", "--json", "--config", cfg, "k").want(t, exitOK, "inspect").stdout)
	if m["signed"] != true {
		t.Errorf("inspect --json: %v", m)
	}
	if st := decodeJSON(t, dp(t, key, "stats", "--json", "--config", cfg).want(t, exitOK, "stats").stdout); st["region"].(map[string]any)["signed"] != true {
		t.Errorf("stats --json: %v", st)
	}
	other := []string{"DOGPILE_SIGNING_KEY=another key, another key, 32 b"}
	dp(t, other, "get", "--config", cfg, "k").want(t, exitNotFound, "get with another key")
	r := dp(t, nil, "get", "--config", cfg, "k").want(t, exitUsage, "get without the variable")
	if !strings.Contains(r.stderr, "DOGPILE_SIGNING_KEY is not set") {
		t.Errorf("stderr %q", r.stderr)
	}
}
