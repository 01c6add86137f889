package tiered

import (
	"slices"
	"testing"
)

// TestMessageRoundTrip: keys of any bytes (empty, binary, the Redis lock
// prefix) come back as they were sent, with the sender.
func TestMessageRoundTrip(t *testing.T) {
	from := origin{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	keys := []string{"a", "", "\xffdogpile:lock:x", string(make([]byte, 300)), "user:{42}:name"}
	gotFrom, all, got, err := decodeMessage(encodeKeys(from, keys...))
	if err != nil || all || gotFrom != from || !slices.Equal(got, keys) {
		t.Fatalf("decode(encode(keys)) = %v, %v, %q, %v", gotFrom, all, got, err)
	}
	gotFrom, all, got, err = decodeMessage(encodeAll(from))
	if err != nil || !all || gotFrom != from || got != nil {
		t.Fatalf("decode(encodeAll) = %v, %v, %q, %v", gotFrom, all, got, err)
	}
}

// TestMessageUnreadable: what is not a message of this version is an error
// (the tier then clears itself).
func TestMessageUnreadable(t *testing.T) {
	var from origin
	good := encodeKeys(from, "key")
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:5],
		"magic":       append([]byte("xx"), good[2:]...),
		"magic's d":   append([]byte("xt"), good[2:]...),
		"magic's t":   append([]byte("dx"), good[2:]...),
		"version":     append([]byte{'d', 't', 2}, good[3:]...),
		"kind":        append([]byte{'d', 't', 1, 9}, good[4:]...),
		"truncated":   good[:len(good)-1],
		"all+payload": append(encodeAll(from), 0),
	} {
		if _, _, _, err := decodeMessage(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeKeys(origin{}, "a", "b"))
	f.Add(encodeAll(origin{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		from, all, keys, err := decodeMessage(b)
		if err != nil || all {
			return
		}
		from2, all2, keys2, err := decodeMessage(encodeKeys(from, keys...))
		if err != nil || all2 || from2 != from || !slices.Equal(keys, keys2) {
			t.Fatalf("%q: keys %q do not survive re-encoding: %q, %v", b, keys, keys2, err)
		}
	})
}
