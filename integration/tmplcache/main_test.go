package tmplcache_test

import (
	"os"
	"testing"

	"github.com/dogpile-go/dogpile/internal/testserver"
)

// TestMain stops the servers the tests shared.
func TestMain(m *testing.M) {
	code := m.Run()
	testserver.StopShared()
	os.Exit(code)
}
