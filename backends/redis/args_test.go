package redis_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// marker is a password that no error message may show.
const marker = "Marker-Passw0rd-7c1f"

// argErrorCase is a configuration the factory refuses, naming arg.
type argErrorCase struct {
	backend string
	args    dogpile.Args
	arg     string // the name the error must give
}

// argErrorCases are the argument errors of the three variants.
var argErrorCases = map[string]argErrorCase{
	"misspelt":                     {"redis", dogpile.Args{"lock_timout": 5}, "lock_timout"},
	"unknown in kwargs":            {"redis", dogpile.Args{"connection_kwargs": map[string]any{"sslmode": "on"}}, "connection_kwargs.sslmode"},
	"connection_pool":              {"redis", dogpile.Args{"connection_pool": "x"}, "connection_pool"},
	"keepalive options":            {"redis", dogpile.Args{"socket_keepalive_options": map[string]any{}}, "socket_keepalive_options"},
	"not a duration":               {"redis", dogpile.Args{"redis_expiration_time": "soon"}, "redis_expiration_time"},
	"not a bool":                   {"redis", dogpile.Args{"distributed_lock": "maybe"}, "distributed_lock"},
	"not a port":                   {"redis", dogpile.Args{"port": 70000}, "port"},
	"negative db":                  {"redis", dogpile.Args{"db": -1}, "db"},
	"port 0":                       {"redis", dogpile.Args{"port": 0}, "port"},
	"port 65536":                   {"redis", dogpile.Args{"port": 65536}, "port"},
	"sub-millisecond expiration":   {"redis", dogpile.Args{"redis_expiration_time": 0.0005}, "redis_expiration_time"},
	"sub-millisecond lock_timeout": {"redis", dogpile.Args{"lock_timeout": 0.0005}, "lock_timeout"},
	"cluster db 1":                 {"redis_cluster", dogpile.Args{"startup_nodes": "h:1", "db": 1}, "db"},
	"startup node with a space":    {"redis_cluster", dogpile.Args{"startup_nodes": []any{"my host"}}, "startup_nodes"},
	"startup node with a slash":    {"redis_cluster", dogpile.Args{"startup_nodes": "h/1"}, "startup_nodes"},
	"zero lock_timeout":            {"redis", dogpile.Args{"lock_timeout": 0}, "lock_timeout"},
	"zero lock_sleep":              {"redis", dogpile.Args{"lock_sleep": 0}, "lock_sleep"},
	"bad url":                      {"redis", dogpile.Args{"url": "http://:secret@x"}, "url"},
	"missing CA file":              {"redis", dogpile.Args{"ssl_ca_certs": "/nonexistent/ca.pem"}, "ssl_ca_certs"},
	"bad ssl_cert_reqs":            {"redis", dogpile.Args{"ssl": true, "ssl_cert_reqs": "sometimes"}, "ssl_cert_reqs"},
	"ssl_cert_reqs without ssl":    {"redis", dogpile.Args{"ssl_cert_reqs": "none"}, "ssl"},
	"ssl_check_hostname alone":     {"redis", dogpile.Args{"ssl_check_hostname": false}, "ssl"},
	"CA file without PEM":          {"redis", dogpile.Args{"ssl_ca_certs": "go.mod"}, "ssl_ca_certs"},
	"ssl_keyfile alone":            {"redis", dogpile.Args{"ssl": true, "ssl_keyfile": "go.mod"}, "ssl_keyfile"},
	"sentinels missing":            {"redis_sentinel", dogpile.Args{}, "sentinels"},
	"sentinel bad item":            {"redis_sentinel", dogpile.Args{"sentinels": []any{[]any{"h"}}}, "sentinels"},
	"sentinel bad port":            {"redis_sentinel", dogpile.Args{"sentinels": []any{[]any{"h", "x"}}}, "sentinels"},
	"sentinel with url":            {"redis_sentinel", dogpile.Args{"url": "redis://x", "sentinels": "h:1"}, "url"},
	"sentinel with host":           {"redis_sentinel", dogpile.Args{"host": "h", "sentinels": "h:1"}, "host"},
	"sentinel with port":           {"redis_sentinel", dogpile.Args{"port": 6380, "sentinels": "h:1"}, "port"},
	"sentinel_kwargs unknown":      {"redis_sentinel", dogpile.Args{"sentinels": "h:1", "sentinel_kwargs": map[string]any{"ssl": true}}, "sentinel_kwargs.ssl"},
	"cluster without nodes":        {"redis_cluster", dogpile.Args{}, "startup_nodes"},
	"cluster db":                   {"redis_cluster", dogpile.Args{"startup_nodes": "h:1", "db": 2}, "db"},
	"cluster bad startup node":     {"redis_cluster", dogpile.Args{"startup_nodes": 7}, "startup_nodes"},
	"cluster not a port":           {"redis_cluster", dogpile.Args{"startup_nodes": "h:1", "port": 70000}, "port"},
	"empty lock_prefix":            {"redis", dogpile.Args{"lock_prefix": ""}, "lock_prefix"},
	"lock_prefix with a tag":       {"redis", dogpile.Args{"lock_prefix": "{locks}:"}, "lock_prefix"},
	"url password differs":         {"redis", dogpile.Args{"url": "redis://:" + marker + "@h:1/0", "password": "other-" + marker}, "password"},
	"url user differs":             {"redis", dogpile.Args{"url": "redis://app:" + marker + "@h:1/0", "username": "ops"}, "username"},
	"url db differs":               {"redis", dogpile.Args{"url": "redis://:" + marker + "@h:1/0", "db": 2}, "db"},
	"url db query differs":         {"redis", dogpile.Args{"url": "redis://h:1?db=3", "db": 2}, "db"},
	"url does not parse":           {"redis", dogpile.Args{"url": "redis://app:" + marker + "%zz@h:1/0"}, "url"},
	"url without @ or port":        {"redis", dogpile.Args{"url": "redis://:" + marker}, "url"},
	"url not a string":             {"redis", dogpile.Args{"url": 42}, "url"},
	"url without a scheme":         {"redis", dogpile.Args{"url": ":" + marker + "@h://x"}, "url"},
	"url missing a slash":          {"redis", dogpile.Args{"url": "redis:/:" + marker + "@h:1"}, "url"},
	"url bad database":             {"redis", dogpile.Args{"url": "redis://:" + marker + "@h:1/x"}, "url"},
	"numeric password":             {"redis", dogpile.Args{"password": 987654321}, "password"},
	"sentinel numeric password":    {"redis_sentinel", dogpile.Args{"sentinels": "h:1", "sentinel_kwargs": map[string]any{"password": 987654321}}, "sentinel_kwargs.password"},
	"sentinel url with password":   {"redis_sentinel", dogpile.Args{"url": "redis://:" + marker + "@x", "sentinels": "h:1"}, "url"},
	"cluster url does not parse":   {"redis_cluster", dogpile.Args{"url": []any{"redis://:" + marker + "%zz@h:1"}}, "url"},
	"cluster url not strings":      {"redis_cluster", dogpile.Args{"url": []any{"redis://:" + marker + "@h:1", 7}}, "url"},
	"cluster url password differs": {"redis_cluster", dogpile.Args{"url": "redis://:" + marker + "@h:1", "password": "x"}, "password"},
}

// TestArgumentErrors: a wrong argument is an *ArgError that names it, and
// the factory returns a nil Backend beside it (not a nil *Backend in a
// non-nil interface).
func TestArgumentErrors(t *testing.T) {
	for name, tc := range argErrorCases {
		t.Run(name, func(t *testing.T) {
			b, err := dogpile.NewBackend(tc.backend, tc.args)
			if err == nil {
				b.(interface{ Close() error }).Close()
				t.Fatalf("%s %v: no error", tc.backend, tc.args)
			}
			if b != nil {
				t.Fatalf("a %T (%v) beside the error: want a nil Backend", b, b)
			}
			var ae *dogpile.ArgError
			if !errors.As(err, &ae) || ae.Name != tc.arg || !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Fatalf("error %v; want an *ArgError naming %q", err, tc.arg)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "987654321") {
				t.Fatalf("the error shows a password: %v", err)
			}
		})
	}
}

// TestNoSecretInArgumentErrors: every argument error, with a marker password
// given in each place a password goes (the password argument, inside
// connection_kwargs, in sentinel_kwargs, in a URL), never shows it.
func TestNoSecretInArgumentErrors(t *testing.T) {
	withPassword := map[string]func(dogpile.Args) dogpile.Args{
		"password": func(a dogpile.Args) dogpile.Args { return setIfAbsent(a, "password", marker) },
		"connection_kwargs": func(a dogpile.Args) dogpile.Args {
			return setIfAbsent(a, "connection_kwargs", map[string]any{"password": marker})
		},
		"sentinel_kwargs": func(a dogpile.Args) dogpile.Args {
			return setIfAbsent(a, "sentinel_kwargs", map[string]any{"password": marker})
		},
		"url": func(a dogpile.Args) dogpile.Args { return setIfAbsent(a, "url", "redis://app:"+marker+"@h:1/0") },
	}
	n := 0
	for name, tc := range argErrorCases {
		for where, add := range withPassword {
			b, err := dogpile.NewBackend(tc.backend, add(tc.args))
			if err == nil {
				b.(interface{ Close() error }).Close()
				continue // the added password made the arguments right
			}
			n++
			for _, msg := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(msg, marker) || strings.Contains(msg, "987654321") {
					t.Errorf("%s, password in %s: the error shows it: %s", name, where, msg)
				}
			}
		}
	}
	if n < len(argErrorCases) {
		t.Fatalf("only %d error paths ran", n)
	}
}

// A password in a URL's query (go-redis reads "?password=") or written into
// a sentinel's or a node's address ("user:pass@host:port", which is refused)
// is not shown either.
func TestNoSecretInURLQueryOrAddress(t *testing.T) {
	for name, tc := range map[string]struct {
		backend string
		args    dogpile.Args
		arg     string
	}{
		"url query":        {"redis", dogpile.Args{"url": "redis://127.0.0.1:1/0?password=" + marker + "&dial_timeout=xx"}, "url"},
		"sentinel address": {"redis_sentinel", dogpile.Args{"sentinels": []string{"u:" + marker + "@127.0.0.1:26379"}, "service_name": "m"}, "sentinels"},
		"sentinel string":  {"redis_sentinel", dogpile.Args{"sentinels": "127.0.0.1:26379, u:" + marker + "@127.0.0.1:26380", "service_name": "m"}, "sentinels"},
		"cluster node":     {"redis_cluster", dogpile.Args{"startup_nodes": []any{":" + marker + "@127.0.0.1:7000"}}, "startup_nodes"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := dogpile.NewBackend(tc.backend, tc.args)
			if err == nil {
				b.(interface{ Close() error }).Close()
				t.Fatal("no error")
			}
			var ae *dogpile.ArgError
			if !errors.As(err, &ae) || ae.Name != tc.arg {
				t.Fatalf("error %v; want an *ArgError naming %q", err, tc.arg)
			}
			for _, msg := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(msg, marker) {
					t.Errorf("the error shows the password: %s", msg)
				}
			}
		})
	}
}

// setIfAbsent returns a copy of a with name set to v unless a has it.
func setIfAbsent(a dogpile.Args, name string, v any) dogpile.Args {
	out := dogpile.Args{}
	for k, x := range a {
		out[k] = x
	}
	if _, ok := out[name]; !ok {
		out[name] = v
	}
	return out
}

// TestArgumentForms: the forms configurations give lists and numbers in.
func TestArgumentForms(t *testing.T) {
	c := testserver.SharedCluster(t)
	a := c.Addrs()
	for name, nodes := range map[string]any{
		"strings":         a,
		"comma string":    strings.Join(a, ", "),
		"any strings":     []any{a[0], a[1]},
		"pairs":           []any{[]any{"127.0.0.1", float64(c.Nodes[0].Port)}},
		"maps":            []any{map[string]any{"host": "127.0.0.1", "port": c.Nodes[1].Port}},
		"go pairs":        [][]any{{"127.0.0.1", c.Nodes[2].Port}},
		"go string pairs": [][2]string{{"127.0.0.1", strconv.Itoa(c.Nodes[2].Port)}},
	} {
		t.Run(name, func(t *testing.T) {
			b := newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": nodes})
			if err := b.Set(testutil.Context(t), testutil.Unique("forms"), []byte("v")); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("cluster url list", func(t *testing.T) {
		b := newFromArgs(t, "redis_cluster", dogpile.Args{"url": []any{"redis://" + a[0], "redis://" + a[1]}})
		if got := b.(*redis.Backend).Client().(*goredis.ClusterClient).Options().Addrs; len(got) != 2 {
			t.Fatalf("addresses %v", got)
		}
		if err := b.Set(testutil.Context(t), testutil.Unique("forms"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSeedNamesAndDefaults: the seed's dotted names work, the seed's
// defaults for distributed_lock hold, and its no-op arguments are accepted.
func TestSeedNamesAndDefaults(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	r := regionOn(t, "dogpile.cache.redis", dogpile.Args{
		"url": "redis://" + addr, "thread_local_lock": false, "lock_blocking": true,
		"socket_keepalive": true, "lock_timeout": 30, "lock_sleep": "0.05",
	})
	if _, ok := r.Backend().(*redis.Backend); !ok {
		t.Fatalf("dogpile.cache.redis gave a %T", r.Backend())
	}
	for name, wantLock := range map[string]bool{"redis": false, "redis_cluster": false} {
		args := dogpile.Args{"url": "redis://" + addr}
		if name == "redis_cluster" {
			args = dogpile.Args{"startup_nodes": testserver.SharedCluster(t).Addrs()}
		}
		if has := hasMutex(newFromArgs(t, name, args)); has != wantLock {
			t.Errorf("%s: distributed mutex = %v by default, want %v", name, has, wantLock)
		}
	}
}

// TestGarbageIsMiss: bytes written by someone else under a key (redis-cli
// SET; command-line arguments can't hold a NUL byte, the suite's
// RegionCorruptIsMiss covers those) read as a miss; the creator runs and
// replaces them.
func TestGarbageIsMiss(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true})
	ctx := testutil.Context(t)
	for name, junk := range map[string]string{
		"text":          "hello",
		"short entry":   "dp\x01\x01garbage",
		"cut-off entry": "dp\x01\x01\x01\x02\x03\x04\x05\x06\x07\x08\x7fcodec",
		"binary":        "\xff\xfe\x01",
		"empty":         "",
	} {
		key := testutil.Unique("garbage")
		testserver.RedisCLI(t, addr, "SET", key, junk)
		if v, ok, err := dogpile.Get[string](ctx, r, key); ok || err != nil {
			t.Fatalf("%s: Get = %q, %v, %v; want a miss", name, v, ok, err)
		}
		calls := 0
		v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { calls++; return "fresh", nil })
		if err != nil || v != "fresh" || calls != 1 {
			t.Fatalf("%s: GetOrCreate = %q, %v (creator ran %d times)", name, v, err, calls)
		}
		if got, ok, _ := dogpile.Get[string](ctx, r, key); !ok || got != "fresh" {
			t.Fatalf("%s: the garbage was not replaced", name)
		}
	}
	// A key of another type (a list) is an error from Redis, not a panic.
	key := testutil.Unique("garbage-list")
	testserver.RedisCLI(t, addr, "RPUSH", key, "x")
	if _, _, err := dogpile.Get[string](ctx, r, key); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Get of a list = %v; want Redis's WRONGTYPE error", err)
	}
}

// TestCloseOwnsOnlyItsClient: Close closes a client the backend made, and
// leaves a client passed to NewFromClient open.
func TestCloseOwnsOnlyItsClient(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ctx := testutil.Context(t)
	mine := goredis.NewClient(&goredis.Options{Addr: addr})
	defer mine.Close()
	b, err := redis.NewFromClient(mine, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mine.Ping(ctx).Err(); err != nil {
		t.Fatalf("the caller's client was closed: %v", err)
	}

	owned, err := redis.New(redis.Options{Client: &goredis.Options{Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := owned.Close(); err != nil {
		t.Fatal(err)
	}
	if err := owned.Client().Ping(ctx).Err(); !errors.Is(err, goredis.ErrClosed) {
		t.Fatalf("after Close, the backend's own client answers %v; want ErrClosed", err)
	}
	if err := owned.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}

	if _, err := redis.New(redis.Options{}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("New without a client's options = %v; want ErrInvalidArgument", err)
	}
	if _, err := redis.New(redis.Options{Client: &goredis.Options{}, Cluster: &goredis.ClusterOptions{}}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("New with two clients' options = %v; want ErrInvalidArgument", err)
	}
}

// TestNewOptionErrors: New refuses options the backend could not honour,
// with an *ArgError naming the option — a negative duration, a TTL or lock
// timeout below Redis's millisecond, a lock prefix with "{" — and takes a
// TTL and a lock timeout of exactly a millisecond; NewFromClient refuses a
// nil client.
func TestNewOptionErrors(t *testing.T) {
	for _, c := range []struct {
		o    redis.Options
		name string
	}{
		{redis.Options{TTL: -time.Second}, "TTL"},
		{redis.Options{LockTimeout: -time.Second}, "LockTimeout"},
		{redis.Options{LockSleep: -time.Second}, "LockSleep"},
		{redis.Options{LockWait: -time.Second}, "LockWait"},
		{redis.Options{TTL: time.Millisecond - 1}, "TTL"},
		{redis.Options{LockTimeout: time.Millisecond - 1}, "LockTimeout"},
		{redis.Options{LockPrefix: "{locks}:"}, "LockPrefix"},
	} {
		c.o.Client = &goredis.Options{Addr: "127.0.0.1:1"}
		b, err := redis.New(c.o)
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != c.name || !errors.Is(err, dogpile.ErrInvalidArgument) {
			if b != nil {
				b.Close()
			}
			t.Errorf("New(%+v) = %v; want an *ArgError naming %s", c.o, err, c.name)
		}
	}
	b, err := redis.New(redis.Options{Client: &goredis.Options{Addr: "127.0.0.1:1"}, TTL: time.Millisecond, LockTimeout: time.Millisecond})
	if err != nil {
		t.Fatalf("New with a TTL and a lock timeout of a millisecond: %v", err)
	}
	b.Close()
	var ae *dogpile.ArgError
	if _, err := redis.NewFromClient(nil, redis.Options{}); !errors.As(err, &ae) || ae.Name != "client" {
		t.Errorf("NewFromClient(nil) = %v; want an *ArgError naming client", err)
	}
}

// TestNewClientOptions: New makes every kind of client — a server's, a
// Sentinel master's, a Cluster's — bound its network I/O by the call's
// context and dial once per call, and leaves the caller's options as they
// were.
func TestNewClientOptions(t *testing.T) {
	client := &goredis.Options{Addr: "127.0.0.1:1"}
	failover := &goredis.FailoverOptions{MasterName: "cache", SentinelAddrs: []string{"127.0.0.1:1"}}
	cluster := &goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}
	for name, o := range map[string]redis.Options{"Client": {Client: client}, "Failover": {Failover: failover}, "Cluster": {Cluster: cluster}} {
		b, err := redis.New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		var contextTimeouts bool
		var dials int
		switch c := b.Client().(type) {
		case *goredis.Client:
			contextTimeouts, dials = c.Options().ContextTimeoutEnabled, c.Options().DialerRetries
		case *goredis.ClusterClient:
			contextTimeouts, dials = c.Options().ContextTimeoutEnabled, c.Options().DialerRetries
		default:
			t.Fatalf("%s: a %T", name, c)
		}
		if !contextTimeouts || dials != 1 {
			t.Errorf("%s: ContextTimeoutEnabled %v, DialerRetries %d; want true and 1", name, contextTimeouts, dials)
		}
	}
	if client.ContextTimeoutEnabled || failover.ContextTimeoutEnabled || cluster.ContextTimeoutEnabled || client.Dialer != nil || failover.Dialer != nil || cluster.Dialer != nil {
		t.Error("New changed the options it was given")
	}
}

// TestNewKeepsCallersDialer: a Dialer in the options New is given makes the
// backend's connections.
func TestNewKeepsCallersDialer(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	var dials atomic.Int32
	b := newClientBackend(t, &goredis.Options{Addr: "dialed-by-the-caller:1", Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}})
	if err := b.Set(testutil.Context(t), testutil.Unique("dialer"), []byte("v")); err != nil {
		t.Fatalf("Set through the caller's dialer: %v", err)
	}
	if dials.Load() == 0 {
		t.Fatal("the caller's dialer was never called")
	}
}

// TestOptionsLock: Options.DistributedLock switches the mutex on, for New
// and NewFromClient alike; without it the backend is still a
// backend.Locking, whose Mutex is nil (the region then locks in process),
// and NewMutex still gives a lock to use without a region.
func TestOptionsLock(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	client := rawClient(t, addr)
	for _, on := range []bool{false, true} {
		given, err := redis.NewFromClient(client, redis.Options{DistributedLock: on})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { given.Close() })
		for name, b := range map[string]*redis.Backend{"New": newTestBackend(t, addr, redis.Options{DistributedLock: on}), "NewFromClient": given} {
			if m := b.Mutex("k"); (m != nil) != on {
				t.Errorf("%s with DistributedLock=%v: Mutex = %v", name, on, m)
			}
			if b.NewMutex("k") == nil {
				t.Errorf("%s with DistributedLock=%v: no NewMutex", name, on)
			}
		}
	}
}

// TestURLWithSeparateCredentials: the README's example — arguments.url
// with arguments.password = "${REDIS_PASSWORD}" (here the value the
// configuration would have expanded it to) — against a server that requires
// a password; separate username, password and db fill in what the URL lacks,
// and the same value given in both places is no conflict.
func TestURLWithSeparateCredentials(t *testing.T) {
	const password = "s3cr%t@pass" // characters a URL would need escaped
	srv := testserver.StartRedis(t, "--requirepass", password)
	addr := srv.Addr()
	ctx := testutil.Context(t)
	if out := testserver.RedisCLI(t, addr, "--no-auth-warning", "-a", password, "ACL", "SETUSER", "app", "on", ">app-"+password, "~*", "&*", "+@all"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	check := func(t *testing.T, args dogpile.Args, db int) {
		t.Helper()
		r := regionOn(t, "redis", args)
		key := testutil.Unique("creds")
		if err := r.Set(ctx, key, "v"); err != nil {
			t.Fatalf("%v: Set: %v", args, err)
		}
		raw := goredis.NewClient(&goredis.Options{Addr: addr, Password: password, DB: db})
		defer raw.Close()
		if raw.Exists(ctx, key).Val() != 1 {
			t.Fatalf("%v: the value is not in database %d", args, db)
		}
	}
	t.Run("README", func(t *testing.T) {
		check(t, dogpile.Args{"url": "redis://" + addr + "/0", "password": password, "distributed_lock": true}, 0)
	})
	t.Run("username and db", func(t *testing.T) {
		check(t, dogpile.Args{"url": "redis://" + addr, "username": "app", "password": "app-" + password, "db": 3}, 3)
	})
	t.Run("in connection_kwargs", func(t *testing.T) {
		check(t, dogpile.Args{"url": "redis://" + addr + "/2", "connection_kwargs": map[string]any{"password": password}}, 2)
	})
	t.Run("same in both", func(t *testing.T) {
		u := "redis://app:" + url.QueryEscape("app-"+password) + "@" + addr + "/4"
		check(t, dogpile.Args{"url": u, "username": "app", "password": "app-" + password, "db": 4}, 4)
	})
	t.Run("without the password", func(t *testing.T) {
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr + "/0"})
		if err := r.Set(ctx, testutil.Unique("creds"), "v"); !errors.Is(err, redis.ErrAuth) {
			t.Fatalf("Set without the password = %v; want ErrAuth", err)
		}
	})
}

// TestArgumentsReachClientOptions: the connection arguments end up in the
// go-redis client's options — timeouts, pool size, retries, TLS — and a
// URL's own settings stay unless an argument replaces them; a null
// argument counts as not given; every client
// bounds its network I/O by the call's context and dials once per call.
func TestArgumentsReachClientOptions(t *testing.T) {
	options := func(t *testing.T, args dogpile.Args) *goredis.Options {
		t.Helper()
		return newFromArgs(t, "redis", args).(*redis.Backend).Client().(*goredis.Client).Options()
	}
	t.Run("arguments", func(t *testing.T) {
		o := options(t, dogpile.Args{"host": "127.0.0.1", "port": 1, "socket_connect_timeout": 0.25, "socket_timeout": 0.5,
			"max_connections": 7, "max_retries": 2})
		if o.DialTimeout != 250*time.Millisecond || o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != 500*time.Millisecond {
			t.Errorf("dial timeout %v, read %v, write %v; want 250ms, 500ms, 500ms", o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
		}
		if o.PoolSize != 7 || o.MaxRetries != 2 {
			t.Errorf("pool size %d, retries %d; want 7 and 2", o.PoolSize, o.MaxRetries)
		}
		if !o.ContextTimeoutEnabled || o.DialerRetries != 1 || o.TLSConfig != nil {
			t.Errorf("ContextTimeoutEnabled %v, DialerRetries %d, TLS %v; want true, 1, none", o.ContextTimeoutEnabled, o.DialerRetries, o.TLSConfig)
		}
	})
	t.Run("pool_size beats max_connections", func(t *testing.T) {
		if o := options(t, dogpile.Args{"max_connections": 7, "pool_size": 3}); o.PoolSize != 3 {
			t.Errorf("pool size %d; want 3", o.PoolSize)
		}
	})
	t.Run("the URL's settings", func(t *testing.T) {
		u := "redis://app:pw@127.0.0.1:1/3?dial_timeout=2s&read_timeout=3s&write_timeout=4s&pool_size=9&max_retries=4&client_name=from-url"
		o := options(t, dogpile.Args{"url": u})
		if o.Username != "app" || o.Password != "pw" || o.DB != 3 || o.ClientName != "from-url" {
			t.Errorf("user %q, password %q, db %d, client name %q; want the URL's app, pw, 3, from-url", o.Username, o.Password, o.DB, o.ClientName)
		}
		if o.DialTimeout != 2*time.Second || o.ReadTimeout != 3*time.Second || o.WriteTimeout != 4*time.Second || o.PoolSize != 9 || o.MaxRetries != 4 {
			t.Errorf("dial %v, read %v, write %v, pool %d, retries %d; want the URL's 2s, 3s, 4s, 9, 4", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolSize, o.MaxRetries)
		}
		if o := options(t, dogpile.Args{"url": u, "max_retries": 0}); o.MaxRetries == 4 {
			t.Errorf("max_retries = 0 left the URL's 4 retries")
		}
	})
	t.Run("null is not given", func(t *testing.T) { // a key left empty in YAML
		o := options(t, dogpile.Args{"url": nil, "host": "127.0.0.1", "port": 1, "password": nil})
		if o.Addr != "127.0.0.1:1" || o.Password != "" {
			t.Errorf("address %q, password %q; want 127.0.0.1:1 and none", o.Addr, o.Password)
		}
	})
	t.Run("a username beside a URL's password", func(t *testing.T) {
		o := options(t, dogpile.Args{"url": "redis://:pw@127.0.0.1:1", "username": "app"})
		if o.Username != "app" || o.Password != "pw" {
			t.Errorf("user %q, password %q; want app and the URL's pw", o.Username, o.Password)
		}
	})
	t.Run("db beside a unix socket's URL", func(t *testing.T) { // the path is the socket's, not a database
		o := options(t, dogpile.Args{"url": "unix:///run/redis/redis.sock", "db": 2})
		if o.Network != "unix" || o.Addr != "/run/redis/redis.sock" || o.DB != 2 {
			t.Errorf("network %q, address %q, db %d; want unix, /run/redis/redis.sock, 2", o.Network, o.Addr, o.DB)
		}
	})
	t.Run("a cluster's first URL", func(t *testing.T) {
		b := newFromArgs(t, "redis_cluster", dogpile.Args{"url": []any{"redis://app:pw@127.0.0.1:1?dial_timeout=3s", "redis://127.0.0.1:2"}})
		o := b.(*redis.Backend).Client().(*goredis.ClusterClient).Options()
		if o.Username != "app" || o.Password != "pw" || o.DialTimeout != 3*time.Second || len(o.Addrs) != 2 {
			t.Errorf("user %q, password %q, dial timeout %v, addresses %q; want the first URL's app, pw, 3s and both addresses", o.Username, o.Password, o.DialTimeout, o.Addrs)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		o := options(t, dogpile.Args{"host": "localhost", "port": 1, "ssl": true})
		if o.TLSConfig == nil || o.TLSConfig.MinVersion != tls.VersionTLS12 {
			t.Fatalf("TLS config %+v; want TLS 1.2 at least", o.TLSConfig)
		}
	})
}
