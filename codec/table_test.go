package codec

import (
	"errors"
	"strings"
	"testing"
)

// An unknown name looked up in a registry with nothing registered says so
// ("registered: none"), rather than listing an empty set; with names
// registered, it lists them.
func TestLookupUnknownListsWhatIsRegistered(t *testing.T) {
	empty := table[int]{m: map[string]int{}}
	_, err := empty.lookup("compression", "lz4")
	if !errors.Is(err, ErrUnknown) || !strings.HasSuffix(err.Error(), `unknown compression "lz4" (registered: none)`) {
		t.Fatalf("lookup in an empty registry = %v", err)
	}
	two := table[int]{m: map[string]int{"b": 2, "a": 1}}
	if _, err := two.lookup("codec", "c"); err == nil || !strings.HasSuffix(err.Error(), `(registered: a, b)`) {
		t.Fatalf("lookup in a registry of a and b = %v", err)
	}
}
