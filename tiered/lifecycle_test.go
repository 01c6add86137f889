package tiered

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Without Options.MaxEntries a tier keeps up to DefaultMaxEntries copies:
// thousands of keys read twice cost one remote read each.
func TestDefaultMaxEntries(t *testing.T) {
	ctx := context.Background()
	remote := newSlowRemote(t)
	const keys = DefaultMaxEntries / 2
	for i := range keys {
		if err := remote.Set(ctx, fmt.Sprint("k", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	a := newTier(t, remote, &bus{})
	for range 2 {
		for i := range keys {
			if _, _, err := a.Get(ctx, fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := a.Stats().RemoteReads; n != keys {
		t.Fatalf("%d remote reads for %d keys read twice; want one each, the second read local", n, keys)
	}
}

// Without Options.Logger a tier's warnings go to slog.Default().
func TestDefaultLogger(t *testing.T) {
	rec := testutil.NewLogRecorder()
	prev := slog.Default()
	slog.SetDefault(rec.Logger())
	t.Cleanup(func() { slog.SetDefault(prev) })

	n := &bus{}
	newTier(t, newSlowRemote(t), n)
	if err := n.Publish(context.Background(), []byte("not a message")); err != nil {
		t.Fatal(err)
	}
	if len(rec.Lines("unreadable message")) != 1 {
		t.Fatalf("slog.Default() got %q; want the tier's warning of the unreadable message", rec.Lines())
	}
}

// extraValues is a remote whose GetMulti answers one value more than it was
// asked for: a broken remote.
type extraValues struct{ dogpile.Backend }

func (e extraValues) GetMulti(_ context.Context, keys []string) ([][]byte, error) {
	return make([][]byte, len(keys)+1), nil
}
func (extraValues) SetMulti(context.Context, map[string][]byte) error { return nil }
func (extraValues) DeleteMulti(context.Context, []string) error       { return nil }

// A remote GetMulti that answers a number of values other than the number
// of keys is an error, not values matched to the wrong keys.
func TestMultiWithTheWrongNumberOfValues(t *testing.T) {
	a := newTier(t, extraValues{newSlowRemote(t)}, &bus{})
	vals, err := a.GetMulti(context.Background(), []string{"a", "b"})
	if err == nil || !strings.Contains(err.Error(), "3 values for 2 keys") {
		t.Fatalf("GetMulti = %q, %v; want an error naming 3 values for 2 keys", vals, err)
	}
}

// closingRemote is a remote that counts its Close calls and fails them.
type closingRemote struct {
	dogpile.Backend
	closed int
}

var errClose = errors.New("the remote's close failed")

func (c *closingRemote) Close() error { c.closed++; return errClose }

// Close drops the local copies, ends the subscription without a warning (it
// was asked to end), and closes the remote, returning the remote's error.
func TestClose(t *testing.T) {
	ctx := context.Background()
	rec := testutil.NewLogRecorder()
	remote := &closingRemote{Backend: newSlowRemote(t)}
	a := newTierWith(t, remote, Options{Notifier: &bus{}, Logger: rec.Logger()})
	if _, _, err := a.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, errClose) {
		t.Fatalf("Close = %v; want the remote's error", err)
	}
	if err := a.Close(); !errors.Is(err, errClose) || remote.closed != 1 {
		t.Fatalf("a second Close = %v, the remote closed %d times; want the same error, and once", err, remote.closed)
	}
	if n := a.Stats().Entries; n != 0 {
		t.Fatalf("%d local copies after Close; want none", n)
	}
	if lines := rec.Lines(); len(lines) != 0 {
		t.Fatalf("Close logged %q; want nothing", lines)
	}
}

// immutability is a remote that says whether its values are immutable.
type immutability struct {
	dogpile.Backend
	immutable bool
}

func (i immutability) ValuesImmutable() bool { return i.immutable }

// A tier's values are immutable exactly when its remote's are: it hands out
// the remote's values, or copies of its own.
func TestValuesImmutableFollowsTheRemote(t *testing.T) {
	for _, immutable := range []bool{false, true} {
		a := newTier(t, immutability{newSlowRemote(t), immutable}, &bus{})
		if got := a.ValuesImmutable(); got != immutable {
			t.Errorf("ValuesImmutable = %v in front of a remote that says %v", got, immutable)
		}
	}
}

// failingNotifier is a Notifier whose Subscribe fails at once, every time.
type failingNotifier struct{ bus }

func (*failingNotifier) Subscribe(context.Context, func([]byte), func(bool)) error {
	return errors.New("subscription refused")
}

// A subscription that keeps failing is tried again after a pause that
// doubles each time up to its bound, and each failure is logged with it.
func TestResubscriptionBacksOffUpToItsBound(t *testing.T) {
	first, bound := firstResubscribePause, maxResubscribePause
	firstResubscribePause, maxResubscribePause = time.Millisecond, 8*time.Millisecond
	rec := testutil.NewLogRecorder()
	b, err := New(newSlowRemote(t), Options{Notifier: &failingNotifier{}, Logger: rec.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close() // its listener gone, the pauses can be put back
		firstResubscribePause, maxResubscribePause = first, bound
	})
	want := []string{"1ms", "2ms", "4ms", "8ms", "8ms", "8ms"}
	testutil.Eventually(t, "six failed subscriptions", func() bool {
		return len(rec.Lines("subscription ended")) >= len(want)
	})
	for i, l := range rec.Lines("subscription ended")[:len(want)] {
		if !strings.Contains(l, "retry_in="+want[i]+" ") && !strings.HasSuffix(l, "retry_in="+want[i]) {
			t.Errorf("failure %d logged %q; want retry_in=%s", i+1, l, want[i])
		}
	}
}
