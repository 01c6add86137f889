package file_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/file"
)

func listed(t *testing.T, b *file.Backend, opts backend.ListOptions) []string {
	t.Helper()
	var keys []string
	for k, err := range b.ListKeys(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// The file backend lists its keys in order, by prefix (bytes, 0xff
// included) and up to a limit, hides entries past the TTL as reads do, and
// reports its entries and bytes.
func TestListKeysAndStoreStats(t *testing.T) {
	ctx := context.Background()
	b := open(t, file.Options{TTL: time.Hour, MaxSize: 1 << 20})
	now := time.Now()
	file.SetClock(b, func() time.Time { return now })
	for _, k := range []string{"user:2", "user:1", "user:10", "page:1", "user;", "\xff\xffa", "\xff\xffb", "\xff"} {
		if err := b.Set(ctx, k, []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		opts backend.ListOptions
		want []string
	}{
		{backend.ListOptions{Prefix: "user:"}, []string{"user:1", "user:10", "user:2"}},
		{backend.ListOptions{Prefix: "user:", Limit: 2}, []string{"user:1", "user:10"}},
		{backend.ListOptions{Prefix: "\xff\xff"}, []string{"\xff\xffa", "\xff\xffb"}},
		{backend.ListOptions{Prefix: "\xff"}, []string{"\xff", "\xff\xffa", "\xff\xffb"}},
		{backend.ListOptions{Prefix: "nothing"}, nil},
		{backend.ListOptions{Limit: 1}, []string{"page:1"}},
	} {
		if got := listed(t, b, c.opts); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %q; want %q", c.opts, got, c.want)
		}
	}
	if got := len(listed(t, b, backend.ListOptions{})); got != 8 {
		t.Errorf("%d keys in all, want 8", got)
	}
	// Past the TTL, an entry is gone for listings as for reads.
	now = now.Add(2 * time.Hour)
	if got := listed(t, b, backend.ListOptions{}); len(got) != 0 {
		t.Errorf("after the TTL: %q", got)
	}

	st, err := b.StoreStats(ctx)
	if err != nil || len(st) != 1 {
		t.Fatal(st, err)
	}
	s := st[0]
	if s.Entries != 8 || s.Bytes <= 8*int64(len("value")) || s.Hits != backend.Unknown || s.Source != "file "+b.Options().Filename {
		t.Errorf("report %+v", s)
	}
	extra := map[string]any{}
	for _, e := range s.Extra {
		extra[e.Name] = e.Value
	}
	if extra["max_size"] != int64(1<<20) || extra["max_age"] != time.Hour || extra["file_size"].(int64) <= 0 {
		t.Errorf("extra %v", extra)
	}
}
