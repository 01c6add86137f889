package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

func stats(t *testing.T, b *file.Backend) file.Stats {
	t.Helper()
	s, err := b.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFB4MaxSizeBoundsStore writes 20 times max_size through one backend: the
// entries never total much more than max_size (at most max_size/8 of writes
// between cleanups), and the file on disk stays a small multiple of it.
func TestFB4MaxSizeBoundsStore(t *testing.T) {
	const maxSize = 512 << 10
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db, MaxSize: maxSize})
	ctx := context.Background()
	value := []byte(strings.Repeat("x", 16<<10))
	const writes = 20 * maxSize / (16 << 10)
	for i := range writes {
		if err := b.Set(ctx, fmt.Sprintf("key-%05d", i), value); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if s := stats(t, b); s.Bytes > maxSize+maxSize/8+int64(len(value))+16 {
				t.Fatalf("after %d writes the entries total %d bytes; max_size is %d", i+1, s.Bytes, maxSize)
			}
		}
	}
	if err := b.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, b); s.Bytes > maxSize || s.Entries == 0 {
		t.Fatalf("after Cleanup the entries total %d bytes in %d entries; max_size is %d", s.Bytes, s.Entries, maxSize)
	}
	// The newest entries are the ones kept.
	if _, ok, _ := b.Get(ctx, fmt.Sprintf("key-%05d", writes-1)); !ok {
		t.Fatal("the last entry written was evicted")
	}
	if _, ok, _ := b.Get(ctx, "key-00000"); ok {
		t.Fatal("the first entry written is still there")
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*maxSize {
		t.Fatalf("the file is %d bytes after %d bytes were written with max_size %d", fi.Size(), writes*len(value), maxSize)
	}
	if wal, err := os.Stat(db + "-wal"); err == nil && wal.Size() > 8<<20 {
		t.Fatalf("the write-ahead log is %d bytes", wal.Size())
	}
}

// TestFB4EvictsLeastRecentlyWritten: eviction goes by the time of the last
// write, so rewriting an old key keeps it.
func TestFB4EvictsLeastRecentlyWritten(t *testing.T) {
	b := open(t, file.Options{MaxSize: 100 << 10})
	clock := testutil.NewClock(time.Now())
	file.SetClock(b, clock.Now)
	ctx := context.Background()
	value := []byte(strings.Repeat("x", 10<<10))
	set := func(k string) {
		clock.Advance(time.Second)
		if err := b.Set(ctx, k, value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		set(fmt.Sprintf("k%d", i))
	}
	set("k0") // k0 is now the most recent, k1 the oldest
	for i := 8; i < 12; i++ {
		set(fmt.Sprintf("k%d", i))
	}
	if err := b.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"k0": true, "k1": false, "k2": false, "k11": true} {
		if _, ok, _ := b.Get(ctx, k); ok != want {
			t.Errorf("%s present = %v, want %v", k, ok, want)
		}
	}
}

// withOneEntry is a store with a max_age of one hour, on a clock the test
// moves, holding the entry "old", written now.
func withOneEntry(t *testing.T) (*file.Backend, *testutil.Clock) {
	t.Helper()
	b := open(t, file.Options{TTL: time.Hour})
	clock := testutil.NewClock(time.Now())
	file.SetClock(b, clock.Now)
	if err := b.Set(context.Background(), "old", []byte("v")); err != nil {
		t.Fatal(err)
	}
	return b, clock
}

// TestFB4MaxAge: entries older than the TTL (max_age) read as misses at once and are
// removed by the cleanup that writes trigger.
func TestFB4MaxAge(t *testing.T) {
	b, clock := withOneEntry(t)
	ctx := context.Background()
	clock.Advance(59 * time.Minute)
	if _, ok, _ := b.Get(ctx, "old"); !ok {
		t.Fatal("an entry younger than max_age is gone")
	}
	clock.Advance(2 * time.Minute)
	if _, ok, _ := b.Get(ctx, "old"); ok {
		t.Fatal("an entry older than max_age was read")
	}
	if vs, err := b.GetMulti(ctx, []string{"old"}); err != nil || vs[0] != nil {
		t.Fatalf("GetMulti of an entry older than max_age = %q, %v", vs, err)
	}
	if s := stats(t, b); s.Entries != 1 {
		t.Fatalf("%d entries before any cleanup, want the 1 old one", s.Entries)
	}
	for i := range 300 { // more than one cleanup interval of writes
		if err := b.Set(ctx, fmt.Sprintf("new-%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if s := stats(t, b); s.Entries != 300 {
		t.Fatalf("%d entries after 300 new writes; want the old one removed by the writes' cleanup", s.Entries)
	}
}

// TestFB4CleanupOnOpen: a store left larger than max_size (by a process with
// no bound) is trimmed when a bounded backend opens it.
func TestFB4CleanupOnOpen(t *testing.T) {
	items := map[string][]byte{}
	for i := range 200 {
		items[fmt.Sprintf("k%d", i)] = []byte(strings.Repeat("x", 10<<10))
	}
	db := leftBehind(t, func(ctx context.Context, big *file.Backend) error { return big.SetMulti(ctx, items) })
	b := open(t, file.Options{Filename: db, MaxSize: 256 << 10})
	if s := stats(t, b); s.Bytes > 256<<10 {
		t.Fatalf("after opening with max_size 256 KiB the entries total %d bytes", s.Bytes)
	}
}

// TestFB4CleanupTrimsToSevenEighths: a store of exactly max_size is left as
// it is; one past it loses its least recently written entries until it
// holds at most 7/8 of max_size, and no more than that (nothing failed when
// the cleanup trimmed only to max_size, so that every write past the bound
// paid for another cleanup, or started at max_size itself, or removed an
// entry too few or too many).
func TestFB4CleanupTrimsToSevenEighths(t *testing.T) {
	const maxSize, size = 8000, 1000 // an entry's key and value: 1000 bytes
	b := open(t, file.Options{MaxSize: maxSize})
	clock := testutil.NewClock(time.Now())
	file.SetClock(b, clock.Now)
	ctx := context.Background()
	set := func(i int) {
		t.Helper()
		clock.Advance(time.Second) // distinct write times, in order
		if err := b.Set(ctx, fmt.Sprint("k", i), make([]byte, size-2)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 { // each write runs a cleanup: it is max_size/8 bytes
		set(i)
	}
	if s := stats(t, b); s.Bytes != maxSize || s.Entries != 8 {
		t.Fatalf("a store of exactly max_size holds %d entries, %d bytes; want all 8, %d", s.Entries, s.Bytes, maxSize)
	}
	set(8)
	if err := b.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, b); s.Bytes != maxSize*7/8 || s.Entries != 7 {
		t.Fatalf("after one write past max_size the store holds %d entries, %d bytes; want 7, %d", s.Entries, s.Bytes, maxSize*7/8)
	}
	for i := range 9 {
		if _, ok, err := b.Get(ctx, fmt.Sprint("k", i)); err != nil || ok != (i >= 2) {
			t.Errorf("k%d present = %v (%v); want only the 7 most recently written", i, ok, err)
		}
	}
}

// TestFB4MaxAgeBoundary: an entry exactly max_age old is still there, for
// every read and for the cleanup; a nanosecond later it is gone for all
// (nothing failed when reads, or the cleanup alone, took an entry of exactly
// max_age as expired).
func TestFB4MaxAgeBoundary(t *testing.T) {
	b := open(t, file.Options{TTL: time.Hour})
	clock := testutil.NewClock(time.Unix(1e9, 0))
	file.SetClock(b, clock.Now)
	ctx := context.Background()
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	present := func(want bool) {
		t.Helper()
		if _, ok, err := b.Get(ctx, "k"); err != nil || ok != want {
			t.Fatalf("Get: present = %v (%v); want %v", ok, err, want)
		}
		if vs, err := b.GetMulti(ctx, []string{"k"}); err != nil || (vs[0] != nil) != want {
			t.Fatalf("GetMulti = %q (%v); want present = %v", vs, err, want)
		}
		if keys := listed(t, b, backend.ListOptions{}); (len(keys) == 1) != want {
			t.Fatalf("ListKeys = %q; want present = %v", keys, want)
		}
		if err := b.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if s := stats(t, b); (s.Entries == 1) != want {
			t.Fatalf("after Cleanup %d entries; want present = %v", s.Entries, want)
		}
	}
	clock.Advance(time.Hour)
	present(true)
	clock.Advance(time.Nanosecond)
	present(false)
}

// TestFB4EveryWriteCountsTowardCleanup: CompareAndSwap and SetMulti count
// toward the next cleanup as Set does, so a store written only through them
// still loses its expired entries (nothing failed when either left its
// writes uncounted: only Set's were tested).
func TestFB4EveryWriteCountsTowardCleanup(t *testing.T) {
	b, clock := withOneEntry(t)
	ctx := context.Background()
	clock.Advance(2 * time.Hour)
	const writes = 300 // more than one cleanup interval of writes
	for i := range writes {
		if ok, err := b.CompareAndSwap(ctx, fmt.Sprint("swapped-", i), nil, []byte("v")); !ok || err != nil {
			t.Fatalf("CompareAndSwap = %v, %v", ok, err)
		}
	}
	if s := stats(t, b); s.Entries != writes {
		t.Fatalf("%d entries after %d swaps; want the expired one removed by their cleanup", s.Entries, writes)
	}
	clock.Advance(2 * time.Hour) // the swapped entries expire
	for i := range writes {
		if err := b.SetMulti(ctx, map[string][]byte{fmt.Sprint("multi-", i): []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if s := stats(t, b); s.Entries != writes {
		t.Fatalf("%d entries after %d SetMulti calls; want the %d expired ones removed by their cleanup", s.Entries, writes, writes)
	}
}

// TestFB4FileShrinksAfterEviction: a file left large by a process with no
// bound shrinks on disk once a bounded backend has removed entries, past
// max_size or past max_age: the freed pages beyond a reserve (max_size/4, or
// 1 MiB without max_size) go back to the file system (nothing failed when the
// file was not made incremental-vacuum on creation, the vacuum never ran or
// kept a larger reserve, or a cleanup that removed only expired entries
// skipped it: TestFB4MaxSizeBoundsStore only sees a file that never grew,
// since eviction lets writes reuse the pages).
func TestFB4FileShrinksAfterEviction(t *testing.T) {
	for _, c := range []struct {
		name string
		o    file.Options
		max  int64 // the file's size after the cleanup at most
	}{
		{"max_size", file.Options{MaxSize: 256 << 10}, 2 * 256 << 10},
		{"max_age", file.Options{TTL: time.Hour}, 1<<20 + 256<<10},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := map[string][]byte{}
			for i := range 300 {
				items[fmt.Sprintf("k%d", i)] = []byte(strings.Repeat("x", 10<<10))
			}
			db := leftBehind(t, func(ctx context.Context, big *file.Backend) error { return big.SetMulti(ctx, items) })
			size := func() int64 {
				t.Helper()
				fi, err := os.Stat(db)
				if err != nil {
					t.Fatal(err)
				}
				return fi.Size()
			}
			before := size()
			c.o.Filename = db
			b, err := file.New(c.o) // evicts past max_size on opening
			if err != nil {
				t.Fatal(err)
			}
			file.SetClock(b, func() time.Time { return time.Now().Add(2 * time.Hour) })
			if err := b.Cleanup(context.Background()); err != nil { // removes all past max_age
				t.Fatal(err)
			}
			if err := b.Close(); err != nil { // the last connection checkpoints the log into the file
				t.Fatal(err)
			}
			if after := size(); after > c.max {
				t.Fatalf("the file is %d bytes after the cleanup (%d before); want at most %d", after, before, c.max)
			}
		})
	}
}
