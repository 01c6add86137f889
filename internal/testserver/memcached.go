package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MemcachedOptions configures a memcached started by Memcached.
type MemcachedOptions struct {
	// MaxItemSize, if positive, is the server's item size limit in bytes
	// (memcached -I; at least 1024). Tests of the limit use a small one so
	// they need not send megabytes. Zero keeps memcached's default (1 MiB).
	MaxItemSize int
	// Args are further command-line arguments.
	Args []string
}

// Memcached starts a memcached on a free loopback port (no UDP), waits until
// it answers, and stops it when the test ends. A missing binary ends the test
// with the command that installs it.
func Memcached(t testing.TB, opts MemcachedOptions) *Process {
	t.Helper()
	path := Need(t, "memcached", "memcached")
	if opts.MaxItemSize != 0 && opts.MaxItemSize < 1024 {
		t.Fatalf("testserver: memcached MaxItemSize %d is below memcached's minimum of 1024 bytes", opts.MaxItemSize)
	}
	var lastErr error
	// FreePort's port may be taken by the time memcached binds it; a few
	// tries make that race harmless.
	for range 3 {
		p := &Process{Name: "memcached", Path: path, Port: FreePort(t)}
		p.Args = memcachedArgs(p.Port, opts)
		p.Name = "memcached " + p.Addr()
		if lastErr = p.start(); lastErr == nil {
			// memcached takes most of a second to end on SIGTERM and keeps
			// nothing worth a clean shutdown: kill it.
			t.Cleanup(p.Kill)
			return p
		}
	}
	t.Fatal(lastErr)
	return nil
}

// MemcachedN starts n memcached servers as Memcached does.
func MemcachedN(t testing.TB, n int, opts MemcachedOptions) []*Process {
	t.Helper()
	ps := make([]*Process, n)
	for i := range ps {
		ps[i] = Memcached(t, opts)
	}
	return ps
}

// Addrs returns the "127.0.0.1:port" addresses of ps.
func Addrs(ps []*Process) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

func memcachedArgs(port int, opts MemcachedOptions) []string {
	args := []string{"-p", strconv.Itoa(port), "-l", "127.0.0.1", "-U", "0"}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root unless told which user to be.
		args = append(args, "-u", "root")
	}
	if opts.MaxItemSize > 0 {
		// memcached insists that its slab chunks be no larger than an item.
		args = append(args, "-I", strconv.Itoa(opts.MaxItemSize),
			"-o", "slab_chunk_max="+strconv.Itoa(opts.MaxItemSize/2))
	}
	return append(args, opts.Args...)
}

// MemcachedStats returns the server's "stats" (or "stats <group>", e.g.
// "settings") as a map, read over a connection of its own so that it counts
// no client's commands.
func MemcachedStats(t testing.TB, addr string, group ...string) map[string]string {
	t.Helper()
	st, err := memcachedStats(addr, group...)
	if err != nil {
		t.Fatalf("testserver: stats of memcached %s: %v", addr, err)
	}
	return st
}

func memcachedStats(addr string, group ...string) (map[string]string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a fresh conn
	cmd := strings.TrimSpace("stats " + strings.Join(group, " "))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		return nil, err
	}
	st := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "END" {
			return st, nil
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[0] != "STAT" {
			return nil, fmt.Errorf("unexpected line %q in reply to %q", line, cmd)
		}
		st[f[1]] = f[2]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("connection closed before END in reply to %q", cmd)
}

// MemcachedTTL returns the time to live the server has for key, read with
// the meta protocol ("mg key t"), on a connection of its own: ttl is -1 for
// an item that never expires; found is false if there is no such item.
func MemcachedTTL(t testing.TB, addr, key string) (ttl time.Duration, found bool) {
	t.Helper()
	line := memcachedReply(t, addr, "mg "+key+" t")
	if line == "EN" {
		return 0, false
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "HD" || !strings.HasPrefix(f[1], "t") {
		t.Fatalf("testserver: memcached %s: mg %s t: unexpected reply %q", addr, key, line)
	}
	n, err := strconv.Atoi(f[1][1:])
	if err != nil {
		t.Fatalf("testserver: memcached %s: mg %s t: unexpected reply %q", addr, key, line)
	}
	if n < 0 {
		return -1, true
	}
	return time.Duration(n) * time.Second, true
}
