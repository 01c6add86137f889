package tiered

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/dogpile-go/dogpile"
)

// sharedReplies is a remote whose GetMulti returns windows on one buffer per
// call, as the Redis backend's MGET does; it keeps a weak pointer to the last
// buffer, to tell whether anything still holds it.
type sharedReplies struct {
	dogpile.Backend
	values map[string][]byte
	last   weak.Pointer[byte]
}

func (s *sharedReplies) GetMulti(_ context.Context, keys []string) ([][]byte, error) {
	var n int
	for _, k := range keys {
		n += len(s.values[k])
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = append(buf, s.values[k]...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	s.last = weak.Make(&buf[0])
	return out, nil
}

func (s *sharedReplies) SetMulti(context.Context, map[string][]byte) error { return nil }
func (s *sharedReplies) DeleteMulti(context.Context, []string) error       { return nil }

// A value the tier keeps from a multi-key read holds its own bytes, not the
// remote's whole reply: once the caller has let the reply go, it can be
// collected though the tier still serves the value.
func TestMultiKeepsOnlyItsOwnBytes(t *testing.T) {
	ctx := context.Background()
	remote := &sharedReplies{Backend: plainBackend{nil}, values: map[string][]byte{}}
	keys := []string{"a", "b", "c"}
	for i, k := range keys {
		remote.values[k] = bytes.Repeat([]byte{byte('a' + i)}, 10<<10)
	}
	tier := newTier(t, remote, &bus{})
	if got, err := tier.GetMulti(ctx, keys); err != nil || len(got) != 3 {
		t.Fatal(len(got), err)
	}
	runtime.GC()
	if remote.last.Value() != nil {
		t.Fatal("the tier keeps the remote's whole reply alive through the values it kept")
	}
	v, ok, err := tier.Get(ctx, "a")
	if err != nil || !ok || !bytes.Equal(v, remote.values["a"]) {
		t.Fatalf("the kept value: %d bytes, %v, %v", len(v), ok, err)
	}
}
