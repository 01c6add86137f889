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
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("testserver: memcached %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a fresh conn
	if _, err := fmt.Fprintf(c, "me %s\r\n", key); err != nil {
		t.Fatalf("testserver: memcached %s: %v", addr, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("testserver: memcached %s: me %s: %v", addr, key, err)
	}
	switch line = strings.TrimSpace(line); {
	case line == "EN":
		return false
	case strings.HasPrefix(line, "ME "+key+" "):
		return true
	}
	t.Fatalf("testserver: memcached %s: me %s: unexpected reply %q", addr, key, line)
	return false
}
