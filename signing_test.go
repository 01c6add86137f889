package dogpile_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

func signedRegion(t *testing.T, store dogpile.Backend, keys ...[]byte) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(dogpile.WithSigning(keys...), dogpile.WithMetrics()).ConfigureBackend(store, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestS1UnsignedBytesAreAMissAndCounted(t *testing.T) {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	oldKey, newKey := []byte("old-key-0123456789abcdef0123456789"), []byte("new-key-0123456789abcdef0123456789")

	signer := signedRegion(t, store, oldKey)
	if err := signer.Set(ctx, "k", "signed by old"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := dogpile.Get[string](ctx, signer, "k"); !ok || err != nil || v != "signed by old" {
		t.Fatalf("a signed entry reads back as %q, %v, %v", v, ok, err)
	}
	raw, _, _ := store.Get(ctx, "k")
	if md, err := dogpile.InspectEntry(raw); err != nil || !md.Signed {
		t.Fatalf("InspectEntry = %+v, %v; want Signed", md, err)
	}

	// Someone without a key writes to the shared store: an entry of the
	// right format, by an unsigned region.
	plain, _ := dogpile.NewRegion().ConfigureBackend(store)
	if err := plain.Set(ctx, "poisoned", "from an attacker"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dogpile.Get[string](ctx, signer, "poisoned"); ok || err != nil {
		t.Fatalf("an unsigned entry read as ok=%v, err=%v; want a miss", ok, err)
	}
	v, err := dogpile.GetOrCreate(ctx, signer, "poisoned", func(context.Context) (string, error) { return "regenerated", nil })
	if err != nil || v != "regenerated" {
		t.Fatalf("GetOrCreate over an unsigned entry = %q, %v; want the creator's value", v, err)
	}
	// A signed entry copied under another key is refused too.
	if err := store.Set(ctx, "copied", raw); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dogpile.Get[string](ctx, signer, "copied"); ok {
		t.Fatal("a signed entry copied under another key was accepted")
	}
	// A tampered entry is refused.
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-40] ^= 1
	store.Set(ctx, "k2", tampered) //nolint:errcheck
	if _, ok, _ := dogpile.Get[string](ctx, signer, "k2"); ok {
		t.Fatal("a tampered entry was accepted")
	}
	// Every read of a refused entry counts: poisoned was read by Get, by
	// GetOrCreate and by its re-check under the lock.
	if s := signer.Stats(); s.Rejected != 5 {
		t.Fatalf("rejected = %d, want 5 (poisoned ×3, copied, tampered)", s.Rejected)
	}

	// Rotation: a region that signs with the new key and still accepts the
	// old one reads old entries; one that dropped the old key does not.
	rotating := signedRegion(t, store, newKey, oldKey)
	if v, ok, _ := dogpile.Get[string](ctx, rotating, "k"); !ok || v != "signed by old" {
		t.Fatalf("during rotation an old-key entry reads %q, %v", v, ok)
	}
	rotating.Set(ctx, "k3", "signed by new") //nolint:errcheck
	if v, ok, _ := dogpile.Get[string](ctx, signer, "k3"); ok {
		t.Fatalf("a region with only the old key accepted a new-key entry %q", v)
	}
	rotated := signedRegion(t, store, newKey)
	if _, ok, _ := dogpile.Get[string](ctx, rotated, "k"); ok {
		t.Fatal("after rotation an old-key entry is still accepted")
	}
	if v, ok, _ := dogpile.Get[string](ctx, rotated, "k3"); !ok || v != "signed by new" {
		t.Fatalf("after rotation a new-key entry reads %q, %v", v, ok)
	}
	// A region without signing still reads signed entries.
	if v, ok, _ := dogpile.Get[string](ctx, plain, "k3"); !ok || v != "signed by new" {
		t.Fatalf("an unsigning region reads a signed entry as %q, %v", v, ok)
	}
}

func TestS3BytesNeverChooseTheirType(t *testing.T) {
	ctx := context.Background()
	// An entry whose JSON names a type, read into an interface: the codecs
	// decode into plain data (maps, strings, numbers), never into a type the
	// bytes name; decoding into a concrete type fills only that type.
	payload, _ := json.Marshal(map[string]any{"@type": "os/exec.Cmd", "Path": "/bin/sh"})
	for _, c := range []codec.Codec{codec.Default, codec.JSON} {
		var got any
		if err := c.Unmarshal(payload, &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got.(map[string]any); !ok {
			t.Fatalf("%s decoded %T, want map[string]any", c.Name(), got)
		}
	}
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	r, _ := dogpile.NewRegion(dogpile.WithCodec(codec.JSON)).ConfigureBackend(store)
	r.Set(ctx, "k", map[string]any{"@type": "os/exec.Cmd"}) //nolint:errcheck
	type target struct{ Name string }
	if v, ok, _ := dogpile.Get[target](ctx, r, "k"); ok && v != (target{}) {
		t.Fatalf("decoding into a concrete type picked up %+v", v)
	}
}

func TestS4MaxValueSize(t *testing.T) {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	r, _ := dogpile.NewRegion(dogpile.WithMaxValueSize(100)).ConfigureBackend(store)
	big := string(make([]byte, 200))
	err := r.Set(ctx, "big", big)
	if !errors.Is(err, dogpile.ErrValueTooLarge) || !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("Set of a too-large value = %v; want ErrValueTooLarge", err)
	}
	if _, ok, _ := store.Get(ctx, "big"); ok {
		t.Fatal("a too-large value was stored")
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "big", func(context.Context) (string, error) { return big, nil }); !errors.Is(err, dogpile.ErrValueTooLarge) {
		t.Fatalf("GetOrCreate of a too-large value = %v", err)
	}
	if err := r.SetMulti(ctx, map[string]any{"a": "small", "big": big}); !errors.Is(err, dogpile.ErrValueTooLarge) {
		t.Fatalf("SetMulti with a too-large value = %v", err)
	}
	if _, ok, _ := store.Get(ctx, "a"); ok {
		t.Fatal("SetMulti stored part of a batch that had a too-large value")
	}
	if err := r.Set(ctx, "small", "fits"); err != nil {
		t.Fatal(err)
	}
}

// WithSigning refuses keys that can't protect anything — none, empty (an
// unset environment variable), shorter than 16 bytes — with an error that
// does not quote them.
func TestS1SigningKeysTooShortRefused(t *testing.T) {
	secret := []byte("short-secret") // 12 bytes
	for name, keys := range map[string][][]byte{
		"no key":                {},
		"empty key":             {{}},
		"short key":             {secret},
		"15-byte key":           {[]byte("0123456789abcde")}, // one short of the limit
		"short key in rotation": {[]byte("a-good-signing-key-0123456789abcdef"), secret},
	} {
		t.Run(name, func(t *testing.T) {
			for how, configure := range map[string]func(*dogpile.Region) error{
				"Configure":        func(r *dogpile.Region) error { _, err := r.Configure("memory_serialized"); return err },
				"ConfigureBackend": func(r *dogpile.Region) error { _, err := r.ConfigureBackend(newStore()); return err },
			} {
				r := dogpile.NewRegion(dogpile.WithSigning(keys...))
				err := configure(r)
				if !errors.Is(err, dogpile.ErrInvalidArgument) {
					t.Fatalf("%s = %v; want ErrInvalidArgument", how, err)
				}
				if strings.Contains(err.Error(), string(secret)) {
					t.Fatalf("%s's error quotes the key: %v", how, err)
				}
				if r.IsConfigured() {
					t.Fatalf("%s configured the region anyway", how)
				}
			}
		})
	}
	if _, err := dogpile.NewRegion(dogpile.WithSigning([]byte("0123456789abcdef"))).Configure("memory_serialized"); err != nil {
		t.Fatalf("a 16-byte key: %v", err)
	}
}
