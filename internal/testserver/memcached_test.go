package testserver

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMemcachedStartKillRestart(t *testing.T) {
	p := Memcached(t, MemcachedOptions{MaxItemSize: 64 << 10})
	st := MemcachedStats(t, p.Addr(), "settings")
	if got := st["item_size_max"]; got != strconv.Itoa(64<<10) {
		t.Fatalf("item_size_max = %q, want %d", got, 64<<10)
	}
	if st["udpport"] != "0" {
		t.Fatalf("udpport = %q, want 0 (UDP off)", st["udpport"])
	}
	if st := MemcachedStats(t, p.Addr()); st["pid"] == "" {
		t.Fatalf("stats has no pid: %v", st)
	}

	p.Kill()
	if p.Running() {
		t.Fatal("Running after Kill")
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a killed memcached still accepts connections")
	}
	p.Restart(t)
	if !p.Running() {
		t.Fatal("not Running after Restart")
	}
	MemcachedStats(t, p.Addr()) // answers again, on the same port
}

func TestMemcachedN(t *testing.T) {
	ps := MemcachedN(t, 3, MemcachedOptions{})
	seen := map[string]bool{}
	for _, a := range Addrs(ps) {
		if seen[a] {
			t.Fatalf("two servers on %s", a)
		}
		seen[a] = true
		MemcachedStats(t, a)
	}
}

func TestMemcachedTTL(t *testing.T) {
	p := Memcached(t, MemcachedOptions{})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Two sets, then a get so that both are answered before we look.
	if _, err := c.Write([]byte("set a 0 3600 1\r\nx\r\nset b 0 0 1\r\nx\r\nget a\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	for !strings.HasSuffix(string(buf), "END\r\n") {
		n, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			t.Fatal(err)
		}
		buf = buf[:len(buf)+n]
	}
	if ttl, ok := MemcachedTTL(t, p.Addr(), "a"); !ok || ttl < 3590*time.Second || ttl > 3600*time.Second {
		t.Fatalf("TTL(a) = %v, %v; want about 1h", ttl, ok)
	}
	if ttl, ok := MemcachedTTL(t, p.Addr(), "b"); !ok || ttl != -1 {
		t.Fatalf("TTL(b) = %v, %v; want -1 (never expires)", ttl, ok)
	}
	if _, ok := MemcachedTTL(t, p.Addr(), "missing"); ok {
		t.Fatal("TTL of a missing key: found")
	}
}
