package testutil

import (
	"testing"
	"time"
)

// Paired runs a and c alternately in b's loop — a first in even iterations,
// c first in odd ones, so that neither always runs right after the other —
// and returns a's total time over c's. On a busy machine two separate
// benchmarks drift apart by more than a small overhead they are meant to
// show; calls interleaved in one loop see the same load, and their ratio is
// steady.
func Paired(b *testing.B, a, c func()) float64 { return PairedBatches(b, 1, a, c) }

// PairedBatches is Paired for calls too short to time one by one (a clock
// read can cost more than a memory hit): each loop iteration times n calls
// of a and n of c, which of the two batches goes first alternating. It
// returns a's total time over c's.
func PairedBatches(b *testing.B, n int, a, c func()) float64 {
	var ta, tc time.Duration
	timed := func(f func(), total *time.Duration) {
		t0 := time.Now()
		for range n {
			f()
		}
		*total += time.Since(t0)
	}
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			timed(a, &ta)
			timed(c, &tc)
		} else {
			timed(c, &tc)
			timed(a, &ta)
		}
	}
	return float64(ta) / float64(tc)
}
