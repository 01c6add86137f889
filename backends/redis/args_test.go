package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// TestArgumentErrors: a wrong argument is an *ArgError that names it.
func TestArgumentErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		backend string
		args    dogpile.Args
		arg     string // the name the error must give
	}{
		"misspelt":                 {"redis", dogpile.Args{"lock_timout": 5}, "lock_timout"},
		"unknown in kwargs":        {"redis", dogpile.Args{"connection_kwargs": map[string]any{"sslmode": "on"}}, "connection_kwargs.sslmode"},
		"connection_pool":          {"redis", dogpile.Args{"connection_pool": "x"}, "connection_pool"},
		"keepalive options":        {"redis", dogpile.Args{"socket_keepalive_options": map[string]any{}}, "socket_keepalive_options"},
		"not a duration":           {"redis", dogpile.Args{"redis_expiration_time": "soon"}, "redis_expiration_time"},
		"not a bool":               {"redis", dogpile.Args{"distributed_lock": "maybe"}, "distributed_lock"},
		"not a port":               {"redis", dogpile.Args{"port": 70000}, "port"},
		"negative db":              {"redis", dogpile.Args{"db": -1}, "db"},
		"zero lock_timeout":        {"redis", dogpile.Args{"lock_timeout": 0}, "lock_timeout"},
		"zero lock_sleep":          {"redis", dogpile.Args{"lock_sleep": 0}, "lock_sleep"},
		"bad url":                  {"redis", dogpile.Args{"url": "http://:secret@x"}, "url"},
		"missing CA file":          {"redis", dogpile.Args{"ssl_ca_certs": "/nonexistent/ca.pem"}, "ssl_ca_certs"},
		"bad ssl_cert_reqs":        {"redis", dogpile.Args{"ssl": true, "ssl_cert_reqs": "sometimes"}, "ssl_cert_reqs"},
		"sentinels missing":        {"redis_sentinel", dogpile.Args{}, "sentinels"},
		"sentinel bad item":        {"redis_sentinel", dogpile.Args{"sentinels": []any{[]any{"h"}}}, "sentinels"},
		"sentinel bad port":        {"redis_sentinel", dogpile.Args{"sentinels": []any{[]any{"h", "x"}}}, "sentinels"},
		"sentinel with url":        {"redis_sentinel", dogpile.Args{"url": "redis://x", "sentinels": "h:1"}, "url"},
		"sentinel_kwargs unknown":  {"redis_sentinel", dogpile.Args{"sentinels": "h:1", "sentinel_kwargs": map[string]any{"ssl": true}}, "sentinel_kwargs.ssl"},
		"cluster without nodes":    {"redis_cluster", dogpile.Args{}, "startup_nodes"},
		"cluster db":               {"redis_cluster", dogpile.Args{"startup_nodes": "h:1", "db": 2}, "db"},
		"cluster bad startup node": {"redis_cluster", dogpile.Args{"startup_nodes": 7}, "startup_nodes"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := dogpile.NewBackend(tc.backend, tc.args)
			if err == nil {
				b.(interface{ Close() error }).Close()
				t.Fatalf("%s %v: no error", tc.backend, tc.args)
			}
			var ae *dogpile.ArgError
			if !errors.As(err, &ae) || ae.Name != tc.arg || !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Fatalf("error %v; want an *ArgError naming %q", err, tc.arg)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error shows the URL's password: %v", err)
			}
		})
	}
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
			if err := b.Set(ctxT(t), uniq("forms"), []byte("v")); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("cluster url list", func(t *testing.T) {
		b := newFromArgs(t, "redis_cluster", dogpile.Args{"url": []any{"redis://" + a[0], "redis://" + a[1]}})
		if got := b.(*redis.Backend).Client().(*goredis.ClusterClient).Options().Addrs; len(got) != 2 {
			t.Fatalf("addresses %v", got)
		}
		if err := b.Set(ctxT(t), uniq("forms"), []byte("v")); err != nil {
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
		b := newFromArgs(t, name, args)
		if _, ok := b.(backend.Locking); ok != wantLock {
			t.Errorf("%s: distributed mutex = %v by default, want %v", name, ok, wantLock)
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
	ctx := ctxT(t)
	for name, junk := range map[string]string{
		"text":          "hello",
		"short entry":   "dp\x01\x01garbage",
		"cut-off entry": "dp\x01\x01\x01\x02\x03\x04\x05\x06\x07\x08\x7fcodec",
		"binary":        "\xff\xfe\x01",
		"empty":         "",
	} {
		key := uniq("garbage")
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
	key := uniq("garbage-list")
	testserver.RedisCLI(t, addr, "RPUSH", key, "x")
	if _, _, err := dogpile.Get[string](ctx, r, key); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Get of a list = %v; want Redis's WRONGTYPE error", err)
	}
}

// TestCloseOwnsOnlyItsClient: Close closes a client the backend made, and
// leaves a client passed to NewFromClient open.
func TestCloseOwnsOnlyItsClient(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ctx := ctxT(t)
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
