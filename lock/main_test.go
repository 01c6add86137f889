package lock_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain fails the package if a goroutine outlives its tests: a flight
// whose creator never finishes, or a waiter that never wakes, shows up here.
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
