package dogpile

import (
	"testing"
	"time"
)

// The early refresh's delta, how long a regeneration takes, is a moving
// average of the creator durations in which each new duration weighs an
// eighth: the first duration is taken as it is, and one outlier moves it
// an eighth of the way.
func TestEarlyRefreshAverageWeighsEachDurationAnEighth(t *testing.T) {
	e := &earlyRefresh{beta: 1}
	e.observe(80 * time.Millisecond)
	if d := time.Duration(e.delta.Load()); d != 80*time.Millisecond {
		t.Fatalf("delta after the first duration = %v; want it, 80ms", d)
	}
	e.observe(160 * time.Millisecond)
	if d := time.Duration(e.delta.Load()); d != 90*time.Millisecond {
		t.Fatalf("delta after 80ms then 160ms = %v; want 90ms (an eighth of the way)", d)
	}
}
