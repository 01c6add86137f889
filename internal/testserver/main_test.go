package testserver

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain fails the package if a goroutine outlives its tests: the harness
// starts goroutines per server process and per proxied connection, and each
// must end when its server or proxy is stopped.
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
