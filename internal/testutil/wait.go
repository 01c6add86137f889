package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WaitTimeout bounds Eventually: long enough for a loaded machine to see a
// server die or come back, short enough that a broken behaviour fails.
const WaitTimeout = 20 * time.Second

// Eventually polls cond every millisecond until it holds, failing the test
// after WaitTimeout. It is for outcomes the code under test reaches on its
// own (a background regeneration, an eviction message, a server's death or
// return), never instead of synchronising with a goroutine of the test.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Context returns a context that ends when the test does, or after 30s, so
// that a call that hangs fails the test instead of the whole run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Unique returns prefix, a dash and 12 random hex digits: a key or channel
// name no other test uses, so that tests can share a server.
func Unique(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
	return prefix + "-" + hex.EncodeToString(b)
}

// WriteFile writes text to name in a new temporary directory of the test,
// with each @DIR@ in it replaced by that directory (for configurations that
// name files beside them), and returns the file's path.
func WriteFile(t testing.TB, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "@DIR@", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
