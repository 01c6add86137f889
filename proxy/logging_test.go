package proxy_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/proxy"
)

// expectOne checks that h kept exactly one record since the last Take, at
// level, with the attributes want (and perhaps others).
func expectOne(t *testing.T, h *testutil.LogRecorder, call string, level slog.Level, want map[string]string) {
	t.Helper()
	got := h.Take()
	if len(got) != 1 {
		t.Errorf("%s: %d log records %v; want 1", call, len(got), got)
		return
	}
	if got[0].Level != level {
		t.Errorf("%s: logged at %v; want %v", call, got[0].Level, level)
	}
	attrs := got[0].Attrs
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s: %s=%q; want %q (record %v)", call, k, attrs[k], v, attrs)
		}
	}
}

// Each call the logging proxy forwards is logged once at the proxy's level,
// with its own operation, key or number of keys (and hits, and bytes
// stored), and outcome, the mutex's calls included.
func TestLoggingProxyLogsEachCall(t *testing.T) {
	ctx := context.Background()
	h := testutil.NewLogRecorderFrom(slog.LevelDebug)
	b := proxy.Logging(slog.New(h), slog.LevelInfo)(newStore())
	m := b.(backend.Multi)
	info := slog.LevelInfo

	if err := b.Set(ctx, "k", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "Set", info, map[string]string{"op": "set", "key": "k", "bytes": "3", "outcome": "ok"})
	if _, _, err := b.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "Get", info, map[string]string{"op": "get", "key": "k", "outcome": "hit"})
	if _, _, err := b.Get(ctx, "missing"); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "Get of a missing key", info, map[string]string{"op": "get", "key": "missing", "outcome": "miss"})
	if _, err := m.GetMulti(ctx, []string{"missing", "k", "other"}); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "GetMulti", info, map[string]string{"op": "get_multi", "keys": "3", "hits": "1", "outcome": "ok"})
	if err := m.SetMulti(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "SetMulti", info, map[string]string{"op": "set_multi", "keys": "2", "outcome": "ok"})
	if err := m.DeleteMulti(ctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "DeleteMulti", info, map[string]string{"op": "delete_multi", "keys": "3", "outcome": "ok"})
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "Delete", info, map[string]string{"op": "delete", "key": "k", "outcome": "ok"})

	mu := b.(backend.Locking).Mutex("k")
	if ok, err := mu.TryLock(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	expectOne(t, h, "TryLock", info, map[string]string{"op": "try_lock", "key": "k", "outcome": "acquired"})
	if ok, err := b.(backend.Locking).Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatal(ok, err)
	}
	expectOne(t, h, "TryLock of a held mutex", info, map[string]string{"op": "try_lock", "key": "k", "outcome": "busy"})
	if err := mu.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	expectOne(t, h, "Unlock", info, map[string]string{"op": "unlock", "key": "k", "outcome": "released"})
}

// slowGet is a backend whose Get takes at least d.
type slowGet struct {
	plain
	d time.Duration
}

func (s slowGet) Get(ctx context.Context, k string) ([]byte, bool, error) {
	time.Sleep(s.d)
	return s.plain.Get(ctx, k)
}

// The latency logged is the call's: at least as long as the backend took.
func TestLoggingProxyLogsTheLatency(t *testing.T) {
	h := testutil.NewLogRecorderFrom(slog.LevelDebug)
	const d = 2 * time.Millisecond
	b := proxy.Logging(slog.New(h), slog.LevelDebug)(slowGet{plain{newStore()}, d})
	if _, _, err := b.Get(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	got := h.Take()
	if len(got) != 1 {
		t.Fatalf("%d records; want 1", len(got))
	}
	if l, err := time.ParseDuration(got[0].Attrs["latency"]); err != nil || l < d {
		t.Fatalf("latency=%q (%v) for a call of at least %v", got[0].Attrs["latency"], err, d)
	}
}

// failingMutex fails every call with errBackend.
type failingMutex struct{}

func (failingMutex) TryLock(context.Context) (bool, error) { return false, errBackend }
func (failingMutex) Lock(context.Context) error            { return errBackend }
func (failingMutex) Unlock(context.Context) error          { return errBackend }

// faultyLocking is faulty with a mutex that fails.
type faultyLocking struct{ faulty }

func (faultyLocking) Mutex(string) lock.Mutex { return failingMutex{} }

// A failed call is logged at slog.LevelError whatever the proxy's level,
// with the error as its outcome, and the error still reaches the caller:
// with the logger at Warn and the proxy at Debug, only the failures show.
func TestLoggingProxyLogsErrorsAtErrorLevel(t *testing.T) {
	ctx := context.Background()
	h := testutil.NewLogRecorderFrom(slog.LevelWarn)
	b := proxy.Logging(slog.New(h), slog.LevelDebug)(faultyLocking{faulty{plain{newStore()}}})
	m := b.(backend.Multi)
	want := func(op string) map[string]string { return map[string]string{"op": op, "outcome": errBackend.Error()} }
	check := func(call, op string, err error) {
		t.Helper()
		if !errors.Is(err, errBackend) {
			t.Errorf("%s returned %v; want the backend's error", call, err)
		}
		expectOne(t, h, call, slog.LevelError, want(op))
	}

	if err := b.Set(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if got := h.Take(); len(got) != 0 {
		t.Fatalf("a successful call at Debug was logged by a logger at Warn: %v", got)
	}
	_, _, err := b.Get(ctx, "bad")
	check("Get", "get", err)
	check("Set", "set", b.Set(ctx, "bad", []byte("1")))
	check("Delete", "delete", b.Delete(ctx, "bad"))
	_, err = m.GetMulti(ctx, []string{"bad"})
	check("GetMulti", "get_multi", err)
	check("SetMulti", "set_multi", m.SetMulti(ctx, map[string][]byte{"bad": []byte("1")}))
	check("DeleteMulti", "delete_multi", m.DeleteMulti(ctx, []string{"bad"}))
	mu := b.(backend.Locking).Mutex("k")
	_, err = mu.TryLock(ctx)
	check("TryLock", "try_lock", err)
	check("Lock", "lock", mu.Lock(ctx))
	check("Unlock", "unlock", mu.Unlock(ctx))
}

// The logging proxy hands on the backend's values as they are, so it says
// the values are immutable exactly when the backend does: a region can then
// skip its copies over memory_serialized, and keeps them over a backend
// that does not say so.
func TestLoggingProxyReportsTheBackendsImmutability(t *testing.T) {
	mem, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	logging := proxy.Logging(testutil.NewLogRecorder().Logger(), slog.LevelDebug)
	if !backend.ValuesImmutable(mem) || !backend.ValuesImmutable(logging(mem)) {
		t.Errorf("over memory_serialized (immutable: %v), the proxy's values immutable: %v; want true", backend.ValuesImmutable(mem), backend.ValuesImmutable(logging(mem)))
	}
	if backend.ValuesImmutable(logging(newStore())) {
		t.Error("over a backend that does not say its values are immutable, the proxy says they are")
	}
}
