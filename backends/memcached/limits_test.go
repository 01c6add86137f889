package memcached

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMC2KeyLimits: keys over 250 bytes or with spaces or control
// characters get a clear error naming the key and the fix, from every call,
// before anything is sent; 250 bytes is fine.
func TestMC2KeyLimits(t *testing.T) {
	srv := servers(t, 1)
	b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true})
	ctx := testutil.Context(t)

	ok250 := strings.Repeat("k", MaxKeyLen)
	if err := b.Set(ctx, ok250, []byte("v")); err != nil {
		t.Fatalf("Set of a 250-byte key: %v", err)
	}
	if v, ok, err := b.Get(ctx, ok250); err != nil || !ok || string(v) != "v" {
		t.Fatalf("Get of a 250-byte key = %q, %v, %v", v, ok, err)
	}

	bad := map[string]string{
		"251 bytes":    strings.Repeat("k", MaxKeyLen+1),
		"space":        "user profile",
		"newline":      "user\nprofile",
		"tab":          "user\tprofile",
		"nul":          "user\x00profile",
		"del":          "user\x7fprofile",
		"empty":        "",
		"lock-reserve": DefaultLockPrefix + "00000000.x",
	}
	for name, k := range bad {
		calls := map[string]error{
			"Get":         func() error { _, _, err := b.Get(ctx, k); return err }(),
			"Set":         b.Set(ctx, k, []byte("v")),
			"Delete":      b.Delete(ctx, k),
			"GetMulti":    func() error { _, err := b.GetMulti(ctx, []string{"fine", k}); return err }(),
			"SetMulti":    b.SetMulti(ctx, map[string][]byte{"fine": []byte("v"), k: []byte("v")}),
			"DeleteMulti": b.DeleteMulti(ctx, []string{"fine", k}),
		}
		for call, err := range calls {
			if !errors.Is(err, ErrInvalidKey) || !errors.Is(err, dogpile.ErrInvalidArgument) {
				t.Errorf("%s with a key with %s: %v; want ErrInvalidKey", call, name, err)
			}
		}
		if name != "lock-reserve" && name != "empty" && !strings.Contains(calls["Set"].Error(), "SHA1Mangler") {
			t.Errorf("the error for a key with %s does not name the fix: %v", name, calls["Set"])
		}
		var ke *KeyError
		if !errors.As(calls["Set"], &ke) || ke.Key != k || ke.Reason == "" {
			t.Errorf("the error for a key with %s: %#v; want a *KeyError with the key and a reason", name, calls["Set"])
		} else if hashable := name != "lock-reserve" && name != "empty"; (ke.Fix != "") != hashable {
			t.Errorf("the error for a key with %s has the fix %q; want one only when the key's hash would do", name, ke.Fix)
		}
	}
	if err := b.SetMulti(ctx, map[string][]byte{"fine-too": []byte("v"), "bad key": []byte("v")}); err == nil {
		t.Fatal("SetMulti with one bad key: no error")
	}
	if _, ok, _ := b.Get(ctx, "fine-too"); ok {
		t.Fatal("SetMulti with one bad key stored the good ones: a half-done call")
	}
}

// TestMC2Mangler: a region on the backend takes keys memcached could not,
// through the backend's default key mangler, which stores them under their
// SHA-1 and leaves the keys memcached accepts readable as they are; a region
// whose mangler is turned off returns the backend's clear error and does not
// call the creator; a region's own mangler wins over the backend's.
func TestMC2Mangler(t *testing.T) {
	srv := servers(t, 1)
	ctx := testutil.Context(t)
	long := "report for " + strings.Repeat("a very long name ", 40) + "\n(with control characters)"
	raw := rawClient(srv[0])

	region := newRegion(t, newBackend(t, dogpile.Args{"url": srv}))
	for _, key := range []string{long, "has space", strings.Repeat("k", MaxKeyLen+1)} {
		v, err := dogpile.GetOrCreate(ctx, region, key, func(context.Context) (string, error) { return "made", nil })
		if err != nil || v != "made" {
			t.Fatalf("GetOrCreate of %.20q… with the backend's mangler = %q, %v", key, v, err)
		}
		if _, err := raw.Get(dogpile.SHA1Mangler(key)); err != nil {
			t.Fatalf("the value of %.20q… is not under the key's SHA-1: %v", key, err)
		}
		if v, ok, err := dogpile.Get[string](ctx, region, key); err != nil || !ok || v != "made" {
			t.Fatalf("Get of %.20q… = %q, %v, %v", key, v, ok, err)
		}
	}
	if err := region.Set(ctx, "plain:key", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Get("plain:key"); err != nil {
		t.Fatalf("a key memcached accepts was mangled: %v", err)
	}

	off := newRegion(t, newBackend(t, dogpile.Args{"url": srv}), dogpile.WithKeyMangler(nil))
	_, err := dogpile.GetOrCreate(ctx, off, long, func(context.Context) (string, error) {
		t.Error("the creator ran for a key memcached cannot store")
		return "", nil
	})
	if !errors.Is(err, ErrInvalidKey) || !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("GetOrCreate of a %d-byte key with the mangler off: %v; want ErrInvalidKey", len(long), err)
	}

	own := newRegion(t, newBackend(t, dogpile.Args{"url": srv}), dogpile.WithKeyMangler(func(k string) string { return "own:" + dogpile.SHA1Mangler(k) }))
	if err := own.Set(ctx, "plain:key", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Get("own:" + dogpile.SHA1Mangler("plain:key")); err != nil {
		t.Fatalf("the region's own mangler did not win over the backend's: %v", err)
	}
}

// TestMC5ValueTooLarge: a value over the server's item size limit is a clear
// error, and nothing is left under the key — not even the value it held
// before, which memcached drops — so no caller sees a stale or partial value.
func TestMC5ValueTooLarge(t *testing.T) {
	const limit = 64 << 10
	p := testserver.Memcached(t, testserver.MemcachedOptions{MaxItemSize: limit})
	b := newBackend(t, dogpile.Args{"url": p.Addr()})
	ctx := testutil.Context(t)

	if err := b.Set(ctx, "k", []byte("small")); err != nil {
		t.Fatal(err)
	}
	err := b.Set(ctx, "k", make([]byte, 2*limit))
	if !errors.Is(err, ErrValueTooLarge) || !errors.Is(err, dogpile.ErrInvalidArgument) || !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, dogpile.ErrValueRefused) {
		t.Fatalf("Set of %d bytes on a server with -I %d: %v; want ErrValueTooLarge", 2*limit, limit, err)
	}
	if !strings.Contains(err.Error(), "131072 bytes") || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("the error does not say which key and how large: %v", err)
	}
	if want := `memcached: value too large: "k": 131072 bytes`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("the error reads %q; want it to begin %q, saying it once", err, want)
	}
	if v, ok, err := b.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("after the failed Set, Get = %q, %v, %v; want a miss", v, ok, err)
	}
	// The connection the server answered with an error is not reused
	// broken: the next calls work.
	if err := b.Set(ctx, "k", make([]byte, limit/2)); err != nil {
		t.Fatalf("Set under the limit after the failure: %v", err)
	}

	// Through a region: the caller gets the error, nothing is cached, and
	// the next caller runs the creator again.
	r := newRegion(t, b)
	calls := 0
	big := func(context.Context) (string, error) { calls++; return strings.Repeat("x", 2*limit), nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "big", big); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("GetOrCreate of a too-large value: %v; want ErrValueTooLarge", err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "big", big); !errors.Is(err, ErrValueTooLarge) || calls != 2 {
		t.Fatalf("second GetOrCreate: %v after %d creator calls; want the error again from a second call", err, calls)
	}
}

// TestTTL: memcached_expire_time reaches the server; over 30 days it
// is sent as a Unix time (sent as seconds, memcached would read it as a date
// in 1970 and the value would vanish at once).
func TestTTL(t *testing.T) {
	srv := servers(t, 1)
	ctx := testutil.Context(t)
	for _, c := range []struct {
		arg  any
		want time.Duration // -1: never
	}{
		{nil, -1},
		{3600, time.Hour},
		{"90m", 90 * time.Minute},
		{30 * 24 * 3600, 30 * 24 * time.Hour},
		{60 * 24 * 3600, 60 * 24 * time.Hour},
		{"8760h", 365 * 24 * time.Hour},
	} {
		args := dogpile.Args{"url": srv}
		if c.arg != nil {
			args["memcached_expire_time"] = c.arg
		}
		b := newBackend(t, args)
		if err := b.Set(ctx, "exp", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Get(ctx, "exp"); !ok || err != nil {
			t.Fatalf("memcached_expire_time=%v: the value is gone at once (%v)", c.arg, err)
		}
		ttl, ok := testserver.MemcachedTTL(t, srv[0], "exp")
		// Over 30 days the expiry goes as a Unix time, and memcached's clock
		// ticks once a second, so its TTL can be a second over.
		if !ok || (c.want < 0) != (ttl < 0) || (c.want > 0 && (ttl > c.want+time.Second || ttl < c.want-5*time.Second)) {
			t.Fatalf("memcached_expire_time=%v: server TTL %v, %v; want %v", c.arg, ttl, ok, c.want)
		}
	}
}

func TestExpirySeconds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for d, want := range map[time.Duration]int32{
		0:                               0,
		time.Millisecond:                1,
		1500 * time.Millisecond:         2,
		time.Hour:                       3600,
		maxRelativeExpiry:               2592000,
		maxRelativeExpiry + time.Second: 1_800_000_000 + 2592001,
		200 * 365 * 24 * time.Hour:      1<<31 - 1, // past 2038: the protocol's last second
	} {
		if got := expirySeconds(d, now); got != want {
			t.Errorf("expirySeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// A KeyError's text is ErrInvalidKey's, the key (its first 64 bytes when
// longer), the reason, and the fix last, so that a program can leave the fix
// out.
func TestKeyErrorText(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, c := range []struct {
		err  *KeyError
		want string
	}{
		{&KeyError{Key: "a b", Reason: "r", Fix: "f"}, `invalid argument: memcached key "a b": r; f`},
		{&KeyError{Key: "a b", Reason: "r"}, `invalid argument: memcached key "a b": r`},
		{&KeyError{Key: long, Reason: "r", Fix: "f"}, `invalid argument: memcached key "` + long[:64] + `"…: r; f`},
		{&KeyError{Reason: "the empty key"}, `invalid argument: memcached key: the empty key`},
	} {
		if got := c.err.Error(); got != "dogpile: "+c.want {
			t.Errorf("%#v.Error() = %q; want %q", c.err, got, "dogpile: "+c.want)
		}
		if !errors.Is(c.err, ErrInvalidKey) || !errors.Is(c.err, dogpile.ErrInvalidArgument) {
			t.Errorf("%#v matches neither ErrInvalidKey nor dogpile.ErrInvalidArgument", c.err)
		}
		if c.err.Fix != "" && strings.TrimSuffix(c.err.Error(), "; "+c.err.Fix) == c.err.Error() {
			t.Errorf("%q does not end with its fix", c.err.Error())
		}
	}
}
