package atomicmax

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestRaiseNeverLowers(t *testing.T) {
	var a atomic.Int64
	if !Raise(&a, 5) || a.Load() != 5 {
		t.Fatalf("raising 0 to 5: %d", a.Load())
	}
	if Raise(&a, 5) || Raise(&a, 3) || a.Load() != 5 {
		t.Fatalf("raising 5 to 5 or 3 reported a rise or changed it: %d", a.Load())
	}
	var u atomic.Uint64
	var wg sync.WaitGroup
	for i := range uint64(100) {
		wg.Add(1)
		go func() { defer wg.Done(); Raise(&u, i) }()
	}
	wg.Wait()
	if u.Load() != 99 {
		t.Fatalf("100 goroutines raising to 0…99 left %d, want 99", u.Load())
	}
}

// losesFirstSwap is an atomic integer that another goroutine raises, to
// racer, between Raise's first load and its first compare-and-swap.
type losesFirstSwap struct {
	atomic.Int64
	racer int64
	raced bool
}

func (l *losesFirstSwap) CompareAndSwap(old, new int64) bool {
	if !l.raced {
		l.raced = true
		l.Store(l.racer)
		return false
	}
	return l.Int64.CompareAndSwap(old, new)
}

// A compare-and-swap lost to another goroutine's raise is tried again from
// the value it left: a raise to v is never lost to a lower concurrent
// raise, and one to a value a concurrent raise already passed reports none.
func TestRaiseRetriesALostSwap(t *testing.T) {
	lower := &losesFirstSwap{racer: 3}
	if !Raise(lower, 5) || lower.Load() != 5 {
		t.Fatalf("raising to 5 while another goroutine raised to 3: got %d", lower.Load())
	}
	higher := &losesFirstSwap{racer: 7}
	if Raise(higher, 5) || higher.Load() != 7 {
		t.Fatalf("raising to 5 while another goroutine raised to 7: reported a rise, or left %d", higher.Load())
	}
}
