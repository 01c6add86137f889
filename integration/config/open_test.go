package config_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/config"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// closeCounting is a memory backend that counts its closes.
type closeCounting struct {
	*dogpile.MemoryBackend
}

var closes atomic.Int32

func (b closeCounting) Close() error {
	closes.Add(1)
	return b.MemoryBackend.Close()
}

// Two test backends: test_close_counting counts its closes; test_refusing
// fails as a backend that cannot reach its server fails, with the URL and
// its password in the error: as the reason of an *ArgError (mode "arg") or
// as any other error (mode "dial").
func init() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(dogpile.RegisterBackend("test_close_counting", func(dogpile.Args) (dogpile.Backend, error) {
		m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
		return closeCounting{m}, err
	}))
	must(dogpile.RegisterBackend("test_refusing", func(args dogpile.Args) (dogpile.Backend, error) {
		url := "redis://app:" + secretClean + "@cache.internal:6379/0"
		switch args["mode"] {
		case "arg":
			return nil, &dogpile.ArgError{Name: "url", Reason: "cannot reach " + url}
		case "password":
			return nil, &dogpile.ArgError{Name: "password", Value: secretClean, Reason: "the server refuses it"}
		}
		return nil, fmt.Errorf("dial %s: connection refused", url)
	}))
}

// TestOpenClosesTheRegionsItMadeOnError: when a region cannot be made, the
// regions made before it are closed, not left open with no one holding them.
func TestOpenClosesTheRegionsItMadeOnError(t *testing.T) {
	path := testutil.WriteFile(t, "dogpile.toml", `
[cache.a]
backend = "test_close_counting"
[cache.b]
backend = "test_refusing"
`)
	before := closes.Load()
	if cfg, err := config.Load(path); err == nil {
		cfg.Close()
		t.Fatal("no error")
	}
	if n := closes.Load() - before; n != 1 {
		t.Errorf("region a closed %d times; want once", n)
	}
}
