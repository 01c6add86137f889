package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SentinelMasterName is the service name the Sentinel setup monitors.
const SentinelMasterName = "mymaster"

// Sentinel is a Redis Sentinel setup: a master, one replica, and three
// sentinels with a quorum of two that fail over a master one second after it
// stops answering.
type Sentinel struct {
	// MasterName is the monitored service's name (SentinelMasterName).
	MasterName string
	// Servers are the data servers; Servers[0] was the master at start,
	// Servers[1] its replica.
	Servers []*Process
	// Sentinels are the three sentinel processes.
	Sentinels []*Process
}

// SentinelAddrs returns the sentinels' "127.0.0.1:port" addresses.
func (s *Sentinel) SentinelAddrs() []string { return addrs(s.Sentinels) }

// MasterAddr asks the first sentinel that answers for the current master's
// address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var lastErr error
	for _, p := range s.Sentinels {
		if !p.Running() {
			continue
		}
		v, err := Do(ctx, p.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
		if hp, ok := v.([]any); err == nil && ok && len(hp) == 2 {
			return net.JoinHostPort(fmt.Sprint(hp[0]), fmt.Sprint(hp[1])), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("testserver: no sentinel knows the master: %v", lastErr)
}

// Master returns the data server that the sentinels currently call the
// master.
func (s *Sentinel) Master(ctx context.Context) (*Process, error) {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range s.Servers {
		if p.Addr() == addr {
			return p, nil
		}
	}
	return nil, fmt.Errorf("testserver: the sentinels name %s as master, which is none of this setup's servers", addr)
}

// Stop stops the sentinels, then the servers.
func (s *Sentinel) Stop() {
	for _, p := range s.Sentinels {
		p.Stop()
	}
	for _, p := range s.Servers {
		p.Stop()
	}
}

// StartSentinel starts a Sentinel setup and waits until it is ready to fail
// over: the replica is in sync and every sentinel knows the replica and the
// two other sentinels. It stops everything when the test ends. It takes two
// to three seconds (sentinels find each other through hello messages sent
// every two seconds).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	server, _ := NeedRedis(t)
	dir := t.TempDir()
	s := &Sentinel{MasterName: SentinelMasterName}
	t.Cleanup(s.Stop)

	// Without a delay the replica syncs at once (the default waits 5s for
	// more replicas to share one transfer).
	master := newRedisProcess(t, server, mkdir(t, dir, "master"), "--repl-diskless-sync-delay", "0")
	master.Name = "sentinel-setup master :" + strconv.Itoa(master.Port)
	master.Start(t)
	replica := newRedisProcess(t, server, mkdir(t, dir, "replica"), "--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	replica.Name = "sentinel-setup replica :" + strconv.Itoa(replica.Port)
	replica.Start(t)
	s.Servers = []*Process{master, replica}

	err := WaitFor(10*time.Second, "replica in sync", func(ctx context.Context) error {
		v, err := Do(ctx, replica.Addr(), "info", "replication")
		if err != nil {
			return err
		}
		if info, _ := v.(string); !containsLine(info, "master_link_status:up") {
			return ErrNotYet
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		d := mkdir(t, dir, "sentinel"+strconv.Itoa(i))
		port := FreePort(t)
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
logfile ""
dir %s
sentinel resolve-hostnames no
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, port, d, s.MasterName, master.Port, s.MasterName, s.MasterName, s.MasterName)
		// Sentinel rewrites its configuration file, so it must be its own.
		path := filepath.Join(d, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &Process{Name: "sentinel " + strconv.Itoa(i) + " :" + strconv.Itoa(port), Path: server, Args: []string{path, "--sentinel"}, Dir: d, Port: port}
		p.Start(t)
		s.Sentinels = append(s.Sentinels, p)
	}

	err = WaitFor(20*time.Second, "every sentinel knowing the replica and the other sentinels", func(ctx context.Context) error {
		for _, p := range s.Sentinels {
			v, err := Do(ctx, p.Addr(), "SENTINEL", "MASTER", s.MasterName)
			if err != nil {
				return err
			}
			m := map[string]string{}
			if kv, ok := v.([]any); ok {
				for i := 0; i+1 < len(kv); i += 2 {
					m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
				}
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("%w: %s sees %s replicas and %s other sentinels", ErrNotYet, p.Name, m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mkdir(t testing.TB, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func containsLine(s, line string) bool {
	for _, l := range splitLines(s) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			l := s[start:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			out = append(out, l)
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
