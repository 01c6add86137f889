package dogpile_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
)

// reusingStore is a client that reads every reply into one buffer of its
// own, as one over a bufio.Reader would: a value it returned holds the next
// reply's bytes once it returns again. It does not say its values are
// immutable, so a region must copy what it decodes from them.
type reusingStore struct {
	multiStoreBackend
	mu  sync.Mutex
	buf []byte
}

func (s *reusingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := s.multiStoreBackend.Get(ctx, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf[:0], v...)
	return s.buf, ok, err
}

func (s *reusingStore) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := s.multiStoreBackend.GetMulti(ctx, keys)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, v := range vs {
		s.buf = append(s.buf, v...)
	}
	out, rest := make([][]byte, len(vs)), s.buf
	for i, v := range vs {
		if v != nil {
			out[i], rest = rest[:len(v):len(v)], rest[len(v):]
		}
	}
	return out, err
}

// immutableStore is multiStoreBackend saying what is true of it: a value is
// the bytes a Set stored, never written to afterwards.
type immutableStore struct{ multiStoreBackend }

func (immutableStore) ValuesImmutable() bool { return true }

var _ backend.Immutable = immutableStore{}

// A string decoded from a backend's value is copied unless the backend says
// its values are immutable: on a client that reuses its reply buffer, the
// values a region returned stay as they were after the next reads.
func TestDecodedStringCopiedFromValuesNotImmutable(t *testing.T) {
	ctx := context.Background()
	s := &reusingStore{multiStoreBackend: newMultiStore()}
	r := regionFor(t, s, nil)
	defer r.Close()
	for _, k := range []string{"a", "b"} {
		if err := r.Set(ctx, k, "value-"+k); err != nil {
			t.Fatal(err)
		}
	}
	a, errA := dogpile.GetOrCreate(ctx, r, "a", failing)
	g, _, errG := dogpile.Get[string](ctx, r, "a")
	multi, errM := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, failingMulti)
	if errA != nil || errG != nil || errM != nil {
		t.Fatal(errA, errG, errM)
	}
	// The buffer now holds other replies.
	if _, err := dogpile.GetOrCreate(ctx, r, "b", failing); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"b", "a"}, failingMulti); err != nil {
		t.Fatal(err)
	}
	if a != "value-a" || g != "value-a" || multi[0] != "value-a" || multi[1] != "value-b" {
		t.Fatalf("values changed with the backend's buffer: GetOrCreate %q, Get %q, GetOrCreateMulti %q", a, g, multi)
	}
}

// On a backend whose values are immutable a decoded string points into the
// value's bytes: a hit allocates once less, a multi-key hit once less a key.
func TestDecodedStringPointsIntoImmutableValues(t *testing.T) {
	ctx := context.Background()
	plain, im := newMultiStore(), immutableStore{newMultiStore()}
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	var single, multi [2]float64 // allocations a hit: [0] plain, [1] immutable
	for i, b := range []dogpile.Backend{plain, im} {
		r := regionFor(t, b, nil)
		defer r.Close()
		for _, k := range keys {
			if err := r.Set(ctx, k, strings.Repeat(k, 20)); err != nil {
				t.Fatal(err)
			}
		}
		single[i] = testing.AllocsPerRun(100, func() {
			if v, err := dogpile.GetOrCreate(ctx, r, "k0", failing); err != nil || v != strings.Repeat("k0", 20) {
				t.Fatal(v, err)
			}
		})
		multi[i] = testing.AllocsPerRun(100, func() {
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, failingMulti); err != nil || vs[7] != strings.Repeat("k7", 20) {
				t.Fatal(vs, err)
			}
		})
	}
	if single[1] != single[0]-1 {
		t.Errorf("hit: %v allocations on an immutable backend, %v otherwise: want one less", single[1], single[0])
	}
	if multi[1] != multi[0]-float64(len(keys)) {
		t.Errorf("%d-key hit: %v allocations on an immutable backend, %v otherwise: want %d less", len(keys), multi[1], multi[0], len(keys))
	}

	// The string is the stored bytes' memory, not a copy of them.
	r := regionFor(t, im, nil)
	defer r.Close()
	v, err := dogpile.GetOrCreate(ctx, r, "k3", failing)
	if err != nil {
		t.Fatal(err)
	}
	stored := im.data["k3"]
	start := uintptr(unsafe.Pointer(unsafe.SliceData(stored)))
	end := start + uintptr(len(stored))
	if p := uintptr(unsafe.Pointer(unsafe.StringData(v))); p < start || p >= end {
		t.Errorf("the decoded string is a copy: %#x is outside the stored bytes [%#x, %#x)", p, start, end)
	}
}
