package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestRD2ExactKeyAndTTL: values are under the key exactly as given, and
// redis_expiration_time is the server's TTL on every write path.
func TestRD2ExactKeyAndTTL(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ctx := testutil.Context(t)

	t.Run("exact key, no TTL", func(t *testing.T) {
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr})
		key := testutil.Unique("rd2 key with spaces/and:colons")
		if err := r.Set(ctx, key, "v"); err != nil {
			t.Fatal(err)
		}
		if err := r.SetMulti(ctx, map[string]any{key + "-m": "w"}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{key, key + "-m"} {
			got := testserver.RedisCLI(t, addr, "--no-raw", "GET", k)
			if !strings.HasPrefix(got, `"dp`) {
				t.Fatalf("redis-cli GET %q = %s; want the region's entry under the exact key", k, got)
			}
			if ttl := testserver.RedisCLI(t, addr, "TTL", k); ttl != "-1" {
				t.Fatalf("TTL %q = %s; want -1 (none) without redis_expiration_time", k, ttl)
			}
		}
	})

	t.Run("redis_expiration_time", func(t *testing.T) {
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "redis_expiration_time": 100})
		key := testutil.Unique("rd2-ttl")
		if err := r.Set(ctx, key+"-set", "v"); err != nil {
			t.Fatal(err)
		}
		if err := r.SetMulti(ctx, map[string]any{key + "-m1": "a", key + "-m2": "b"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, key+"-created", func(context.Context) (string, error) { return "c", nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{key + "-cm"}, func(_ context.Context, ks []string) ([]string, error) { return []string{"d"}, nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{key + "-set", key + "-m1", key + "-m2", key + "-created", key + "-cm"} {
			ms, err := strconv.Atoi(testserver.RedisCLI(t, addr, "PTTL", k))
			if err != nil || ms <= 95_000 || ms > 100_000 {
				t.Fatalf("PTTL %q = %d (%v); want just under 100s", k, ms, err)
			}
		}
	})

	t.Run("go duration", func(t *testing.T) {
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "redis_expiration_time": "1500ms"})
		key := testutil.Unique("rd2-ms")
		if err := r.Set(ctx, key, "v"); err != nil {
			t.Fatal(err)
		}
		if ms, _ := strconv.Atoi(testserver.RedisCLI(t, addr, "PTTL", key)); ms <= 1000 || ms > 1500 {
			t.Fatalf("PTTL = %dms; want just under 1500ms", ms)
		}
	})
}

// TestRD3MultiOneRoundTrip: multi-key calls on one server are one round trip
// each, counted by a client hook and by the server's command statistics.
func TestRD3MultiOneRoundTrip(t *testing.T) {
	srv := testserver.StartRedis(t) // its own server: the test resets its statistics
	for _, ttl := range []int{0, 60} {
		t.Run(fmt.Sprintf("redis_expiration_time=%d", ttl), func(t *testing.T) {
			ctx := testutil.Context(t)
			b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + srv.Addr(), "redis_expiration_time": ttl})
			hook := &countHook{}
			b.(*redis.Backend).Client().AddHook(hook)
			r, err := dogpile.NewRegion().ConfigureBackend(b)
			if err != nil {
				t.Fatal(err)
			}
			warmUp(t, b.(backend.Multi))
			keys := make([]string, 100)
			items := map[string]any{}
			for i := range keys {
				keys[i] = testutil.Unique(fmt.Sprint("rd3-", i))
				if i%2 == 0 {
					items[keys[i]] = "stored"
				}
			}

			check := func(what string, most int64, f func() error) {
				t.Helper()
				hook.Reset()
				if err := f(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if n := hook.Count(); n < 1 || n > most {
					t.Fatalf("%s of %d keys took %d round trips; want at most %d", what, len(keys), n, most)
				}
			}
			check("SetMulti", 1, func() error { return r.SetMulti(ctx, items) })

			testserver.RedisCLI(t, srv.Addr(), "CONFIG", "RESETSTAT")
			check("GetMulti", 1, func() error {
				hits, err := dogpile.GetMulti[string](ctx, r, keys)
				if err == nil && len(hits) != 50 {
					err = fmt.Errorf("%d hits, want 50", len(hits))
				}
				return err
			})
			stats := testserver.RedisCLI(t, srv.Addr(), "INFO", "commandstats")
			if !strings.Contains(stats, "cmdstat_mget:calls=1,") || strings.Contains(stats, "cmdstat_get:") {
				t.Fatalf("the server saw, for one GetMulti of 100 keys:\n%s\nwant one MGET and no GET", stats)
			}

			// GetOrCreateMulti: read, read again under the locks, write —
			// three round trips however many keys.
			var asked []string
			check("GetOrCreateMulti", 3, func() error {
				got, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(_ context.Context, ks []string) ([]string, error) {
					asked = ks
					out := make([]string, len(ks))
					for i := range ks {
						out[i] = "made"
					}
					return out, nil
				})
				for i, v := range got {
					if want := map[bool]string{true: "stored", false: "made"}[i%2 == 0]; v != want {
						return fmt.Errorf("value %d = %q, want %q", i, v, want)
					}
				}
				return err
			})
			if len(asked) != 50 {
				t.Fatalf("the creator was asked for %d keys, want the 50 missing", len(asked))
			}
			check("DeleteMulti", 1, func() error { return r.DeleteMulti(ctx, keys) })
			if n := testserver.RedisCLI(t, srv.Addr(), "EXISTS", keys[0], keys[1], keys[99]); n != "0" {
				t.Fatalf("after DeleteMulti %s keys remain", n)
			}
		})
	}
}

// warmUp makes every connection the multi-key calls will use, so that the
// round trips counted afterwards are the calls' own and not a new
// connection's handshake (HELLO, CLIENT SETINFO).
func warmUp(t *testing.T, b backend.Multi) {
	t.Helper()
	ctx := testutil.Context(t)
	items := map[string][]byte{}
	var keys []string
	for i := range 30 {
		k := testutil.Unique(fmt.Sprint("warm-", i))
		items[k] = []byte("w")
		keys = append(keys, k)
	}
	if err := b.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
}

// TestRD3ClusterMultiAcrossMasters: a multi-key call over keys on all three
// masters returns every value, in one round trip per node.
func TestRD3ClusterMultiAcrossMasters(t *testing.T) {
	c := testserver.SharedCluster(t)
	ctx := testutil.Context(t)
	for _, ttl := range []int{0, 60} {
		t.Run(fmt.Sprintf("redis_expiration_time=%d", ttl), func(t *testing.T) {
			b := newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "redis_expiration_time": ttl})
			cc := b.(*redis.Backend).Client().(*goredis.ClusterClient)
			if err := cc.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			// One counter per master, on the node clients that the
			// cluster pipeline runs on.
			var mu sync.Mutex
			hooks := map[string]*countHook{}
			err := cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
				h := &countHook{}
				n.AddHook(h)
				mu.Lock()
				hooks[n.Options().Addr] = h
				mu.Unlock()
				return nil
			})
			if err != nil || len(hooks) != 3 {
				t.Fatalf("ForEachMaster: %d masters, %v", len(hooks), err)
			}
			warmUp(t, b.(backend.Multi))
			reset := func() {
				for _, h := range hooks {
					h.Reset()
				}
			}
			oneEach := func(what string) {
				t.Helper()
				for addr, h := range hooks {
					if n := h.Count(); n != 1 {
						t.Fatalf("%s: master %s had %d round trips; want 1", what, addr, n)
					}
				}
			}

			// Keys until every master has some, two with one hash tag.
			//lint:ignore SA1019 CLUSTER SLOTS gives the slot ranges this test needs, and Redis 7.0 still serves it
			slots, err := cc.ClusterSlots(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			owner := func(k string) string {
				s := int(redis.Slot(k))
				for _, r := range slots {
					if s >= r.Start && s <= r.End {
						return r.Nodes[0].Addr
					}
				}
				return ""
			}
			perNode := map[string]int{}
			tag := testutil.Unique("{tag}")
			keys := []string{tag + "-a", tag + "-b"}
			for i := 0; len(perNode) < 3 || len(keys) < 30; i++ {
				k := testutil.Unique(fmt.Sprint("rd3c-", i))
				keys = append(keys, k)
				perNode[owner(k)]++
			}
			items := map[string][]byte{}
			for _, k := range keys {
				items[k] = []byte("v:" + k)
			}

			reset()
			if err := b.(backend.Multi).SetMulti(ctx, items); err != nil {
				t.Fatal(err)
			}
			oneEach("SetMulti")

			reset()
			got, err := b.(backend.Multi).GetMulti(ctx, append(keys, testutil.Unique("missing")))
			if err != nil {
				t.Fatal(err)
			}
			oneEach("GetMulti")
			for i, k := range keys {
				if string(got[i]) != "v:"+k {
					t.Fatalf("GetMulti[%q] = %q", k, got[i])
				}
			}
			if got[len(keys)] != nil {
				t.Fatal("a missing key has a value")
			}
			if ttl > 0 {
				if ms := cc.PTTL(ctx, keys[5]).Val(); ms <= 0 {
					t.Fatalf("PTTL after SetMulti = %v; want redis_expiration_time", ms)
				}
			}

			reset()
			if err := b.(backend.Multi).DeleteMulti(ctx, keys); err != nil {
				t.Fatal(err)
			}
			oneEach("DeleteMulti")
			if got, _ := b.(backend.Multi).GetMulti(ctx, keys); got[0] != nil || got[len(got)-1] != nil {
				t.Fatal("values remain after DeleteMulti")
			}
		})
	}
}

// TestSlotMatchesServer: Slot agrees with CLUSTER KEYSLOT, hash tags
// included.
func TestSlotMatchesServer(t *testing.T) {
	c := testserver.SharedCluster(t)
	raw := rawClient(t, c.Addrs()[0])
	for _, k := range []string{"", "a", "foo", "123456789", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{", "}", "{}", "x{y", "\xffdogpile:lock:{t}k", "ünïcödé"} {
		want, err := raw.ClusterKeySlot(testutil.Context(t), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redis.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, server says %d", k, got, want)
		}
	}
}

// TestRD4SentinelFailover: the master is killed while a loop reads and
// writes; after the sentinels promote the replica, the same region works
// again, without a restart.
func TestRD4SentinelFailover(t *testing.T) {
	s := testserver.StartSentinel(t)
	r := regionOn(t, "redis_sentinel", dogpile.Args{
		"sentinels": s.SentinelAddrs(), "service_name": s.MasterName,
		"socket_timeout": 0.5, "socket_connect_timeout": 0.5,
	})
	ctx := testutil.Context(t)
	oldMaster, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		err  error
		took time.Duration
		at   time.Time
	}
	results := make(chan result, 1024)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the read/write loop
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			k := fmt.Sprintf("rd4-%d", i)
			opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := r.Set(opCtx, k, i)
			if err == nil {
				var v int
				var ok bool
				v, ok, err = dogpile.Get[int](opCtx, r, k)
				if err == nil && (!ok || v != i) {
					err = fmt.Errorf("read back %d, %v; want %d", v, ok, i)
				}
			}
			cancel()
			select {
			case results <- result{err, time.Since(start), time.Now()}:
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Some good rounds, then kill the master.
	for range 5 {
		if res := <-results; res.err != nil {
			t.Fatalf("before the failover: %v", res.err)
		}
	}
	oldMaster.Kill()
	killed := time.Now()

	var failures int
	var longest time.Duration
	deadline := time.After(30 * time.Second)
	for recovered := 0; recovered < 5; {
		select {
		case res := <-results:
			longest = max(longest, res.took)
			switch {
			case res.err != nil:
				failures++
				recovered = 0
			case res.at.After(killed):
				recovered++
			}
		case <-deadline:
			t.Fatalf("the region did not work again within 30s of killing the master (%d failed rounds)", failures)
		}
	}
	// The replica was promoted. (Ask it, not a sentinel: the sentinel that
	// did not lead the failover learns of it up to two seconds later.)
	newMaster := s.Servers[1]
	if oldMaster == newMaster {
		newMaster = s.Servers[0]
	}
	if role := testserver.RedisCLI(t, newMaster.Addr(), "ROLE"); !strings.HasPrefix(role, "master") {
		t.Fatalf("the loop works again but the replica's role is %q", role)
	}
	t.Logf("worked again %v after the kill (%d failed rounds, longest round %v); new master %s",
		time.Since(killed).Round(time.Millisecond), failures, longest.Round(time.Millisecond), newMaster.Addr())
	if longest > 10*time.Second {
		t.Fatalf("one round took %v during the failover; want bounded by the timeouts", longest)
	}
	// Written after the failover: on the new master.
	key := testutil.Unique("rd4-after")
	if err := r.Set(ctx, key, "after"); err != nil {
		t.Fatal(err)
	}
	if got := testserver.RedisCLI(t, newMaster.Addr(), "EXISTS", key); got != "1" {
		t.Fatal("a value written after the failover is not on the new master")
	}
}

// TestRD5ConnectionArguments: url, host/port/db, username/password,
// client_name and pool size reach the connection.
func TestRD5ConnectionArguments(t *testing.T) {
	srv := testserver.StartRedis(t, "--requirepass", "pw", "--user", "alice", "on", ">alicepw", "~*", "&*", "+@all")
	host, port, _ := net.SplitHostPort(srv.Addr())
	ctx := testutil.Context(t)
	cli := func(args ...string) string {
		return testserver.RedisCLI(t, srv.Addr(), append([]string{"--no-auth-warning", "-a", "pw"}, args...)...)
	}
	for name, tc := range map[string]struct {
		args   dogpile.Args
		db     string
		whoami string
	}{
		"url":                    {dogpile.Args{"url": "redis://:pw@" + srv.Addr() + "/2"}, "2", "default"},
		"url with user":          {dogpile.Args{"url": "redis://alice:alicepw@" + srv.Addr() + "/5"}, "5", "alice"},
		"host port db password":  {dogpile.Args{"host": host, "port": port, "db": 3, "password": "pw"}, "3", "default"},
		"username password":      {dogpile.Args{"host": host, "port": port, "username": "alice", "password": "alicepw"}, "0", "alice"},
		"connection_kwargs":      {dogpile.Args{"host": host, "port": port, "connection_kwargs": map[string]any{"db": "4", "password": "pw"}}, "4", "default"},
		"top level beats kwargs": {dogpile.Args{"host": host, "port": port, "db": 6, "password": "pw", "connection_kwargs": map[string]any{"db": 4}}, "6", "default"},
	} {
		t.Run(name, func(t *testing.T) {
			b := newFromArgs(t, "redis", tc.args)
			key := testutil.Unique("rd5")
			if err := b.Set(ctx, key, []byte("v")); err != nil {
				t.Fatal(err)
			}
			if got := cli("-n", tc.db, "EXISTS", key); got != "1" {
				t.Fatalf("the value is not in database %s", tc.db)
			}
			if who := b.(*redis.Backend).Client().Do(ctx, "ACL", "WHOAMI").Val(); who != tc.whoami {
				t.Fatalf("connected as %v, want %s", who, tc.whoami)
			}
		})
	}

	t.Run("client_name and pool_size", func(t *testing.T) {
		b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://:pw@" + srv.Addr(), "client_name": "dogpile-rd5", "connection_kwargs": map[string]any{"max_connections": 3}})
		if _, _, err := b.Get(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if list := cli("CLIENT", "LIST"); !strings.Contains(list, "name=dogpile-rd5") {
			t.Fatalf("no connection named dogpile-rd5 in CLIENT LIST:\n%s", list)
		}
		if n := b.(*redis.Backend).Client().(*goredis.Client).Options().PoolSize; n != 3 {
			t.Fatalf("pool size %d, want 3 from max_connections", n)
		}
	})

	t.Run("wrong password is a clear error", func(t *testing.T) {
		for name, args := range map[string]dogpile.Args{
			"wrong password": {"url": "redis://:nope@" + srv.Addr()},
			"wrong user":     {"host": host, "port": port, "username": "bob", "password": "alicepw"},
			"no password":    {"url": "redis://" + srv.Addr()},
		} {
			r := regionOn(t, "redis", args)
			start := time.Now()
			_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "v", nil })
			if !errors.Is(err, redis.ErrAuth) || !errors.Is(err, dogpile.ErrBackend) || !strings.Contains(err.Error(), "password") {
				t.Fatalf("%s: %v; want an error that is ErrAuth and ErrBackend and names the password", name, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("%s: the error took %v", name, d)
			}
			t.Logf("%s: %v", name, err)
		}
	})
}

// TestRD5Timeouts: an unreachable server and a server that never answers
// give errors in bounded time.
func TestRD5Timeouts(t *testing.T) {
	ctx := testutil.Context(t)
	t.Run("unreachable", func(t *testing.T) {
		port := testserver.FreePort(t) // nothing listens there
		r := regionOn(t, "redis", dogpile.Args{"host": "127.0.0.1", "port": port, "socket_connect_timeout": 0.5})
		start := time.Now()
		_, _, err := dogpile.Get[string](ctx, r, "k")
		if !errors.Is(err, redis.ErrUnreachable) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Fatalf("Get from an unreachable server = %v; want ErrUnreachable naming the address", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
		t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	})
	t.Run("silent server", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var conns sync.WaitGroup
		var accepted atomic.Int32
		go func() { // accept, read, never answer
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				conns.Add(1)
				go func() {
					defer conns.Done()
					defer c.Close()
					buf := make([]byte, 1024)
					for {
						if _, err := c.Read(buf); err != nil {
							return
						}
					}
				}()
			}
		}()
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + l.Addr().String(), "socket_timeout": 0.2, "max_retries": -1})
		start := time.Now()
		_, _, err = dogpile.Get[string](ctx, r, "k")
		took := time.Since(start)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Get from a silent server = %v; want a timeout", err)
		}
		if took > 3*time.Second {
			t.Fatalf("took %v with socket_timeout 0.2", took)
		}
		if accepted.Load() == 0 {
			t.Fatal("the client never connected")
		}
		t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		r.Close()
		l.Close()
		conns.Wait()
	})
}

// TestRD5TLS: the TLS arguments (rediss URL, ssl, ssl_ca_certs,
// ssl_certfile/ssl_keyfile or both in one file, ssl_cert_reqs — "optional"
// checks the server's certificate as "required" does —, ssl_check_hostname)
// take effect.
// The server's certificate is for the name localhost, not for 127.0.0.1,
// and the server asks for a client certificate.
func TestRD5TLS(t *testing.T) {
	srv, files := testserver.StartRedisTLS(t, true)
	ctx := testutil.Context(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	with := func(args dogpile.Args) dogpile.Args { // plus the client certificate
		args["ssl_certfile"], args["ssl_keyfile"] = files.ClientCert, files.ClientKey
		return args
	}
	// redis-py takes the key from the certificate's file when ssl_keyfile
	// is not given.
	both := filepath.Join(t.TempDir(), "client-and-key.pem")
	var pem []byte
	for _, f := range []string{files.ClientCert, files.ClientKey} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pem = append(pem, b...)
	}
	if err := os.WriteFile(both, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string]dogpile.Args{
		"rediss url":           with(dogpile.Args{"url": "rediss://localhost:" + port, "ssl_ca_certs": files.CA}),
		"key in the cert file": {"url": "rediss://localhost:" + port, "ssl_ca_certs": files.CA, "ssl_certfile": both},
		"CERT_OPTIONAL":        with(dogpile.Args{"url": "rediss://localhost:" + port, "ssl_ca_certs": files.CA, "ssl_cert_reqs": "CERT_OPTIONAL"}),
		"ssl with host":        with(dogpile.Args{"ssl": "true", "host": "localhost", "port": port, "ssl_ca_certs": files.CA}),
		"in connection_kwargs": {"host": "localhost", "port": port, "connection_kwargs": map[string]any(with(dogpile.Args{"ssl": true, "ssl_ca_certs": files.CA}))},
		"CERT_REQUIRED":        with(dogpile.Args{"url": "rediss://localhost:" + port, "ssl_ca_certs": files.CA, "ssl_cert_reqs": "CERT_REQUIRED"}),
		"ssl_cert_reqs none":   with(dogpile.Args{"url": "rediss://" + srv.Addr(), "ssl_cert_reqs": "none"}),
		"ssl_check_hostname":   with(dogpile.Args{"ssl": true, "host": "127.0.0.1", "port": port, "ssl_ca_certs": files.CA, "ssl_check_hostname": false}),
	} {
		t.Run("works/"+name, func(t *testing.T) {
			b := newFromArgs(t, "redis", args)
			if err := b.Set(ctx, "tls", []byte("v")); err != nil {
				t.Fatalf("over TLS: %v", err)
			}
		})
	}
	for name, tc := range map[string]struct {
		args dogpile.Args
		want string
	}{
		"plain text to the TLS port": {dogpile.Args{"url": "redis://" + srv.Addr(), "socket_timeout": 0.5, "max_retries": -1}, ""},
		"unknown CA":                 {with(dogpile.Args{"url": "rediss://localhost:" + port, "max_retries": -1}), "certificate signed by unknown authority"},
		"CERT_OPTIONAL verifies":     {with(dogpile.Args{"url": "rediss://localhost:" + port, "ssl_cert_reqs": "optional", "max_retries": -1}), "certificate signed by unknown authority"},
		"host name checked":          {with(dogpile.Args{"ssl": true, "host": "127.0.0.1", "port": port, "ssl_ca_certs": files.CA, "max_retries": -1}), "127.0.0.1"},
		"no client certificate":      {dogpile.Args{"url": "rediss://localhost:" + port, "ssl_ca_certs": files.CA, "max_retries": -1}, "certificate required"},
	} {
		t.Run("fails/"+name, func(t *testing.T) {
			b := newFromArgs(t, "redis", tc.args)
			err := b.Set(ctx, "tls", []byte("v"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set = %v; want an error mentioning %q", err, tc.want)
			}
			if tc.want != "" && !errors.Is(err, redis.ErrUnreachable) {
				t.Fatalf("Set = %v; want ErrUnreachable for a failed handshake", err)
			}
			t.Log(err)
		})
	}
}
