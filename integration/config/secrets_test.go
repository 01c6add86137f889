package config_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/config"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// The secret of every case: "Passw0rd" must appear in no message, whether
// the password is written raw, escaped into a URL, or is a number.
const (
	secretMarker = "Passw0rd"
	secretRaw    = "S3cr%et-" + secretMarker // an invalid URL escape, as in the issue
	secretClean  = "S3cr3t-" + secretMarker  // a password a URL can hold
)

// The URL lines most TOML cases carry, with the password in the userinfo:
// raw (an invalid escape) or clean.
const (
	rawURL   = `arguments.url = "redis://app:@RAW@@cache.internal:6379/0"`
	cleanURL = `arguments.url = "redis://app:@CLEAN@@cache.internal:6379/0"`
)

// tomlRegion is a TOML file with region r on backend and lines below it, one
// a line. The TOML cases differ only in the lines under the same table
// header; writing the header once leaves each case showing its mistake.
func tomlRegion(backend string, lines ...string) string {
	return "\n[cache.r]\nbackend = " + strconv.Quote(backend) + "\n" + strings.Join(lines, "\n") + "\n"
}

// TestNoSecretInConfigErrors runs every kind of configuration mistake, and
// every way a backend refuses its arguments, with a password in the file —
// as an argument, in a URL, in nested connection arguments, as signing keys
// — and fails if the password shows in an error's message.
func TestNoSecretInConfigErrors(t *testing.T) {
	cases := []struct{ name, file, text string }{
		// The password's own value is wrong.
		{"URL that does not parse", "c.toml", tomlRegion("redis", rawURL)},
		{"URL that does not parse, nested", "c.yaml", `
cache:
  r:
    backend: redis_cluster
    arguments:
      url: "redis://app:@RAW@@cache.internal:6379/0"
`},
		{"numeric password", "c.toml", tomlRegion("redis",
			`arguments.url = "redis://cache.internal:6379/0"`,
			`arguments.password = 4242`+secretMarker[len(secretMarker):]+`4242`)},
		{"password a table", "c.toml", tomlRegion("redis", `arguments.password = { value = "@CLEAN@" }`)},
		{"sentinel password a number", "c.yaml", `
cache:
  r:
    backend: redis_sentinel
    arguments:
      sentinels: ["127.0.0.1:26379"]
      service_name: mymaster
      sentinel_password: ["@CLEAN@"]
`},
		{"password in an unterminated reference", "c.toml", tomlRegion("redis", `arguments.password = "@CLEAN@${oops"`)},
		{"password in a bad reference", "c.toml", tomlRegion("redis", `arguments.password = "${@CLEAN@}"`)},
		{"signing keys of the wrong type", "c.toml", tomlRegion("memory", `signing_keys = ["@CLEAN@", 5]`)},
		{"signing keys as a table", "c.yaml", `
cache:
  r:
    backend: memory
    signing_keys: {key: "@CLEAN@"}
`},
		{"the region given a password", "c.toml", `
[cache]
r = "@CLEAN@"
`},
		{"INI line without =", "c.ini", `
[cache.r]
backend = redis
password @CLEAN@
`},
		{"INI interpolation in a password", "c.ini", `
[cache.r]
backend = redis
arguments.password = @CLEAN@%(x)s
`},
		{"TOML syntax on the password's line", "c.toml", tomlRegion("redis", `arguments.password = "@CLEAN@`)},
		{"TOML bad escape in the password", "c.toml", tomlRegion("redis", `arguments.password = "@CLEAN@\q"`)},
		{"YAML syntax on the password's line", "c.yaml", `
cache:
  r:
    backend: redis
    arguments:
      password: "@CLEAN@
`},
		{"YAML password given twice", "c.yaml", `
cache:
  r:
    backend: redis
    arguments:
      password: "@CLEAN@"
      password: "@CLEAN@"
`},
		// The decoder's own message quotes the key, here a URL.
		{"YAML URL key given twice", "c.yaml", `
cache:
  r:
    backend: memory
    "redis://app:@CLEAN@@cache.internal": 1
    "redis://app:@CLEAN@@cache.internal": 2
`},

		// Another mistake, with the password right beside it.
		{"misspelt setting", "c.toml", tomlRegion("redis", `expiraton_time = 60`, cleanURL)},
		{"misspelt argument", "c.toml", tomlRegion("redis", cleanURL, `arguments.pasword = "@CLEAN@"`)},
		{"argument of the wrong type", "c.toml", tomlRegion("redis", cleanURL, `arguments.socket_timeout = "soon"`)},
		{"unknown backend", "c.toml", tomlRegion("rediss", cleanURL)},
		{"bad setting value", "c.toml", tomlRegion("redis",
			`codec = "cbor"`,
			`signing_keys = ["@CLEAN@"]`,
			`arguments.password = "@CLEAN@"`)},
		{"unset variable", "c.toml", tomlRegion("redis", `arguments.url = "redis://app:@CLEAN@@${REDIS_HOST}:6379/0"`)},
		{"sentinel settings on redis", "c.toml", tomlRegion("redis_sentinel", cleanURL)},
		// A backend that quotes its URL when it cannot use it (see
		// test_refusing in open_test.go).
		{"backend refuses its URL", "c.toml", tomlRegion("test_refusing", `arguments.mode = "arg"`)},
		{"backend cannot reach its URL", "c.toml", tomlRegion("test_refusing", `arguments.mode = "dial"`)},
		{"backend refuses its password", "c.toml", tomlRegion("test_refusing", `arguments.mode = "password"`)},
		{"connection arguments", "c.yaml", `
cache:
  r:
    backend: redis
    arguments:
      url: "redis://cache.internal:6379/0"
      connection_kwargs:
        password: "@CLEAN@"
        colour: blue
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.NewReplacer("@RAW@", secretRaw, "@CLEAN@", secretClean).Replace(c.text)
			path := testutil.WriteFile(t, c.file, text)
			cfg, err := config.Load(path, env(nil))
			if err == nil {
				cfg.Close()
				t.Fatalf("no error for\n%s", text)
			}
			for _, msg := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprint(err)} {
				if strings.Contains(msg, secretMarker) {
					t.Errorf("the password is in the error:\n%s", msg)
				}
			}
		})
	}
}

// The same, for the maps that Region.ConfigureFromMap reads and for
// arguments handed to Configure: an *ArgError never shows a secret.
func TestNoSecretInArgErrors(t *testing.T) {
	for _, c := range []struct {
		backend string
		args    dogpile.Args
	}{
		{"redis", dogpile.Args{"url": "redis://app:" + secretRaw + "@cache.internal:6379/0"}},
		{"redis", dogpile.Args{"url": "redis://cache.internal:6379/0", "password": 4242}},
		{"redis", dogpile.Args{"url": "redis://cache.internal:6379/0", "password": []any{secretClean}}},
		{"redis", dogpile.Args{"url": "redis://cache.internal:6379/0", "username": "u", "password": map[string]any{"v": secretClean}}},
		{"redis_cluster", dogpile.Args{"url": "redis://app:" + secretRaw + "@cache.internal:6379/0"}},
		{"redis_sentinel", dogpile.Args{"sentinels": "h:1", "service_name": "m", "sentinel_password": 99}},
	} {
		_, err := dogpile.NewRegion().Configure(c.backend, dogpile.WithArguments(c.args))
		if err == nil {
			t.Errorf("%s %v: no error", c.backend, c.args)
			continue
		}
		if strings.Contains(err.Error(), secretMarker) || strings.Contains(err.Error(), "4242") || strings.Contains(err.Error(), "99") {
			t.Errorf("%s: the password is in the error: %v", c.backend, err)
		}
		cfg := map[string]any{"r.backend": c.backend}
		for k, v := range c.args {
			cfg["r.arguments."+k] = v
		}
		if _, err := dogpile.NewRegion().ConfigureFromMap(cfg, "r."); err == nil || strings.Contains(err.Error(), secretMarker) {
			t.Errorf("ConfigureFromMap: the password is in the error (or no error): %v", err)
		}
	}
}
