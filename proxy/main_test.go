package proxy_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain fails the package if a goroutine outlives its tests. The core's
// coarse clock (dogpile.runCoarseClock, clock.go) is ignored: it is
// process-wide, started by the first expiry check, and stops by itself after
// a second unused, which may be after the last test.
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
