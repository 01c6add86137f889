package memcached

import (
	"errors"
	"slices"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

func listAll(t *testing.T, b *Backend, opts backend.ListOptions) ([]string, error) {
	t.Helper()
	var keys []string
	for k, err := range b.ListKeys(testutil.Context(t), opts) {
		if err != nil {
			return keys, err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// The memcached backend lists the keys of every server with the LRU
// crawler, by prefix and up to a limit, without its lock keys unless asked;
// it reports each server's stats, and a server that is down as such.
func TestListKeysAndStoreStats(t *testing.T) {
	ctx := testutil.Context(t)
	procs := testserver.MemcachedN(t, 3, testserver.MemcachedOptions{})
	b := newBackend(t, dogpile.Args{"url": testserver.Addrs(procs), "distributed_lock": true})
	want := []string{"user:%41", "user:1", "user:2", "user:3", "user:4", "user:5", "user:a/b", "user:é"}
	for _, k := range append(slices.Clone(want), "page:1") {
		if err := b.Set(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	mu := b.Mutex("user:1")
	if err := mu.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer mu.Unlock(ctx)

	if got, err := listAll(t, b, backend.ListOptions{Prefix: "user:"}); err != nil || !slices.Equal(got, want) {
		t.Errorf("keys with prefix user:\n got %q, %v\nwant %q", got, err, want)
	}
	if got, err := listAll(t, b, backend.ListOptions{Limit: 2}); err != nil || len(got) != 2 {
		t.Errorf("limit 2: %q, %v", got, err)
	}
	if got, err := listAll(t, b, backend.ListOptions{Prefix: DefaultLockPrefix, Own: true}); err != nil || len(got) != 1 {
		t.Errorf("the held lock, with Own: %q, %v", got, err)
	}
	if got, err := listAll(t, b, backend.ListOptions{Prefix: DefaultLockPrefix}); err != nil || len(got) != 0 {
		t.Errorf("lock keys without Own: %q, %v", got, err)
	}

	st, err := b.StoreStats(ctx)
	if err != nil || len(st) != 3 {
		t.Fatal(st, err)
	}
	var items, bytes int64
	for _, s := range st {
		// A server may hold none of the keys: ketama places them by the
		// servers' addresses, which are new ports every run.
		if s.Err != nil || s.Entries < 0 || s.Bytes < 0 || s.Hits < 0 || s.Misses < 0 || s.Evictions < 0 || len(s.Extra) == 0 || s.Extra[0].Name != "version" {
			t.Errorf("report %+v", s)
		}
		items += s.Entries
		bytes += s.Bytes
	}
	if items < int64(len(want)+1) || bytes <= 0 { // and page:1, and the lock's key(s)
		t.Errorf("%d items of %d bytes in all, want at least %d", items, bytes, len(want)+1)
	}

	procs[1].Kill()
	if _, err := listAll(t, b, backend.ListOptions{}); err == nil {
		t.Error("a listing with a server down has no error")
	}
	st, err = b.StoreStats(ctx)
	if err != nil || len(st) != 3 || st[1].Err == nil || st[1].Entries != backend.Unknown || st[0].Err != nil {
		t.Errorf("stats with the second server down: %+v, %v", st, err)
	}
}

// A server started without the LRU crawler cannot list its keys: the error
// says so (errors.ErrUnsupported), rather than list none.
func TestListKeysWithoutCrawler(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{Args: []string{"-o", "no_lru_crawler"}})
	b := newBackend(t, dogpile.Args{"url": p.Addr()})
	if err := b.Set(testutil.Context(t), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := listAll(t, b, backend.ListOptions{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("listing without the crawler: %v", err)
	}
}
