package memcached

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

func TestParseArgs(t *testing.T) {
	three := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3"}
	for _, c := range []struct {
		name string
		args dogpile.Args
		want Options
	}{
		{"one url", dogpile.Args{"url": "127.0.0.1:11211"}, Options{Servers: []string{"127.0.0.1:11211"}}},
		{"comma-separated", dogpile.Args{"url": "10.0.0.1:11211, 10.0.0.2:11211,10.0.0.3"}, Options{Servers: three}},
		{"list from JSON", dogpile.Args{"url": []any{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3"}}, Options{Servers: three}},
		{"the seed's pylibmc example", dogpile.Args{"url": "h", "behaviors": map[string]any{"tcp_nodelay": true, "ketama": true}},
			Options{Servers: []string{"h"}, Distribution: Ketama}},
		{"lock and expiry as config files give them", dogpile.Args{"url": "h", "distributed_lock": "true", "lock_timeout": "45", "memcached_expire_time": 7200.0},
			Options{Servers: []string{"h"}, DistributedLock: true, LockTimeout: 45 * time.Second, TTL: 2 * time.Hour}},
		{"durations as Go strings", dogpile.Args{"url": "h", "lock_timeout": "1m30s", "socket_timeout": "250ms", "dead_retry": "10s"},
			Options{Servers: []string{"h"}, LockTimeout: 90 * time.Second, Timeout: 250 * time.Millisecond, DeadRetry: 10 * time.Second}},
		{"dead_retry 0 never skips", dogpile.Args{"url": "h", "dead_retry": 0}, Options{Servers: []string{"h"}, DeadRetry: -1}},
		{"max_idle_conns", dogpile.Args{"url": "h", "max_idle_conns": "64"}, Options{Servers: []string{"h"}, MaxIdleConns: 64}},
		{"lock_sleep and lock_prefix", dogpile.Args{"url": "h", "lock_sleep": 0.02, "lock_prefix": "app:locks/"},
			Options{Servers: []string{"h"}, LockSleep: 20 * time.Millisecond, LockPrefix: "app:locks/"}},
		{"binary is ignored", dogpile.Args{"url": "h", "binary": true}, Options{Servers: []string{"h"}}},
		{"ketama off is modula", dogpile.Args{"url": "h", "behaviors": map[string]any{"ketama": false}}, Options{Servers: []string{"h"}, Distribution: Modula}},
		{"ketama_weighted", dogpile.Args{"url": "h", "behaviors": map[string]any{"ketama": 1, "ketama_weighted": true}}, Options{Servers: []string{"h"}, Distribution: KetamaWeighted}},
		{"distribution", dogpile.Args{"url": "h", "behaviors": dogpile.Args{"distribution": "consistent weighted"}}, Options{Servers: []string{"h"}, Distribution: KetamaWeighted}},
		{"distribution modula", dogpile.Args{"url": "h", "behaviors": map[string]any{"distribution": "modula"}}, Options{Servers: []string{"h"}, Distribution: Modula}},
		{"pylibmc timeouts in pylibmc's units", dogpile.Args{"url": "h", "behaviors": map[string]any{
			"connect_timeout": 300, "send_timeout": 750000, "receive_timeout": 500000, "retry_timeout": 5}},
			Options{Servers: []string{"h"}, ConnectTimeout: 300 * time.Millisecond, Timeout: 750 * time.Millisecond, DeadRetry: 5 * time.Second}},
		{"socket_timeout and dead_retry win over behaviors", dogpile.Args{"url": "h", "socket_timeout": 2, "dead_retry": 3,
			"behaviors": map[string]any{"receive_timeout": 500000, "dead_timeout": 9}},
			Options{Servers: []string{"h"}, Timeout: 2 * time.Second, DeadRetry: 3 * time.Second}},
		{"ignored behaviors", dogpile.Args{"url": "h", "behaviors": map[string]any{"cas": true, "no_block": true, "verify_keys": 1, "hash": "md5"}},
			Options{Servers: []string{"h"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseArgs(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseArgs(%v) =\n%+v\nwant\n%+v", c.args, got, c.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, c := range []struct {
		args dogpile.Args
		name string // the argument the error must name
	}{
		{dogpile.Args{}, "url"},
		{dogpile.Args{"url": ""}, "url"},
		{dogpile.Args{"url": 11211}, "url"},
		{dogpile.Args{"url": "h", "lock_timout": 5}, "lock_timout"},
		{dogpile.Args{"url": "h", "distributed_lock": "yes please"}, "distributed_lock"},
		{dogpile.Args{"url": "h", "memcached_expire_time": "tomorrow"}, "memcached_expire_time"},
		{dogpile.Args{"url": "h", "socket_timeout": []int{1}}, "socket_timeout"},
		{dogpile.Args{"url": "h", "max_idle_conns": -1}, "max_idle_conns"},
		{dogpile.Args{"url": "h", "lock_sleep": 0}, "lock_sleep"},
		{dogpile.Args{"url": "h", "lock_sleep": "never"}, "lock_sleep"},
		{dogpile.Args{"url": "h", "lock_prefix": ""}, "lock_prefix"},
		{dogpile.Args{"url": "h", "lock_prefix": "my locks:"}, "lock_prefix"},
		{dogpile.Args{"url": "h", "lock_prefix": strings.Repeat("p", maxLockPrefix+1)}, "lock_prefix"},
		{dogpile.Args{"url": "h", "lock_prefix": 7}, "lock_prefix"},
		{dogpile.Args{"url": "h", "behaviors": "ketama"}, "behaviors"},
		{dogpile.Args{"url": "h", "behaviors": map[string]any{"remove_failed": 1}}, "behaviors.remove_failed"},
		{dogpile.Args{"url": "h", "behaviors": map[string]any{"ketama": "sometimes"}}, "behaviors.ketama"},
		{dogpile.Args{"url": "h", "behaviors": map[string]any{"distribution": "random"}}, "behaviors.distribution"},
		{dogpile.Args{"url": "h", "behaviors": map[string]any{"connect_timeout": "soon"}}, "behaviors.connect_timeout"},
	} {
		_, err := ParseArgs(c.args)
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != c.name || !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("ParseArgs(%v) = %v; want an ArgError naming %q", c.args, err, c.name)
		}
	}
	// Bad addresses are found when the backend is made.
	for _, url := range []string{"host:port", "h:0", "a:1,a:1"} {
		if _, err := dogpile.NewBackend("memcached", dogpile.Args{"url": url}); !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "url") {
			t.Errorf("url %q: %v; want an error naming url", url, err)
		}
	}
}

// TestSeedAliases: the seed's backend names configure this backend.
func TestSeedAliases(t *testing.T) {
	srv := servers(t, 1)
	for _, name := range []string{"memcached", "dogpile.cache.pylibmc", "dogpile.cache.memcached", "dogpile.cache.pymemcache", "dogpile.cache.bmemcached"} {
		r, err := dogpile.NewRegion().Configure(name, dogpile.WithArguments(dogpile.Args{
			"url": srv, "behaviors": map[string]any{"tcp_nodelay": true, "ketama": true},
		}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := r.Backend().(*Backend); !ok {
			t.Fatalf("%s configured a %T", name, r.Backend())
		}
		if err := r.Set(testutil.Context(t), "alias", name); err != nil {
			t.Fatalf("%s: Set: %v", name, err)
		}
	}
}

func TestNewFromClient(t *testing.T) {
	srv := servers(t, 1)
	c := rawClient(srv[0])
	b, err := NewFromClient(c, Options{DistributedLock: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if b.Client() != c || b.Selector() != nil {
		t.Fatal("NewFromClient did not use the client given")
	}
	ctx := testutil.Context(t)
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	m := b.Mutex("k")
	testutil.MustLock(t, m)
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("k"); err != nil {
		t.Fatalf("the caller's client after the backend's Close: %v", err)
	}
	if _, err := NewFromClient(c, Options{Servers: []string{"x"}}); err == nil {
		t.Fatal("NewFromClient with Servers: no error")
	}
	if _, err := NewFromClient(nil, Options{}); err == nil {
		t.Fatal("NewFromClient(nil): no error")
	}
}

// TestOptionsLock: Options.DistributedLock switches the mutex on, for New
// and NewFromClient alike; without it the backend is still a
// backend.Locking, whose Mutex is nil (the region then locks in process).
func TestOptionsLock(t *testing.T) {
	c := rawClient("127.0.0.1:1")
	for _, on := range []bool{false, true} {
		made, err := New(Options{Servers: []string{"127.0.0.1:1"}, DistributedLock: on})
		if err != nil {
			t.Fatal(err)
		}
		given, err := NewFromClient(c, Options{DistributedLock: on})
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string]*Backend{"New": made, "NewFromClient": given} {
			if m := b.Mutex("k"); (m != nil) != on {
				t.Errorf("%s with DistributedLock=%v: Mutex = %v", name, on, m)
			}
		}
	}
}
