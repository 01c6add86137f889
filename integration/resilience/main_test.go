package resilience_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain runs the tests, or a child role (see recovery_test.go).
func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() error{"reader": reader}, testserver.StopShared)
}
