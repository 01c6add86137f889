package dogpile_test

import (
	"context"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// swapFaults is a memory backend (Go values, compare-and-swap) whose
// CompareAndSwap of one key goes through fault, when set: a store or tier
// that fails, or loses a race, exactly when a test says.
type swapFaults struct {
	*dogpile.MemoryBackend
	key string

	mu    sync.Mutex
	fault func(ctx context.Context, swap func() (bool, error)) (bool, error) // swap does the memory backend's
	swaps int                                                                // CompareAndSwap calls of key
}

func newSwapFaults(t *testing.T, key string) *swapFaults {
	t.Helper()
	m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &swapFaults{MemoryBackend: m, key: key}
}

// failWith makes the following CompareAndSwap calls of the key go through f.
func (s *swapFaults) failWith(f func(ctx context.Context, swap func() (bool, error)) (bool, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// calls returns how many CompareAndSwap calls of the key there were.
func (s *swapFaults) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.swaps
}

func (s *swapFaults) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	swap := func() (bool, error) { return s.MemoryBackend.CompareAndSwap(ctx, key, old, new) }
	if key != s.key {
		return swap()
	}
	s.mu.Lock()
	f := s.fault
	s.swaps++
	s.mu.Unlock()
	if f == nil {
		return swap()
	}
	return f(ctx, swap)
}
