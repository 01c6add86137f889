// Package testutil is the scaffolding the project's tests share: one copy of
// each helper that several packages' tests need.
package testutil

import (
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
