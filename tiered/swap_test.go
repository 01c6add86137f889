package tiered

import (
	"context"
	"errors"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// bus is a LocalNotifier that can also report every subscription lost or
// regained.
type bus struct {
	LocalNotifier
	status []func(bool) // under LocalNotifier.mu, so that no report overlaps a delivery
}

func (b *bus) Subscribe(ctx context.Context, deliver func([]byte), subscribed func(bool)) error {
	b.LocalNotifier.mu.Lock()
	b.status = append(b.status, subscribed)
	b.LocalNotifier.mu.Unlock()
	return b.LocalNotifier.Subscribe(ctx, deliver, subscribed)
}

// gap is a lost and regained subscription, as every subscriber's notifier
// reports one: messages may have been missed in between.
func (b *bus) gap() {
	b.report(false)
	b.report(true)
}

// report tells every subscriber that its subscription is up (ok) or lost.
func (b *bus) report(ok bool) {
	b.LocalNotifier.mu.Lock()
	defer b.LocalNotifier.mu.Unlock()
	for _, subscribed := range b.status {
		subscribed(ok)
	}
}

func newTier(t *testing.T, remote dogpile.Backend, n Notifier) *Backend {
	t.Helper()
	return newTierWith(t, remote, Options{Notifier: n})
}

// newTierWith makes a tier with opts and waits for its subscription, which
// starts in the background.
func newTierWith(t *testing.T, remote dogpile.Backend, opts Options) *Backend {
	t.Helper()
	b, err := New(remote, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	testutil.Eventually(t, "the tier's subscription", func() bool { return b.Stats().Subscribed })
	return b
}

// CompareAndSwap goes through to the remote, drops the local copy and tells
// the other tiers; a swap that fails because the local copy was behind
// leaves the next read to the remote.
func TestCompareAndSwapThroughTheTier(t *testing.T) {
	ctx := context.Background()
	remote, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &bus{}
	a, b := newTier(t, remote, n), newTier(t, remote, n)

	if ok, err := a.CompareAndSwap(ctx, "k", nil, []byte("1")); !ok || err != nil {
		t.Fatalf("swap of an absent key = %v, %v", ok, err)
	}
	if v, ok, _ := b.Get(ctx, "k"); !ok || string(v) != "1" {
		t.Fatalf("b reads %q, %v", v, ok)
	}
	if ok, err := b.CompareAndSwap(ctx, "k", []byte("1"), []byte("2")); !ok || err != nil {
		t.Fatalf("swap from what b read = %v, %v", ok, err)
	}
	if v, ok, _ := a.Get(ctx, "k"); !ok || string(v) != "2" {
		t.Fatalf("after b's swap, a reads %q, %v; b's message should have dropped a's copy", v, ok)
	}
	// Behind the tier's back: a's copy is stale, its swap fails, and the
	// next read reaches the remote.
	if err := remote.Set(ctx, "k", []byte("3")); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.CompareAndSwap(ctx, "k", []byte("2"), []byte("4")); ok || err != nil {
		t.Fatalf("swap from a stale copy = %v, %v; want no swap", ok, err)
	}
	if v, _, _ := a.Get(ctx, "k"); string(v) != "3" {
		t.Fatalf("after a failed swap, a reads %q; want the remote's 3", v)
	}

	// A remote without compare-and-swap: an error matching ErrUnsupported,
	// nothing stored.
	c := newTier(t, plainBackend{remote}, &bus{})
	if ok, err := c.CompareAndSwap(ctx, "j", nil, []byte("x")); ok || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("swap over a remote without it = %v, %v; want ErrUnsupported", ok, err)
	}
	if _, ok, _ := remote.Get(ctx, "j"); ok {
		t.Fatal("an unsupported swap stored a value")
	}
}

// plainBackend hides everything of a backend but Get, Set and Delete.
type plainBackend struct{ b dogpile.Backend }

func (p plainBackend) Get(ctx context.Context, k string) ([]byte, bool, error) {
	return p.b.Get(ctx, k)
}
func (p plainBackend) Set(ctx context.Context, k string, v []byte) error { return p.b.Set(ctx, k, v) }
func (p plainBackend) Delete(ctx context.Context, k string) error        { return p.b.Delete(ctx, k) }
