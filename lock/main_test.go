package lock_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives its tests: a flight
// whose creator never finishes, or a waiter that never wakes, shows up here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
