package proxy_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/proxy"
)

// records is a slog handler that keeps every record from level min up.
type records struct {
	min slog.Level
	mu  sync.Mutex
	got []slog.Record
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, r.Clone())
	return nil
}

func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// take returns the records kept since the last take, each as its level and
// its attributes in text (the latency as a duration's text).
func (h *records) take() (levels []slog.Level, attrs []map[string]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.got {
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		levels, attrs = append(levels, r.Level), append(attrs, m)
	}
	h.got = nil
	return levels, attrs
}

// expectOne checks that h kept exactly one record since the last take, at
// level, with the attributes want (and perhaps others).
func (h *records) expectOne(t *testing.T, call string, level slog.Level, want map[string]string) {
	t.Helper()
	levels, attrs := h.take()
	if len(levels) != 1 {
		t.Errorf("%s: %d log records %v; want 1", call, len(levels), attrs)
		return
	}
	if levels[0] != level {
		t.Errorf("%s: logged at %v; want %v", call, levels[0], level)
	}
	for k, v := range want {
		if attrs[0][k] != v {
			t.Errorf("%s: %s=%q; want %q (record %v)", call, k, attrs[0][k], v, attrs[0])
		}
	}
}

// Each call the logging proxy forwards is logged once at the proxy's level,
// with its own operation, key or number of keys (and hits, and bytes
// stored), and outcome, the mutex's calls included.
func TestLoggingProxyLogsEachCall(t *testing.T) {
	ctx := context.Background()
	h := &records{min: slog.LevelDebug}
	b := proxy.Logging(slog.New(h), slog.LevelInfo)(newStore())
	m := b.(backend.Multi)
	info := slog.LevelInfo

	if err := b.Set(ctx, "k", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "Set", info, map[string]string{"op": "set", "key": "k", "bytes": "3", "outcome": "ok"})
	if _, _, err := b.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "Get", info, map[string]string{"op": "get", "key": "k", "outcome": "hit"})
	if _, _, err := b.Get(ctx, "missing"); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "Get of a missing key", info, map[string]string{"op": "get", "key": "missing", "outcome": "miss"})
	if _, err := m.GetMulti(ctx, []string{"missing", "k", "other"}); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "GetMulti", info, map[string]string{"op": "get_multi", "keys": "3", "hits": "1", "outcome": "ok"})
	if err := m.SetMulti(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "SetMulti", info, map[string]string{"op": "set_multi", "keys": "2", "outcome": "ok"})
	if err := m.DeleteMulti(ctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "DeleteMulti", info, map[string]string{"op": "delete_multi", "keys": "3", "outcome": "ok"})
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "Delete", info, map[string]string{"op": "delete", "key": "k", "outcome": "ok"})

	mu := b.(backend.Locking).Mutex("k")
	if ok, err := mu.TryLock(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	h.expectOne(t, "TryLock", info, map[string]string{"op": "try_lock", "key": "k", "outcome": "acquired"})
	if ok, err := b.(backend.Locking).Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatal(ok, err)
	}
	h.expectOne(t, "TryLock of a held mutex", info, map[string]string{"op": "try_lock", "key": "k", "outcome": "busy"})
	if err := mu.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	h.expectOne(t, "Unlock", info, map[string]string{"op": "unlock", "key": "k", "outcome": "released"})
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
	h := &records{min: slog.LevelDebug}
	const d = 2 * time.Millisecond
	b := proxy.Logging(slog.New(h), slog.LevelDebug)(slowGet{plain{newStore()}, d})
	if _, _, err := b.Get(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	_, attrs := h.take()
	if len(attrs) != 1 {
		t.Fatalf("%d records; want 1", len(attrs))
	}
	if l, err := time.ParseDuration(attrs[0]["latency"]); err != nil || l < d {
		t.Fatalf("latency=%q (%v) for a call of at least %v", attrs[0]["latency"], err, d)
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
	h := &records{min: slog.LevelWarn}
	b := proxy.Logging(slog.New(h), slog.LevelDebug)(faultyLocking{faulty{plain{newStore()}}})
	m := b.(backend.Multi)
	want := func(op string) map[string]string { return map[string]string{"op": op, "outcome": errBackend.Error()} }
	check := func(call, op string, err error) {
		t.Helper()
		if !errors.Is(err, errBackend) {
			t.Errorf("%s returned %v; want the backend's error", call, err)
		}
		h.expectOne(t, call, slog.LevelError, want(op))
	}

	if err := b.Set(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if levels, _ := h.take(); len(levels) != 0 {
		t.Fatalf("a successful call at Debug was logged by a logger at Warn: %v", levels)
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
	logging := proxy.Logging(slog.New(&records{}), slog.LevelDebug)
	if !backend.ValuesImmutable(mem) || !backend.ValuesImmutable(logging(mem)) {
		t.Errorf("over memory_serialized (immutable: %v), the proxy's values immutable: %v; want true", backend.ValuesImmutable(mem), backend.ValuesImmutable(logging(mem)))
	}
	if backend.ValuesImmutable(logging(newStore())) {
		t.Error("over a backend that does not say its values are immutable, the proxy says they are")
	}
}
