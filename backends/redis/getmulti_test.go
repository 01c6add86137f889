package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestGetMultiReplies: GetMulti on one server, which reads MGET's raw reply,
// gives every kind of value back as it was stored — empty, binary, holding
// CRLF — and nil only for missing keys, with either protocol.
func TestGetMultiReplies(t *testing.T) {
	srv := testserver.SharedRedis(t)
	values := map[string][]byte{
		testutil.Unique("empty"):  {},
		testutil.Unique("crlf"):   []byte("a\r\n$3\r\nfoo\r\n"),
		testutil.Unique("binary"): {0, 0xff, '\r', 0, '\n'},
		testutil.Unique("large"):  bytes.Repeat([]byte("x"), 1<<20),
	}
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("RESP", proto), func(t *testing.T) {
			ctx := testutil.Context(t)
			b := onClient(t, &goredis.Options{Addr: srv.Addr(), Protocol: proto})
			if err := b.SetMulti(ctx, values); err != nil {
				t.Fatal(err)
			}
			keys := []string{testutil.Unique("missing")}
			for k := range values {
				keys = append(keys, k, testutil.Unique("missing"))
			}
			got, err := b.GetMulti(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(keys) {
				t.Fatalf("%d values for %d keys", len(got), len(keys))
			}
			for i, k := range keys {
				want, stored := values[k]
				switch {
				case !stored && got[i] != nil:
					t.Errorf("missing key %d: %q, want nil", i, got[i])
				case stored && (got[i] == nil || !bytes.Equal(got[i], want)):
					t.Errorf("key %d: %.40q (nil: %v), want %.40q", i, got[i], got[i] == nil, want)
				}
			}
		})
	}
}

// TestGetMultiServerError: a server's error reply to MGET (here a user whom
// the ACL forbids it) is returned as an error, as go-redis reports it, not
// read as values or misses.
func TestGetMultiServerError(t *testing.T) {
	srv := testserver.StartRedis(t)
	if out := testserver.RedisCLI(t, srv.Addr(), "ACL", "SETUSER", "nomget", "on", ">pw", "~*", "+@all", "-mget"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	ctx := testutil.Context(t)
	b := onClient(t, &goredis.Options{Addr: srv.Addr(), Username: "nomget", Password: "pw"})
	k := testutil.Unique("k")
	if err := b.Set(ctx, k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetMulti(ctx, []string{k})
	if err == nil || !goredis.IsPermissionError(err) {
		t.Fatalf("GetMulti = %q, %v; want the server's NOPERM error", got, err)
	}
}

// TestGetMultiRetriesABrokenConnection: go-redis does not retry a command
// whose raw reply it hands over as it comes, so GetMulti asks again with
// MGet, which it retries, when the connection breaks under the read: here a
// reset while the request was in a black hole.
func TestGetMultiRetriesABrokenConnection(t *testing.T) {
	srv := testserver.SharedRedis(t)
	p := testserver.StartFaultProxy(t, srv.Addr())
	ctx := testutil.Context(t)
	b := onClient(t, &goredis.Options{Addr: p.Addr()})
	k := testutil.Unique("k")
	if err := b.Set(ctx, k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	sent := p.BytesIn()
	type result struct {
		vals [][]byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		vals, err := b.GetMulti(ctx, []string{k})
		done <- result{vals, err}
	}()
	if err := testserver.WaitFor(10*time.Second, "the MGET in the black hole", func(context.Context) error {
		if p.BytesIn() == sent {
			return errors.New("nothing sent yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p.Heal() // resets the connection that lost the request
	res := <-done
	if res.err != nil || len(res.vals) != 1 || string(res.vals[0]) != "v" {
		t.Fatalf("GetMulti after a reset = %q, %v; want the value", res.vals, res.err)
	}
}

// onClient returns a backend on a client of its own with options o, both
// closed at the end of the test.
func onClient(t *testing.T, o *goredis.Options) *redis.Backend {
	t.Helper()
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	b, err := redis.NewFromClient(c, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
