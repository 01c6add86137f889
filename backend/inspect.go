package backend

import (
	"context"
	"iter"
	"strings"
)

// Lister is implemented by backends that can list the keys they hold, for
// tools that look into a store, such as the dogpile command's keys. A region
// never lists keys.
type Lister interface {
	Backend
	// ListKeys yields the keys of the store that begin with opts.Prefix, at
	// most opts.Limit of them, in the order the store gives them (each
	// backend documents it), as it reads them: a listing of a large store
	// starts at once and stops when the caller stops ranging. An error ends
	// the listing; it is yielded with an empty key. A backend that can list
	// only sometimes (a proxy over one that cannot, a server that does not
	// allow it) yields an error matching errors.ErrUnsupported.
	ListKeys(ctx context.Context, opts ListOptions) iter.Seq2[string, error]
}

// ListOptions choose the keys a Lister yields.
type ListOptions struct {
	// Prefix: only the keys that begin with it ("" for all).
	Prefix string
	// Limit: at most this many keys; 0 for no limit.
	Limit int
	// Own: also the keys the backend keeps for itself in the store's key
	// space (the Redis and Memcached backends' lock keys), which are left
	// out otherwise. A key that a region stores, such as its shared
	// invalidation record, is a value to the backend: it is listed either
	// way.
	Own bool
}

// StatsReporter is implemented by backends that can report what their store
// holds and how it is used, for tools such as the dogpile command's stats.
type StatsReporter interface {
	Backend
	// StoreStats reports on the store: one Stats per part (a server of a
	// Memcached pool, a Redis Cluster's masters, a file). A part that cannot
	// be asked is a Stats with Err set; the error returned is for a report
	// that could not be made at all (errors.ErrUnsupported from a proxy
	// over a backend that does not report).
	StoreStats(ctx context.Context) ([]Stats, error)
}

// Unknown is the value of a number of Stats the store does not report.
const Unknown = -1

// Stats is what a store, or a part of one, reports about itself: a few
// numbers that most stores know, by the same names whatever the store, and
// the store's own numbers by its names.
type Stats struct {
	// Source names what reported: "redis 10.0.0.1:6379", "file
	// /var/cache/app/cache.db".
	Source string
	// Err is why Source could not be asked (a server that is down); the
	// numbers are then Unknown.
	Err error
	// Entries is the number of keys held; Bytes the bytes they take (each
	// store counts in its own way, and documents it).
	Entries, Bytes int64
	// Hits and Misses count reads that found and did not find their key,
	// and Evictions the entries removed to make room, since the store
	// started. A server shared by several applications counts them all.
	Hits, Misses, Evictions int64
	// Extra are the store's own numbers and settings, in the order it lists
	// them. Each value is an int64, a float64, a bool, a string or a
	// time.Duration.
	Extra []Stat
}

// Stat is one of a store's own numbers or settings.
type Stat struct {
	Name  string // the store's own name for it
	Value any    // an int64, a float64, a bool, a string or a time.Duration
}

// NewStats returns a Stats for source with every number Unknown.
func NewStats(source string) Stats {
	return Stats{Source: source, Entries: Unknown, Bytes: Unknown, Hits: Unknown, Misses: Unknown, Evictions: Unknown}
}

// FilterKeys applies opts to a stream of a store's keys, for a ListKeys over
// a scan that cannot apply them itself: it keeps the keys that begin with
// opts.Prefix, leaves out those for which own reports true (unless
// opts.Own; own may be nil), and stops after opts.Limit keys. An error in
// keys is passed on and ends the stream.
func FilterKeys(keys iter.Seq2[string, error], opts ListOptions, own func(key string) bool) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		n := 0
		for k, err := range keys {
			if err != nil {
				yield("", err)
				return
			}
			if !strings.HasPrefix(k, opts.Prefix) || !opts.Own && own != nil && own(k) {
				continue
			}
			if !yield(k, nil) {
				return
			}
			if n++; opts.Limit > 0 && n >= opts.Limit {
				return
			}
		}
	}
}
