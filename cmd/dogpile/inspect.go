package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
)

func runInvalidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("invalidate", `Usage: dogpile invalidate --hard|--soft [flags]

Invalidates every value in the region created before now, in every process
that uses it:

  --hard  the values become misses: the next caller of each key creates it
  --soft  the values become expired: one caller regenerates each key while the
          others are served the old value

The invalidation is recorded in the region's store, so the region must be
configured with shared_invalidation (cache.<region>.shared_invalidation =
true, or a refresh interval such as "30s"), in this command's configuration
and in the applications'. Processes see it with their next read, or within
the refresh interval. Without shared_invalidation an invalidation lives in
one process's memory, and this command refuses, rather than pretend. To
remove particular keys, use "dogpile delete".
`+regionHelp+`
Examples:
  dogpile invalidate --hard
  dogpile invalidate --soft --config dogpile.toml --region pages
`)
	rf := addRegionFlags(fs)
	hard := fs.Bool("hard", false, "make every value a miss")
	soft := fs.Bool("soft", false, "make every value expired (served stale while one caller regenerates it)")
	if _, err := parseArgs(fs, args, stdout, 0, ": it invalidates a whole region (to remove keys, use dogpile delete)"); err != nil {
		return err
	}
	if *hard == *soft {
		return usageErrorf("invalidate: give exactly one of --hard and --soft (see dogpile invalidate --help)")
	}
	ch, err := rf.choose()
	if err != nil {
		return err
	}
	if !ch.cfg.SharedInvalidation {
		return usageErrorf("invalidate: region %q in %s has no shared_invalidation, so an invalidation would live only in this "+
			"command's memory and end with it. Set %sshared_invalidation = true in the configuration (the applications' too), "+
			"or remove keys with dogpile delete", ch.cfg.Name, ch.source, ch.cfg.Prefix)
	}
	t, err := ch.open()
	if err != nil {
		return err
	}
	defer t.region.Close()
	how := dogpile.Soft
	if *hard {
		how = dogpile.Hard
	}
	if err := t.region.Invalidate(ctx, how); err != nil {
		return err
	}
	seen := "with their next read"
	if t.cfg.InvalidationRefresh > 0 {
		seen = fmt.Sprintf("within %v (their refresh interval)", t.cfg.InvalidationRefresh)
	}
	fmt.Fprintf(stdout, "%s: %s invalidation at %s; processes with shared_invalidation see it %s\n",
		t.describe(), how, time.Now().UTC().Format(time.RFC3339Nano), seen)
	return nil
}

// entryInfo is what inspect shows about a key.
type entryInfo struct {
	Key        string  `json:"key"`
	StoredKey  string  `json:"stored_key,omitempty"`
	Found      bool    `json:"found"`
	Created    string  `json:"created,omitempty"`
	AgeSeconds float64 `json:"age_seconds,omitempty"`
	Expiration float64 `json:"expiration_seconds,omitempty"`
	State      string  `json:"state,omitempty"`
	Size       int     `json:"size,omitempty"`
	Codec      string  `json:"codec,omitempty"`
	Format     int     `json:"format_version,omitempty"`
	Signed     bool    `json:"signed,omitempty"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", `Usage: dogpile inspect [flags] KEY

Shows the metadata of the entry stored under KEY, without decoding its value:
when it was created, its age, whether it is fresh, expired, soft- or
hard-invalidated, its size in the store, its codec and format version. It
exits with status 3 when the store holds nothing under KEY.

Invalidation states are known for regions with shared_invalidation; without
it, only expiry is.
`+regionHelp+`
Examples:
  dogpile inspect user:42
  dogpile inspect --json --config dogpile.toml --region sessions abc123
`)
	rf := addRegionFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON object")
	t, pos, err := rf.parseOpen(fs, args, stdout, 1, "one KEY")
	if err != nil {
		return err
	}
	defer t.region.Close()
	info, err := t.inspect(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, info); err != nil {
			return err
		}
	}
	if !info.Found {
		return &notFoundError{msg: fmt.Sprintf("key %q is not in %s", info.Key, t.describe()), quiet: *asJSON}
	}
	if *asJSON {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "key\t%s\n", escapeKey(info.Key))
	if info.StoredKey != "" {
		fmt.Fprintf(tw, "stored as\t%s\n", escapeKey(info.StoredKey))
	}
	fmt.Fprintf(tw, "region\t%s\n", t.describe())
	fmt.Fprintf(tw, "created\t%s\n", info.Created)
	fmt.Fprintf(tw, "age\t%s\n", roundAge(time.Duration(info.AgeSeconds*float64(time.Second))))
	if t.region.Expiration() > 0 {
		fmt.Fprintf(tw, "expiration\t%s\n", t.region.Expiration())
	} else {
		fmt.Fprintf(tw, "expiration\tnone\n")
	}
	fmt.Fprintf(tw, "state\t%s\n", info.State)
	fmt.Fprintf(tw, "size\t%d bytes\n", info.Size)
	fmt.Fprintf(tw, "codec\t%s\n", info.Codec)
	fmt.Fprintf(tw, "format\t%d\n", info.Format)
	fmt.Fprintf(tw, "signed\t%v\n", info.Signed)
	return tw.Flush()
}

func roundAge(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// inspect reads key's entry from the store as it is (through the key
// mangler, beneath the region) and asks the region what state it is in.
func (t *target) inspect(ctx context.Context, key string) (*entryInfo, error) {
	info := &entryInfo{Key: key}
	stored, err := t.region.StorageKey(key)
	if err != nil {
		return nil, err
	}
	if stored != key {
		info.StoredKey = stored
	}
	b, ok, err := t.region.Backend().Get(ctx, stored)
	if err != nil {
		return nil, fmt.Errorf("inspect %q: %w", key, err)
	}
	if !ok {
		return info, nil
	}
	md, err := dogpile.InspectEntry(b)
	if err != nil {
		return nil, fmt.Errorf("key %q holds %d bytes that are not a dogpile entry (written by something else?): %w", key, len(b), err)
	}
	age := time.Since(md.Created)
	info.Found = true
	info.Created = md.Created.UTC().Format(time.RFC3339Nano)
	info.AgeSeconds = age.Seconds()
	info.Expiration = t.region.Expiration().Seconds()
	info.Size, info.Codec, info.Format, info.Signed = md.Size, md.Codec, md.Version, md.Signed

	// The region decides what the entry is worth: a usable value, one that
	// is usable only when expiry is ignored (expired or soft-invalidated),
	// or none (hard-invalidated, or unreadable by this region).
	_, _, fresh, err := t.read(ctx, key)
	if err != nil {
		return nil, err
	}
	_, _, usable, err := t.read(ctx, key, dogpile.IgnoreExpiration())
	if err != nil {
		return nil, err
	}
	exp := t.region.Expiration()
	switch {
	case fresh && exp > 0:
		info.State = fmt.Sprintf("fresh (expires in %s)", roundAge(exp-age))
	case fresh:
		info.State = "fresh (no expiration)"
	case usable && exp > 0 && age > exp:
		info.State = fmt.Sprintf("expired %s ago (served stale while one caller regenerates it)", roundAge(age-exp))
	case usable:
		info.State = "soft-invalidated (served stale while one caller regenerates it)"
	case md.Codec != t.region.Codec().Name():
		info.State = fmt.Sprintf("unreadable by this region: written with codec %q, the region uses %q (a miss)", md.Codec, t.region.Codec().Name())
	case md.Signed:
		info.State = "unreadable by this region: signed, and this region cannot verify it (a miss)"
	default:
		info.State = "hard-invalidated (a miss: the next caller creates it)"
	}
	return info, nil
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys", `Usage: dogpile keys [flags]

Lists the region's keys, one a line: the keys that get, set and delete take.
They are the keys stored under the region's key_prefix, printed without it;
--prefix lists those that begin with it (after the key_prefix). Stores that
can list their keys (package backend's Lister) are the file backend, in key
order, Redis with SCAN (standalone, Sentinel, and every master of a Cluster),
Memcached with its LRU crawler (1.5 and later, unless started without it),
and memory.

A key is printed escaped, so that one key is one line and no byte of it
reaches the terminal as a control: a newline is \n, a backslash \\, an
escape character \x1b, a byte that is not UTF-8 \xff. --raw prints the
bytes of each key instead; --json prints a JSON array.

A region without a key_prefix lists every key of its store: other regions'
too (theirs with their key_prefix, records and all), when regions share the
store. The region's own records (invalidation records, dogpile:…) are left
out unless --all is given; --all also lists the backends' lock keys that lie
among the region's keys (with a key_prefix none does: a lock key begins with
the backend's lock prefix).

A key mangler stores keys as something else. With key_mangler = "sha1" the
stored keys are hashes, which cannot be turned back into keys, so keys
refuses (dogpile inspect KEY shows where a key is stored). On Memcached, a
key that Memcached would refuse (over 250 bytes, or with spaces) is stored
as its SHA-1 and listed as that: get, inspect and delete take it too.
`+regionHelp+`
Examples:
  dogpile keys
  dogpile keys --prefix user: --limit 20
  dogpile keys --json --config dogpile.toml --region local
`)
	rf := addRegionFlags(fs)
	prefix := fs.String("prefix", "", "list only the keys that begin with `text` (after the region's key_prefix)")
	limit := fs.Int("limit", 1000, "list at most `n` keys (0: all)")
	all := fs.Bool("all", false, "include the library's own keys and lock keys")
	asJSON := fs.Bool("json", false, "print a JSON array of keys")
	raw := fs.Bool("raw", false, "print each key's bytes as they are, not escaped")
	t, _, err := rf.parseOpen(fs, args, stdout, 0, " (a prefix is given with --prefix)")
	if err != nil {
		return err
	}
	defer t.region.Close()
	if t.cfg.KeyMangler == "sha1" {
		return fmt.Errorf("region %q stores its keys as their SHA-1 (key_mangler = \"sha1\"), which cannot be turned back into "+
			"the keys that get and set take; dogpile inspect KEY shows where one key is stored", t.cfg.Name)
	}
	l, ok := t.region.Backend().(backend.Lister)
	if !ok {
		return fmt.Errorf("the %s backend cannot list its keys; dogpile inspect KEY shows one key", t.cfg.Backend)
	}
	keys := []string{}
	n, unnamed := 0, 0
	for stored, err := range l.ListKeys(ctx, backend.ListOptions{Prefix: t.cfg.KeyPrefix + *prefix, Own: *all}) {
		if errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("the %s backend cannot list its keys here: %w", t.cfg.Backend, err)
		}
		if err != nil {
			return err
		}
		k, ok := strings.CutPrefix(stored, t.cfg.KeyPrefix)
		switch {
		case !ok:
			continue // not under the region's prefix: another region's
		case t.region.IsReservedKey(stored):
			if !*all {
				continue
			}
		case !t.reaches(k, stored):
			unnamed++
			continue
		}
		if *limit > 0 && n == *limit {
			fmt.Fprintf(stderr, "dogpile: keys: stopped at --limit %d\n", *limit)
			break
		}
		n++
		switch {
		case *asJSON:
			keys = append(keys, k)
		case *raw:
			fmt.Fprintf(stdout, "%s\n", k)
		default:
			fmt.Fprintln(stdout, escapeKey(k))
		}
	}
	if unnamed > 0 {
		fmt.Fprintf(stderr, "dogpile: keys: stored keys left out: %d, made by the region's key mangler, which cannot be turned back into keys\n", unnamed)
	}
	if *asJSON {
		return writeJSON(stdout, keys)
	}
	return nil
}

// reaches reports whether key is the region's name for the entry stored
// under stored: whether get, set and delete of key use that entry. A key
// that the region's key mangler made (a hash) is not: listed as a key, it
// would be a key of nothing.
func (t *target) reaches(key, stored string) bool {
	s, err := t.region.StorageKey(key)
	return err == nil && s == stored
}
