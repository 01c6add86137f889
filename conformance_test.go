package dogpile_test

import (
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/dogpiletest"
	"github.com/dogpile-go/dogpile/lock"
)

// B1: the built-in backends pass the conformance suite.
func TestB1BuiltinBackendsConform(t *testing.T) {
	for _, name := range []string{"memory", "memory_serialized", "null"} {
		if name == "null" {
			continue // null stores nothing by design; see TestB4NullBackend
		}
		t.Run(name, func(t *testing.T) {
			dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
				b, err := dogpile.NewBackend(name, nil)
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
		})
	}
	t.Run("bounded-memory", func(t *testing.T) {
		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
			b, err := dogpile.NewBackend("memory", dogpile.Args{"max_entries": 10000})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.(*dogpile.MemoryBackend).Close() })
			return b
		})
	})
}

// L8: the local mutex passes the mutex suite.
func TestL8LocalMutexConforms(t *testing.T) {
	var l lock.Local
	dogpiletest.TestMutex(t, l.Mutex)
}
