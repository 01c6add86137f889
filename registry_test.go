package dogpile_test

import (
	"errors"
	"strings"
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
