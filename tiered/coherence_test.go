package tiered

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// slowRemote is a remote whose next Get, once held is set, reads the value,
// reports that it has (entered), and returns it only when release is
// closed: a reply still on its way while the key changes. Its Set fails, after
// writing, while failSet is set: a write whose answer was lost.
type slowRemote struct {
	dogpile.Backend
	held    bool
	entered chan struct{}
	release chan struct{}
	failSet error
}

// newSlowRemote returns a slowRemote holding "old" under "k".
func newSlowRemote(t *testing.T) *slowRemote {
	t.Helper()
	b, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(context.Background(), "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	return &slowRemote{Backend: b}
}

// twoTiers returns a slowRemote and two tiers in front of it, as two
// processes have, with the bus that connects them.
func twoTiers(t *testing.T) (remote *slowRemote, n *bus, a, other *Backend) {
	t.Helper()
	remote, n = newSlowRemote(t), &bus{}
	return remote, n, newTier(t, remote, n), newTier(t, remote, n)
}

// hold makes the next Get wait for the returned release.
func (r *slowRemote) hold() (entered <-chan struct{}, release func()) {
	r.held, r.entered, r.release = true, make(chan struct{}), make(chan struct{})
	return r.entered, func() { close(r.release) }
}

func (r *slowRemote) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := r.Backend.Get(ctx, key)
	if r.held {
		r.held = false
		close(r.entered)
		<-r.release
	}
	return v, ok, err
}

func (r *slowRemote) Set(ctx context.Context, key string, value []byte) error {
	if err := r.Backend.Set(ctx, key, value); err != nil {
		return err
	}
	return r.failSet
}

// A read whose reply is still on its way when the key changes, or the whole
// tier is dropped, or the subscription has a gap, keeps no copy of that
// reply: the next read reaches the remote and sees the change.
func TestReadRacingAChangeKeepsNoCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, t *testing.T, remote *slowRemote, other *Backend, n *bus)
	}{
		{"another process sets the key", func(ctx context.Context, t *testing.T, _ *slowRemote, other *Backend, _ *bus) {
			if err := other.Set(ctx, "k", []byte("new")); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process evicts every copy", func(ctx context.Context, t *testing.T, remote *slowRemote, other *Backend, _ *bus) {
			if err := remote.Backend.Set(ctx, "k", []byte("new")); err != nil {
				t.Fatal(err)
			}
			if err := other.EvictAll(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"the subscription has a gap", func(ctx context.Context, t *testing.T, remote *slowRemote, _ *Backend, n *bus) {
			if err := remote.Backend.Set(ctx, "k", []byte("new")); err != nil {
				t.Fatal(err)
			}
			n.gap()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			remote, n, a, other := twoTiers(t)

			entered, release := remote.hold()
			got := make(chan string, 1)
			go func() {
				v, _, err := a.Get(ctx, "k")
				if err != nil {
					t.Error(err)
				}
				got <- string(v)
			}()
			<-entered // the remote has read "old"; its reply is on its way
			tc.change(ctx, t, remote, other, n)
			release()
			if v := <-got; v != "old" {
				t.Fatalf("the racing read returned %q, want the %q it read", v, "old")
			}
			if v, _, _ := a.Get(ctx, "k"); string(v) != "new" {
				t.Fatalf("after the change, a reads %q; a copy of the racing read was kept", v)
			}
		})
	}
}

// A remote read whose reply meets a change of its key keeps no copy of it,
// whichever side of the copy's store the change falls on: after a change
// has completed, no reader sees a copy of a reply from before it, not even
// for the instant before the copy would be dropped; a change that comes
// while the copy is being stored drops it.
func TestFillRacingAChange(t *testing.T) {
	ctx := context.Background()
	t.Run("the change completes before the reply is stored", func(t *testing.T) {
		remote, _, a, other := twoTiers(t)
		var served []string // copies a reader could see right after the store
		a.afterStore = func(key string) {
			if e, ok := a.lookup(key); ok {
				served = append(served, string(e.v))
			}
		}
		entered, release := remote.hold()
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Get(ctx, "k") //nolint:errcheck // the copy is what is checked
		}()
		<-entered // the remote has read "old"; its reply is on its way
		if err := other.Set(ctx, "k", []byte("new")); err != nil {
			t.Fatal(err)
		}
		release()
		<-done
		if len(served) > 0 {
			t.Fatalf("a copy of the reply from before the change was served: %q", served)
		}
	})
	t.Run("the change comes while the reply is stored", func(t *testing.T) {
		_, _, a, other := twoTiers(t)
		a.beforeStore = func(string) {
			a.beforeStore = nil
			if err := other.Set(ctx, "k", []byte("new")); err != nil {
				t.Error(err)
			}
		}
		if v, _, _ := a.Get(ctx, "k"); string(v) != "old" {
			t.Fatalf("the racing read returned %q, want the %q it read", v, "old")
		}
		if v, _, _ := a.Get(ctx, "k"); string(v) != "new" {
			t.Fatalf("after the change, a reads %q; the racing read's copy was kept", v)
		}
	})
}

// A lost subscription drops every local copy at once (they cannot be
// trusted once messages may have been missed), not only when it is back.
func TestLostSubscriptionDropsTheCopies(t *testing.T) {
	ctx := context.Background()
	n := &bus{}
	a := newTier(t, newSlowRemote(t), n)
	if _, _, err := a.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	before := a.Stats()
	if before.Entries != 1 {
		t.Fatalf("%d local copies after one read; want 1", before.Entries)
	}
	n.report(false)
	after := a.Stats()
	if after.Subscribed || after.Entries != 0 || after.Clears != before.Clears+1 {
		t.Fatalf("after the subscription was lost: subscribed %v, %d copies, %d clears (were %d); want false, 0 and one more",
			after.Subscribed, after.Entries, after.Clears, before.Clears)
	}
}

// A local copy lives no longer than the tier's TTL: a change made behind
// the tier's back, that no message announces, is read once the TTL has
// passed.
func TestCopyLivesNoLongerThanTTL(t *testing.T) {
	ctx := context.Background()
	remote := newSlowRemote(t)
	a := newTierWith(t, remote, Options{Notifier: &bus{}, TTL: 20 * time.Millisecond})
	start := clock.Now()
	if v, _, _ := a.Get(ctx, "k"); string(v) != "old" {
		t.Fatalf("first read %q", v)
	}
	end := clock.Now()
	if err := remote.Backend.Set(ctx, "k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	// The copy's life is the TTL from when it was stored, no more.
	e, ok := a.local.GetIfPresent("k")
	if !ok {
		t.Fatal("the first read kept no copy")
	}
	if ttl := int64(20 * time.Millisecond); e.expires < start+ttl || e.expires > end+ttl {
		t.Fatalf("the copy expires %v after the read began, which took %v; want the TTL, 20ms, from its store",
			time.Duration(e.expires-start), time.Duration(end-start))
	}
	testutil.Eventually(t, "the change behind the tier's back, once the copy's TTL has passed", func() bool {
		v, _, _ := a.Get(ctx, "k")
		return string(v) == "new"
	})
}

// Keep attaches a decoded value only to the copy whose bytes it was decoded
// from: decoded from a copy since replaced by one of the same length, it is
// not served with the new bytes.
func TestKeepAttachesOnlyToTheBytesItDecoded(t *testing.T) {
	ctx := context.Background()
	_, _, a, other := twoTiers(t)
	old, _, _ := a.Get(ctx, "k")
	if err := other.Set(ctx, "k", []byte("new")); err != nil { // same length
		t.Fatal(err)
	}
	cur, _, _ := a.Get(ctx, "k")
	a.Keep("k", old, "decoded old")
	if _, kept, _, _ := a.GetKept(ctx, "k"); kept != nil {
		t.Fatalf("the copy of %q is served with %v, decoded from the copy before", cur, kept)
	}
	a.Keep("k", cur, "decoded new")
	if _, kept, _, _ := a.GetKept(ctx, "k"); kept != "decoded new" {
		t.Fatalf("the copy is served with %v, want what was decoded from it", kept)
	}
}

// A key a multi-key read found missing stays missing in its local copy: a
// later Get of it reports no value, and makes no round trip.
func TestMultiKeepsAMissingKeyMissing(t *testing.T) {
	ctx := context.Background()
	a := newTier(t, newSlowRemote(t), &bus{})
	if vals, err := a.GetMulti(ctx, []string{"missing"}); err != nil || vals[0] != nil {
		t.Fatalf("GetMulti = %q, %v", vals, err)
	}
	reads := a.Stats().RemoteReads
	if v, ok, err := a.Get(ctx, "missing"); ok || v != nil || err != nil {
		t.Fatalf("Get after GetMulti = %q, %v, %v; want no value", v, ok, err)
	}
	if n := a.Stats().RemoteReads - reads; n != 0 {
		t.Fatalf("Get made %d round trips; the multi-key read's copy should have answered", n)
	}
}

// The tier's own changes drop its copy: after a Delete, after EvictAll, and
// after a Set that failed (the write may have happened), the next read sees
// the remote.
func TestOwnChangesDropTheCopy(t *testing.T) {
	lost := errors.New("the answer was lost")
	for _, tc := range []struct {
		name    string
		change  func(ctx context.Context, a *Backend, remote *slowRemote) error
		wantErr error
		want    string // "": no value
	}{
		{"Delete", func(ctx context.Context, a *Backend, _ *slowRemote) error { return a.Delete(ctx, "k") }, nil, ""},
		{"EvictAll after a change behind the tier's back", func(ctx context.Context, a *Backend, remote *slowRemote) error {
			if err := remote.Backend.Set(ctx, "k", []byte("new")); err != nil {
				return err
			}
			return a.EvictAll(ctx)
		}, nil, "new"},
		{"a Set that failed", func(ctx context.Context, a *Backend, remote *slowRemote) error {
			remote.failSet = lost
			return a.Set(ctx, "k", []byte("new"))
		}, lost, "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			remote := newSlowRemote(t)
			a := newTier(t, remote, &bus{})
			if v, _, _ := a.Get(ctx, "k"); string(v) != "old" {
				t.Fatalf("first read %q", v)
			}
			if err := tc.change(ctx, a, remote); !errors.Is(err, tc.wantErr) {
				t.Fatalf("the change returned %v, want %v", err, tc.wantErr)
			}
			v, ok, err := a.Get(ctx, "k")
			if err != nil || string(v) != tc.want || ok != (tc.want != "") {
				t.Fatalf("after the change, a reads %q, %v, %v; want %q", v, ok, err, tc.want)
			}
		})
	}
}
