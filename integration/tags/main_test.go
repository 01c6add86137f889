// Package tags_test checks invalidation by tag across processes, on real
// stores: Redis (a server started for the tests) and the file backend (one
// SQLite file). Each test runs the test binary again as a second process
// (internal/testutil's StartChild) that shares nothing with the first but
// the store.
package tags_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() error{"process": process}, testserver.StopShared)
}
