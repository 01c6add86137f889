package compress

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain fails the package if a goroutine outlives its tests (the shared
// Zstandard encoder and decoder must start none).
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
