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
