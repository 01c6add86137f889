// Package testutil is the scaffolding the project's tests share: one copy of
// each helper that several packages' tests need.
package testutil

import (
	"go/parser"
	"go/token"
	"testing"

	"go.uber.org/goleak"
)

// LeakOptions are the goroutines a test may leave running: the shared coarse
// clock (internal/clock), which is process-wide and stops by itself after a
// second unused.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/dogpile-go/dogpile/internal/clock.runCoarse")}
}

// VerifyNoLeaks runs the tests and fails the package if a goroutine outlives
// them (LeakOptions aside): call it from TestMain.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m, LeakOptions()...)
}

// PackageDoc returns the package documentation in the Go file at path (a
// file of the package under test), for tests that check what it lists.
func PackageDoc(t testing.TB, path string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	return f.Doc.Text()
}
