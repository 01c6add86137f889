package msgpack

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain fails the package if a goroutine outlives its tests.
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
