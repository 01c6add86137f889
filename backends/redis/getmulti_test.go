package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestGetMultiReplies: GetMulti on one server (one MGET, its keys handed to
// go-redis by pointer) gives every kind of value back as it was stored —
// empty, binary, holding CRLF — and nil only for missing keys, with either
// protocol.
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

// TestGetMultiRetriesABrokenConnection: GetMulti's MGET is retried, as
// go-redis retries its own, when the connection breaks under the read: here
// a reset while the request was in a black hole.
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

// TestGetMultiKeysReadInHooks: GetMulti hands go-redis its keys by
// pointer, not boxed strings; a hook that prints the command, as a tracer
// does, still reads the keys themselves, and the values come back.
func TestGetMultiKeysReadInHooks(t *testing.T) {
	srv := testserver.SharedRedis(t)
	ctx := testutil.Context(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	h := &printHook{}
	c.AddHook(h)
	b, err := redis.NewFromClient(c, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	k1, k2 := testutil.Unique("a"), testutil.Unique("b")
	if err := b.SetMulti(ctx, map[string][]byte{k1: []byte("1"), k2: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	got, err := b.GetMulti(ctx, []string{k1, k2})
	if err != nil || len(got) != 2 || string(got[0]) != "1" || string(got[1]) != "2" {
		t.Fatalf("GetMulti = %q, %v; want 1 and 2", got, err)
	}
	printed := h.printed()
	if len(printed) != 1 {
		t.Fatalf("hook saw %q; want one command", printed)
	}
	want := "mget " + k1 + " " + k2
	if !strings.HasPrefix(printed[0], want+": ") || !strings.HasSuffix(printed[0], " | "+want) {
		t.Errorf("hook printed %q; want the command %q in both", printed[0], want)
	}
}

// printHook records each command as a hook that logs or traces prints it:
// its String, and its arguments through fmt.
type printHook struct {
	mu   sync.Mutex
	seen []string
}

func (h *printHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *printHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.mu.Lock()
		args := make([]string, len(cmd.Args()))
		for i, a := range cmd.Args() {
			args[i] = fmt.Sprint(a)
		}
		h.seen = append(h.seen, cmd.String(), strings.Join(args, " "))
		h.mu.Unlock()
		return err
	}
}

func (h *printHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h *printHook) reset() { h.mu.Lock(); h.seen = nil; h.mu.Unlock() }

// printed returns the commands seen since the last reset, one line each:
// String and the arguments through fmt.
func (h *printHook) printed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i := 0; i+1 < len(h.seen); i += 2 {
		out = append(out, h.seen[i]+" | "+h.seen[i+1])
	}
	return out
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
