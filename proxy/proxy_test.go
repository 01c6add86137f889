package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/proxy"
)

// store is a user backend with every optional call, recording which it got.
type store struct {
	mu    sync.Mutex
	m     map[string][]byte
	calls []string
	locks lock.Local
}

func newStore() *store { return &store{m: map[string][]byte{}} }

func (s *store) record(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op)
}

func (s *store) saw(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c == op {
			return true
		}
	}
	return false
}

func (s *store) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.record("get")
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *store) Set(_ context.Context, k string, v []byte) error {
	s.record("set")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func (s *store) Delete(_ context.Context, k string) error {
	s.record("delete")
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *store) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	s.record("get_multi")
	out := make([][]byte, len(keys))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range keys {
		out[i] = s.m[k]
	}
	return out, nil
}

func (s *store) SetMulti(_ context.Context, items map[string][]byte) error {
	s.record("set_multi")
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range items {
		s.m[k] = v
	}
	return nil
}

func (s *store) DeleteMulti(_ context.Context, keys []string) error {
	s.record("delete_multi")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.m, k)
	}
	return nil
}

func (s *store) Mutex(key string) lock.Mutex {
	s.record("mutex")
	return s.locks.Mutex(key)
}

// onlyGet overrides Get alone, tagging the calls it sees.
type onlyGet struct {
	proxy.Base
	name string
	log  *[]string
	mu   *sync.Mutex
}

func (p *onlyGet) Get(ctx context.Context, key string) ([]byte, bool, error) {
	p.mu.Lock()
	*p.log = append(*p.log, p.name)
	p.mu.Unlock()
	return p.Base.Get(ctx, key)
}

func TestP1ProxiesSeeEveryCallInOrder(t *testing.T) {
	ctx := context.Background()
	s := newStore()
	var mu sync.Mutex
	var order []string
	wrap := func(name string) dogpile.Proxy {
		return func(next dogpile.Backend) dogpile.Backend {
			return &onlyGet{Base: proxy.Base{Next: next}, name: name, log: &order, mu: &mu}
		}
	}
	r, err := dogpile.NewRegion().ConfigureBackend(s, dogpile.WithWrap(wrap("outer"), wrap("inner")))
	if err != nil {
		t.Fatal(err)
	}
	if r.Backend() != dogpile.Backend(s) {
		t.Fatalf("Backend() = %T, want the real backend beneath the proxies", r.Backend())
	}
	if _, _, err := dogpile.Get[string](ctx, r, "k"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Fatalf("proxies saw Get in order %v, want outer then inner (the first in WithWrap is outermost)", order)
	}
	// Calls the proxies don't override still reach the backend's own
	// multi-key and mutex calls through them.
	if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, ks []string) ([]string, error) {
		return []string{"1", "2"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"get_multi", "set_multi", "mutex"} {
		if !s.saw(op) {
			t.Errorf("the backend's %s was not called through the proxies", op)
		}
	}
	if err := r.DeleteMulti(ctx, []string{"a", "b"}); err != nil || !s.saw("delete_multi") {
		t.Fatalf("DeleteMulti through proxies: %v, backend saw it: %v", err, s.saw("delete_multi"))
	}
}

// plain has only get, set and delete.
type plain struct{ s *store }

func (p plain) Get(ctx context.Context, k string) ([]byte, bool, error) { return p.s.Get(ctx, k) }
func (p plain) Set(ctx context.Context, k string, v []byte) error       { return p.s.Set(ctx, k, v) }
func (p plain) Delete(ctx context.Context, k string) error              { return p.s.Delete(ctx, k) }

func TestBaseEmulatesWhatTheBackendLacks(t *testing.T) {
	ctx := context.Background()
	s := newStore()
	b := proxy.Base{Next: plain{s}}
	if b.Mutex("k") != nil {
		t.Fatal("Base invented a mutex for a backend without one")
	}
	if err := b.SetMulti(ctx, map[string][]byte{"a": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetMulti(ctx, []string{"a", "missing"})
	if err != nil || string(got[0]) != "1" || got[1] != nil {
		t.Fatalf("GetMulti = %q, %v", got, err)
	}
	if s.saw("get_multi") || s.saw("set_multi") {
		t.Fatal("Base called multi-key methods the backend does not have")
	}
	if err := b.DeleteMulti(ctx, []string{"a"}); err != nil || !s.saw("delete") {
		t.Fatalf("DeleteMulti emulation: %v", err)
	}
	// A region over such a proxy still runs one creator per key.
	r, err := dogpile.NewRegion().ConfigureBackend(plain{newStore()}, dogpile.WithWrap(func(n dogpile.Backend) dogpile.Backend { return proxy.Base{Next: n} }))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatal(v, err)
	}
}

func TestLoggingProxy(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := dogpile.NewRegion().ConfigureBackend(newStore(), dogpile.WithWrap(proxy.Logging(logger, slog.LevelDebug)), dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "user:1", func(context.Context) (string, error) { return "ada", nil }); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"op=get", "key=user:1", "outcome=miss", "op=set", "latency=", "op=lock"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Base forwards CompareAndSwap, so a proxy does not hide it; over a backend
// without it, Base says so (errors.ErrUnsupported) and stores nothing.
func TestBaseForwardsCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	mem, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := proxy.Base{Next: proxy.Base{Next: mem}} // through two proxies
	if ok, err := b.CompareAndSwap(ctx, "k", nil, []byte("1")); !ok || err != nil {
		t.Fatalf("swap of an absent key = %v, %v", ok, err)
	}
	if ok, err := b.CompareAndSwap(ctx, "k", []byte("other"), []byte("2")); ok || err != nil {
		t.Fatalf("swap from the wrong value = %v, %v", ok, err)
	}
	if v, _, _ := mem.Get(ctx, "k"); string(v) != "1" {
		t.Fatalf("stored %q; want 1", v)
	}
	// Through one proxy too: through two, a proxy that swapped old and new
	// would be undone by the other.
	if ok, err := (proxy.Base{Next: mem}).CompareAndSwap(ctx, "k", []byte("1"), []byte("3")); !ok || err != nil {
		t.Fatalf("swap from the right value through one proxy = %v, %v", ok, err)
	}
	if v, _, _ := mem.Get(ctx, "k"); string(v) != "3" {
		t.Fatalf("stored %q; want 3", v)
	}
	s := newStore()
	if ok, err := (proxy.Base{Next: plain{s}}).CompareAndSwap(ctx, "k", nil, []byte("1")); ok || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("swap over a backend without it = %v, %v; want ErrUnsupported", ok, err)
	}
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("an unsupported swap stored a value")
	}
}

var errBackend = errors.New("backend down")

// faulty is a backend with only get, set and delete (like plain) whose
// calls on the key "bad" fail with errBackend.
type faulty struct{ plain }

func (f faulty) Get(ctx context.Context, k string) ([]byte, bool, error) {
	if k == "bad" {
		return nil, false, errBackend
	}
	return f.plain.Get(ctx, k)
}

func (f faulty) Set(ctx context.Context, k string, v []byte) error {
	if k == "bad" {
		return errBackend
	}
	return f.plain.Set(ctx, k, v)
}

func (f faulty) Delete(ctx context.Context, k string) error {
	if k == "bad" {
		return errBackend
	}
	return f.plain.Delete(ctx, k)
}

// A backend's error reaches the caller through Base, from the calls it
// forwards and from the multi-key calls it emulates one key at a time: a
// failed read is not a miss, a failed write not a success.
func TestBasePassesOnTheBackendsErrors(t *testing.T) {
	ctx := context.Background()
	b := proxy.Base{Next: faulty{plain{newStore()}}}
	if _, _, err := b.Get(ctx, "bad"); !errors.Is(err, errBackend) {
		t.Errorf("Get: %v", err)
	}
	if err := b.Set(ctx, "bad", []byte("1")); !errors.Is(err, errBackend) {
		t.Errorf("Set: %v", err)
	}
	if err := b.Delete(ctx, "bad"); !errors.Is(err, errBackend) {
		t.Errorf("Delete: %v", err)
	}
	if vs, err := b.GetMulti(ctx, []string{"a", "bad", "c"}); !errors.Is(err, errBackend) {
		t.Errorf("GetMulti = %q, %v", vs, err)
	}
	if err := b.SetMulti(ctx, map[string][]byte{"bad": []byte("1")}); !errors.Is(err, errBackend) {
		t.Errorf("SetMulti: %v", err)
	}
	if err := b.DeleteMulti(ctx, []string{"a", "bad", "c"}); !errors.Is(err, errBackend) {
		t.Errorf("DeleteMulti: %v", err)
	}
}

// Base's emulated multi-key calls handle every key, not just the first: all
// items stored, each hit in its own place (wherever it is among misses), all
// keys deleted.
func TestBaseEmulatesMultiCallsForEveryKey(t *testing.T) {
	ctx := context.Background()
	s := newStore()
	b := proxy.Base{Next: plain{s}}
	if err := b.SetMulti(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")}); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetMulti(ctx, []string{"missing", "a", "b", "c"})
	if err != nil || len(got) != 4 || got[0] != nil || string(got[1]) != "1" || string(got[2]) != "2" || string(got[3]) != "3" {
		t.Fatalf("GetMulti = %q, %v; want [nil 1 2 3]", got, err)
	}
	if err := b.DeleteMulti(ctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, ok, _ := s.Get(ctx, k); ok {
			t.Errorf("DeleteMulti left %q", k)
		}
	}
}

// Base.Mutex is the backend's mutex for that key: held through the proxy, the
// backend's own mutex for the key is busy.
func TestBaseMutexIsTheBackendsForTheKey(t *testing.T) {
	ctx := context.Background()
	s := newStore()
	m := proxy.Base{Next: s}.Mutex("k")
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Unlock(ctx)
	if ok, err := s.locks.Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatalf("the backend's mutex for k while the proxy's is held: TryLock = %v, %v; want busy", ok, err)
	}
}

// closing is a backend with only get, set and delete that counts its
// Close calls and returns err from them.
type closing struct {
	plain
	closed *int
	err    error
}

func (c closing) Close() error {
	*c.closed++
	return c.err
}

// Base.Close closes the backend beneath, once, and returns its error; over a
// backend with nothing to close it does nothing.
func TestBaseClosesTheBackend(t *testing.T) {
	n := 0
	if err := (proxy.Base{Next: closing{plain{newStore()}, &n, errBackend}}).Close(); !errors.Is(err, errBackend) || n != 1 {
		t.Fatalf("Close = %v after %d closes of the backend; want errBackend after 1", err, n)
	}
	if err := (proxy.Base{Next: plain{newStore()}}).Close(); err != nil {
		t.Fatalf("Close over a backend without Close = %v", err)
	}
}
