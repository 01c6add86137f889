package testserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/internal/testserver"
)

func TestStartRedisAnswersAndStops(t *testing.T) {
	var p *testserver.Process
	t.Run("inner", func(t *testing.T) {
		p = testserver.StartRedis(t, "--requirepass", "s3cret")
		if got := testserver.RedisCLI(t, p.Addr(), "--no-auth-warning", "-a", "s3cret", "PING"); got != "PONG" {
			t.Fatalf("PING = %q, want PONG", got)
		}
		if got := testserver.RedisCLI(t, p.Addr(), "PING"); !strings.Contains(got, "NOAUTH") {
			t.Fatalf("PING without the password = %q; the extra argument --requirepass did not apply", got)
		}
	})
	if p.Running() {
		t.Fatal("the server still runs after its test ended")
	}
}

func TestRedisKillRestart(t *testing.T) {
	p := testserver.StartRedis(t)
	testserver.RedisCLI(t, p.Addr(), "SET", "k", "v")
	p.Kill()
	if p.Running() {
		t.Fatal("Running after Kill")
	}
	p.Restart(t)
	// No persistence: a restarted server is empty.
	if got := testserver.RedisCLI(t, p.Addr(), "EXISTS", "k"); got != "0" {
		t.Fatalf("EXISTS after restart = %q, want 0", got)
	}
}

func TestStartRedisTLS(t *testing.T) {
	p, files := testserver.StartRedisTLS(t, true)
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), TLSConfig: &tls.Config{ServerName: "localhost", RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
}

func TestStartCluster(t *testing.T) {
	c := testserver.StartCluster(t)
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(c.Nodes))
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var masters atomic.Int32 // ForEachMaster calls back concurrently
	if err := cc.ForEachMaster(ctx, func(context.Context, *goredis.Client) error { masters.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if masters := masters.Load(); masters != 3 {
		t.Fatalf("%d masters, want 3", masters)
	}
	if got := testserver.RedisCLI(t, c.Nodes[0].Addr(), "CLUSTER", "INFO"); !strings.Contains(got, "cluster_slots_assigned:16384") {
		t.Fatalf("not every slot is assigned:\n%s", got)
	}
}

func TestStartSentinel(t *testing.T) {
	s := testserver.StartSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m != s.Servers[0] {
		t.Fatalf("master is %s, want the first server %s", m.Addr(), s.Servers[0].Addr())
	}
	// The replica follows the master.
	testserver.RedisCLI(t, m.Addr(), "SET", "k", "v")
	if err := testserver.WaitFor(5*time.Second, "replication of k", func(ctx context.Context) error {
		v, err := testserver.Do(ctx, s.Servers[1].Addr(), "get", "k")
		if err != nil || v != "v" {
			return testserver.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
