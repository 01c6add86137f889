package backend

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
)

func keysOf(keys ...string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

func collect(t *testing.T, s iter.Seq2[string, error]) ([]string, error) {
	t.Helper()
	var out []string
	for k, err := range s {
		if err != nil {
			return out, err
		}
		out = append(out, k)
	}
	return out, nil
}

func TestFilterKeys(t *testing.T) {
	all := keysOf("a:1", "lock:a:1", "a:2", "b:1", "a:3")
	own := func(k string) bool { return strings.HasPrefix(k, "lock:") }
	for _, c := range []struct {
		opts ListOptions
		want []string
	}{
		{ListOptions{}, []string{"a:1", "a:2", "b:1", "a:3"}},
		{ListOptions{Own: true}, []string{"a:1", "lock:a:1", "a:2", "b:1", "a:3"}},
		{ListOptions{Prefix: "a:"}, []string{"a:1", "a:2", "a:3"}},
		{ListOptions{Prefix: "a:", Limit: 2}, []string{"a:1", "a:2"}},
		{ListOptions{Prefix: "lock:"}, nil},
		{ListOptions{Prefix: "lock:", Own: true}, []string{"lock:a:1"}},
	} {
		got, err := collect(t, FilterKeys(all, c.opts, own))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, %v; want %v", c.opts, got, err, c.want)
		}
	}
	// The caller may stop early; an error is passed on and ends the stream.
	boom := errors.New("boom")
	failing := func(yield func(string, error) bool) {
		if yield("a", nil) {
			yield("", boom)
		}
	}
	if got, err := collect(t, FilterKeys(failing, ListOptions{}, nil)); !errors.Is(err, boom) || !slices.Equal(got, []string{"a"}) {
		t.Errorf("failing stream: %v, %v", got, err)
	}
	for range FilterKeys(all, ListOptions{}, nil) {
		break
	}
	if s := NewStats("x"); s.Entries != Unknown || s.Bytes != Unknown || s.Hits != Unknown || s.Misses != Unknown || s.Evictions != Unknown {
		t.Errorf("NewStats: %+v", s)
	}
}
