package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// loneSentinel starts one sentinel that monitors the master at masterPort
// as testserver.SentinelMasterName, with further lines of configuration
// (a password of its own, users), and returns its address. It answers where
// the master is at once: it needs no other sentinel, as it fails nothing
// over.
func loneSentinel(t *testing.T, masterPort int, conf ...string) string {
	t.Helper()
	return startLoneSentinel(t, masterPort, nil, conf...)
}

// loneTLSSentinel is loneSentinel for a master that speaks only TLS
// (testserver.StartRedisTLS without client authentication): the sentinel,
// too, speaks only TLS, with the master's certificates, and reaches the
// master over TLS.
func loneTLSSentinel(t *testing.T, masterPort int, files testserver.TLSFiles) string {
	t.Helper()
	return startLoneSentinel(t, masterPort, &files)
}

func startLoneSentinel(t *testing.T, masterPort int, tlsFiles *testserver.TLSFiles, conf ...string) string {
	t.Helper()
	server, _ := testserver.NeedRedis(t)
	dir := t.TempDir()
	port := testserver.FreePort(t)
	listen := []string{"port " + strconv.Itoa(port)}
	if tlsFiles != nil {
		listen = []string{"port 0", "tls-port " + strconv.Itoa(port),
			"tls-cert-file " + tlsFiles.ServerCert, "tls-key-file " + tlsFiles.ServerKey, "tls-ca-cert-file " + tlsFiles.CA,
			"tls-auth-clients no", "tls-replication yes"}
	}
	lines := append(listen, "bind 127.0.0.1", "daemonize no", `logfile ""`, "dir "+dir,
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", testserver.SentinelMasterName, masterPort))
	lines = append(lines, conf...)
	path := filepath.Join(dir, "sentinel.conf") // its own: Sentinel rewrites it
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &testserver.Process{Name: "sentinel :" + strconv.Itoa(port), Path: server, Args: []string{path, "--sentinel"}, Dir: dir, Port: port}
	p.Start(t)
	return p.Addr()
}

// TestSentinelCredentials: redis_sentinel gives the sentinels the servers'
// password unless sentinel_kwargs gives them a password, or a username and
// password, of their own; with each, a sentinel that requires it tells the
// client where the master (with a password of its own) is, and the value is
// written there. The master is found under the default service_name,
// mymaster.
func TestSentinelCredentials(t *testing.T) {
	const masterPW = "master-pw"
	master := testserver.StartRedis(t, "--requirepass", masterPW)
	authPass := "sentinel auth-pass " + testserver.SentinelMasterName + " " + masterPW
	for name, c := range map[string]struct {
		conf []string
		args dogpile.Args
	}{
		"the servers' password": {[]string{authPass, "requirepass " + masterPW}, dogpile.Args{}},
		"sentinel_kwargs password": {[]string{authPass, "requirepass sentinel-pw"},
			dogpile.Args{"sentinel_kwargs": map[string]any{"password": "sentinel-pw"}}},
		"sentinel_kwargs username": {[]string{authPass, "requirepass sentinel-pw", "user watcher on >watcher-pw ~* &* +@all"},
			dogpile.Args{"sentinel_kwargs": map[string]any{"username": "watcher", "password": "watcher-pw"}}},
		"and a database": {[]string{authPass, "requirepass " + masterPW}, dogpile.Args{"db": 3}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := testutil.Context(t)
			args := dogpile.Args{"sentinels": loneSentinel(t, master.Port, c.conf...), "password": masterPW}
			for k, v := range c.args {
				args[k] = v
			}
			key := testutil.Unique("sentinel-auth")
			if err := regionOn(t, "redis_sentinel", args).Set(ctx, key, "v"); err != nil {
				t.Fatalf("Set through a sentinel with %s: %v", name, err)
			}
			db, _ := args["db"].(int)
			raw := goredis.NewClient(&goredis.Options{Addr: master.Addr(), Password: masterPW, DB: db})
			defer raw.Close()
			if raw.Exists(ctx, key).Val() != 1 {
				t.Fatalf("the value is not in the master's database %d", db)
			}
		})
	}
}

// TestSentinelTLS: redis_sentinel's TLS arguments reach the sentinels and
// the master they name, both of which speak only TLS: a value is written
// and read back; without ssl, or without the CA that signed the servers'
// certificates, the call fails; and the master's host name is checked
// against its certificate as a sentinel's is (the certificates are for
// localhost, and the sentinel names the master by 127.0.0.1).
func TestSentinelTLS(t *testing.T) {
	master, files := testserver.StartRedisTLS(t, false)
	sentinel := loneTLSSentinel(t, master.Port, files)
	_, port, _ := net.SplitHostPort(sentinel)
	viaLocalhost := "localhost:" + port
	ctx := testutil.Context(t)

	r := regionOn(t, "redis_sentinel", dogpile.Args{"sentinels": sentinel, "ssl": true, "ssl_ca_certs": files.CA, "ssl_check_hostname": false})
	key := testutil.Unique("sentinel-tls")
	if err := r.Set(ctx, key, "v"); err != nil {
		t.Fatalf("Set through a TLS sentinel: %v", err)
	}
	if v, ok, err := dogpile.Get[string](ctx, r, key); err != nil || !ok || v != "v" {
		t.Fatalf("Get through a TLS sentinel = %q, %v, %v; want \"v\"", v, ok, err)
	}

	for name, tc := range map[string]struct {
		args dogpile.Args
		want string
	}{
		"no ssl":                    {dogpile.Args{"sentinels": sentinel, "socket_timeout": 0.5}, ""},
		"unknown CA":                {dogpile.Args{"sentinels": sentinel, "ssl": true, "ssl_check_hostname": false}, "certificate signed by unknown authority"},
		"the master's name checked": {dogpile.Args{"sentinels": viaLocalhost, "ssl": true, "ssl_ca_certs": files.CA}, "for 127.0.0.1"},
	} {
		t.Run("fails/"+name, func(t *testing.T) {
			tc.args["max_retries"] = -1
			err := regionOn(t, "redis_sentinel", tc.args).Set(ctx, key, "w")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set = %v; want an error mentioning %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// storeSource is the Source of b's first StoreStats report: the backend's
// description of its servers, as its errors give it (the report is made,
// with its error, when the servers can't be reached within the timeout).
func storeSource(t *testing.T, b dogpile.Backend) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	st, err := b.(backend.StatsReporter).StoreStats(ctx)
	if err != nil || len(st) == 0 {
		t.Fatalf("StoreStats = %v, %v", st, err)
	}
	return st[0].Source
}

// TestSentinelWhere: a Sentinel backend names the master and every
// sentinel, a sentinel without a port at 26379, Sentinel's port; one on a
// failover client of the caller's says the master is found through
// Sentinel.
func TestSentinelWhere(t *testing.T) {
	fromArgs := newFromArgs(t, "redis_sentinel", dogpile.Args{"sentinels": "127.0.0.1:1, 127.0.0.2", "service_name": "cache"})
	if got, want := storeSource(t, fromArgs), `redis master "cache" through sentinels 127.0.0.1:1,127.0.0.2:26379`; got != want {
		t.Errorf("redis_sentinel: %q; want %q", got, want)
	}
	withNew, err := redis.New(redis.Options{Failover: &goredis.FailoverOptions{MasterName: "cache", SentinelAddrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { withNew.Close() })
	if got, want := storeSource(t, withNew), `redis master "cache" through sentinels 127.0.0.1:1,127.0.0.1:2`; got != want {
		t.Errorf("New with Failover: %q; want %q", got, want)
	}
	fc := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "cache", SentinelAddrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { fc.Close() })
	given, err := redis.NewFromClient(fc, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { given.Close() })
	if got, want := storeSource(t, given), "redis master through Sentinel"; got != want {
		t.Errorf("NewFromClient with a failover client: %q; want %q", got, want)
	}
}

// TestClientLogSentinelMasterName: go-redis's line about a Sentinel master,
// which names the master but no sentinel, reaches the logger of the region
// whose backend uses that master, and not that of a region on another
// server.
func TestClientLogSentinelMasterName(t *testing.T) {
	redis.RouteClientLogs(slog.LevelDebug)
	ctx := testutil.Context(t)
	master := testserver.StartRedis(t)
	sentinelLog, otherLog := testutil.NewLogRecorder(), testutil.NewLogRecorder()
	other := refusedAddr(t)
	o, err := dogpile.NewRegion(dogpile.WithLogger(otherLog.Logger())).Configure("redis", dogpile.WithArguments(dogpile.Args{"url": "redis://" + other}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	r, err := dogpile.NewRegion(dogpile.WithLogger(sentinelLog.Logger())).Configure("redis_sentinel", dogpile.WithArguments(dogpile.Args{"sentinels": loneSentinel(t, master.Port)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Set(ctx, testutil.Unique("sentinel-log"), "v"); err != nil {
		t.Fatal(err)
	}
	quoted := strconv.Quote(testserver.SentinelMasterName)
	if lines := sentinelLog.Lines("source=go-redis", quoted, master.Addr()); len(lines) == 0 {
		t.Fatalf("no go-redis line about the master %s in the region's logger; it has %q", quoted, sentinelLog.Lines())
	}
	if lines := otherLog.Lines("source=go-redis"); len(lines) != 0 {
		t.Fatalf("the other region's logger has %q", lines)
	}
}

// TestSentinelRefusesServerAddress: redis_sentinel refuses url, host and
// port with an error that names the argument and says to give the sentinels
// and the service name instead.
func TestSentinelRefusesServerAddress(t *testing.T) {
	for name, v := range map[string]any{"url": "redis://h:1", "host": "h", "port": 6380} {
		_, err := dogpile.NewBackend("redis_sentinel", dogpile.Args{name: v, "sentinels": "h:26379"})
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != name || !strings.Contains(err.Error(), "give sentinels and service_name instead") {
			t.Errorf("redis_sentinel with %s: %v; want an *ArgError naming it that says to give sentinels and service_name", name, err)
		}
	}
}
