package testserver

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// MemcachedHas reports whether the server holds key, read with the meta
// protocol's debug command ("me key") on a connection of its own. Unlike a
// get, it does not mark the item as used, so a test that watches for an
// item to be evicted does not keep it from being evicted.
func MemcachedHas(t testing.TB, addr, key string) bool {
	t.Helper()
	switch line := memcachedReply(t, addr, "me "+key); {
	case line == "EN":
		return false
	case strings.HasPrefix(line, "ME "+key+" "):
		return true
	default:
		t.Fatalf("testserver: memcached %s: me %s: unexpected reply %q", addr, key, line)
		return false
	}
}

// memcachedReply sends cmd to the server on a connection of its own, so
// that it counts no client's commands, and returns the first line of the
// reply, trimmed.
func memcachedReply(t testing.TB, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("testserver: memcached %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a fresh conn
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		t.Fatalf("testserver: memcached %s: %v", addr, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("testserver: memcached %s: %s: %v", addr, cmd, err)
	}
	return strings.TrimSpace(line)
}
