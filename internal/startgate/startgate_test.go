package startgate_test

import (
	"sync/atomic"
	"testing"

	"github.com/dogpile-go/dogpile/internal/startgate"
)

// TestNoCallBeforeOpen: New returns with every goroutine waiting and none
// called; Open returns after every call, each index once.
func TestNoCallBeforeOpen(t *testing.T) {
	const n = 64
	var calls atomic.Int32
	seen := make([]atomic.Int32, n)
	g := startgate.New(n, func(i int) {
		calls.Add(1)
		seen[i].Add(1)
	})
	if c := calls.Load(); c != 0 {
		t.Fatalf("%d calls before Open", c)
	}
	g.Open()
	if c := calls.Load(); c != n {
		t.Fatalf("Open returned after %d calls, want %d", c, n)
	}
	for i := range seen {
		if s := seen[i].Load(); s != 1 {
			t.Fatalf("index %d called %d times", i, s)
		}
	}
}
