package testserver

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestMemcachedHas(t *testing.T) {
	p := Memcached(t, MemcachedOptions{})
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("set here 0 0 1\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "STORED\r\n" {
		t.Fatalf("set: %q, %v", line, err)
	}
	if !MemcachedHas(t, p.Addr(), "here") {
		t.Fatal("MemcachedHas of a stored key: false")
	}
	if MemcachedHas(t, p.Addr(), "missing") {
		t.Fatal("MemcachedHas of a missing key: true")
	}
	// It leaves the item unfetched (a get would mark it fetched).
	if _, err := c.Write([]byte("me here\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "fetch=no") {
		t.Fatalf("me after MemcachedHas: %q, %v; want fetch=no", line, err)
	}
}
