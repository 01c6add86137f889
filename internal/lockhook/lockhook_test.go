package lockhook

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/lock"
)

// lease is a lock.Local's holder that is also a lock.Lease; waitingLease
// is one that is also a lock.Waiter.
type lease struct {
	lock.Mutex
}

func (lease) TTL() time.Duration          { return time.Minute }
func (lease) Renew(context.Context) error { return nil }

type waitingLease struct{ lease }

func (w waitingLease) LockOrWait(ctx context.Context) (bool, error) {
	return w.TryLock(ctx)
}

// The wrapper sees every call that takes or releases the lock — a
// Waiter's LockOrWait included, and it is a Waiter only when the wrapped
// mutex is one — and unwraps to the mutex, so that lock.As finds the
// lease behind it.
func TestWrapKeepsWhatTheMutexCanDo(t *testing.T) {
	ctx := context.Background()
	var l lock.Local
	var ops []Op
	record := func(_ context.Context, op Op, _ time.Time, _ bool, _ error) { ops = append(ops, op) }

	plain := Wrap(lease{l.Mutex("a")}, record)
	if _, ok := plain.(lock.Waiter); ok {
		t.Error("the wrapper of a mutex that is no Waiter is one")
	}
	if _, ok := lock.As[lock.Lease](plain); !ok {
		t.Error("lock.As finds no Lease behind the wrapper of one")
	}

	w, ok := Wrap(waitingLease{lease{l.Mutex("b")}}, record).(lock.Waiter)
	if !ok {
		t.Fatal("the wrapper of a Waiter is none")
	}
	if locked, err := w.LockOrWait(ctx); !locked || err != nil {
		t.Fatalf("LockOrWait = %v, %v", locked, err)
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0] != LockOrWait || ops[1] != Unlock {
		t.Fatalf("the hook saw %v; want [lock_or_wait unlock]", ops)
	}
	if Wrap(nil, record) != nil {
		t.Error("the wrapper of no mutex is not nil")
	}
}
