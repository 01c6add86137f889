package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// Python dogpile.cache's Valkey backends carry over as the redis ones
// (Valkey speaks the Redis protocol): their names are aliases, which ask
// for the redis package's import like the redis names do.
func TestB5ValkeyNamesAreRedisAliases(t *testing.T) {
	for alias, canonical := range map[string]string{
		"dogpile.cache.valkey": "redis", "valkey": "redis",
		"dogpile.cache.valkey_sentinel": "redis_sentinel", "valkey_sentinel": "redis_sentinel",
		"dogpile.cache.valkey_cluster": "redis_cluster", "valkey_cluster": "redis_cluster",
	} {
		_, err := dogpile.NewBackend(alias, nil)
		if !errors.Is(err, dogpile.ErrUnknownBackend) || !strings.Contains(err.Error(), `import _ "github.com/dogpile-go/dogpile/backends/redis"`) {
			t.Errorf("%s (%s): %v", alias, canonical, err)
		}
		if err := dogpile.RegisterBackend(alias, func(dogpile.Args) (dogpile.Backend, error) { return nil, nil }); !errors.Is(err, dogpile.ErrDuplicateBackend) {
			t.Errorf("registering the alias %s: %v", alias, err)
		}
	}
}

// A misspelt backend name gets the name that was meant, registered or one
// of this project's that needs its import.
func TestB6UnknownBackendSuggestion(t *testing.T) {
	_, err := dogpile.NewBackend("memroy", nil)
	if err == nil || !strings.Contains(err.Error(), `did you mean "memory"?`) {
		t.Errorf("memroy: %v", err)
	}
	_, err = dogpile.NewBackend("rediss", nil)
	if err == nil || !strings.Contains(err.Error(), `did you mean "redis"? (import _ "github.com/dogpile-go/dogpile/backends/redis"`) {
		t.Errorf("rediss: %v", err)
	}
}

// Backends lists the registered names sorted, whatever the order they were
// registered in (the registry is a map): the list goes into error messages
// and tools that must read the same every time.
func TestBackendsAreSorted(t *testing.T) {
	names := dogpile.Backends()
	if len(names) < 3 || !slices.Contains(names, "memory") || !slices.Contains(names, "null") {
		t.Fatalf("Backends = %q; want at least the built-in memory backends and null", names)
	}
	for range 10 { // map order is random on every range
		if got := dogpile.Backends(); !slices.IsSorted(got) || !slices.Equal(got, names) {
			t.Fatalf("Backends = %q, then %q; want one sorted list", names, got)
		}
	}
}

// backendNameTracer records the backend name of the spans a region starts.
type backendNameTracer struct {
	mu    sync.Mutex
	names []string
}

func (t *backendNameTracer) Start(ctx context.Context, _ string, info dogpile.SpanInfo) (context.Context, dogpile.Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.names = append(t.names, info.Backend)
	return ctx, noSpan{}
}

type noSpan struct{}

func (noSpan) End(string, error) {}

// A region configured by one of Python dogpile.cache's names knows its
// backend by the registered name it stands for.
func TestAliasedBackendIsKnownByItsRegisteredName(t *testing.T) {
	tr := &backendNameTracer{}
	r, err := dogpile.NewRegion(dogpile.WithTracer(tr)).Configure("dogpile.cache.memory")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.names) == 0 || tr.names[0] != "memory" {
		t.Fatalf("spans' backend %q; want memory", tr.names)
	}
}
