package dogpile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/dogpile-go/dogpile/internal/envelope"
)

// Tags tags the values a call creates or stores, so that InvalidateTags can
// later invalidate every value carrying one of them — everything about user
// 42, say — without knowing their keys:
//
//	dogpile.GetOrCreate(ctx, region, "profile:42", loadProfile, dogpile.Tags("user:42"))
//	dogpile.GetOrCreate(ctx, region, "feed:42", loadFeed, dogpile.Tags("user:42", "org:7"))
//	region.InvalidateTags(ctx, dogpile.Hard, "user:42") // both are misses now
//
// It applies to GetOrCreate, GetOrCreateMulti (every value it creates),
// Region.Set and SetMulti, and, given to Cached or CachedMulti, to every
// value of the function (TagsFunc tags by argument). Given to a read (Get,
// GetMulti), it names the tags the values read are expected to carry: under
// SharedInvalidation their records are then read in the same round trip as
// the values. Several Tags options add up. A tag is any string.
//
// Make the tags once when they don't change (a package-level
// var userTags = dogpile.Tags("users")): each call of Tags allocates its
// list when the call it is given to keeps it.
func Tags(tags ...string) Option { return Option{tags: tags} }

// TagsFunc tags each value of a cached function (Cached, CachedMulti) with
// the tags tagsOf returns for its argument, in addition to any Tags:
//
//	profile := dogpile.Cached(region, loadProfile,
//		dogpile.TagsFunc(func(id UserID) []string { return []string{"user:" + id.String()} }))
//
// A is the argument type of the function it is given to (Cached panics
// otherwise, as with KeyFunc). tagsOf is called when a value is created or
// stored, and, under SharedInvalidation, before each read, so that the tags'
// records come with the value in one round trip; a hit on an in-process
// invalidation strategy does not call it. It is a CachedOption: other calls
// than Cached and CachedMulti don't take it.
func TagsFunc[A any](tagsOf func(A) []string) CachedOption {
	return typedOption[A]{tagsOf: tagsOf}
}

// InvalidateTags invalidates every value in the region carrying one of tags
// (see Tags): Hard makes them misses, Soft makes them expired (served stale
// while one caller regenerates each), as Invalidate does for the whole
// region. Values created afterwards carry the tags anew and are served
// normally. The cost is per tag, not per value: no key is looked up or
// deleted.
//
// With the default in-process invalidation strategy (and with a custom
// one), a tag's invalidation is this process's, like Invalidate's: values
// created before the tag's last invalidation, by this process's clock, are
// invalidated; the process keeps one small record per tag it invalidated.
// Under SharedInvalidation it reaches every process sharing the backend, with
// the guarantees of the region's shared invalidation:
//
//   - Each tag has a record of two generations, hard and soft, stored under
//     "dogpile:tag:<region name>:<tag>" (ReservedKeyPrefix; the region's key
//     prefix and key mangler apply; in the region's name and the tag, "%",
//     "#", spaces and control characters, and in the name ":", are written
//     %XX, and a tag longer than 128 bytes is written "#" and 32
//     hexadecimal digits of its SHA-256). InvalidateTags adds one to a
//     counter of each tag's record with the backend's compare-and-swap (a
//     read and a swap: two round trips per tag), so that two processes
//     invalidating one tag at once both count.
//   - Each entry carries its tags' names with the generations its writer had
//     read before the value was made, and is invalidated when a tag's
//     record has moved past them: no host's clock takes part, and a value
//     whose creation overlapped the tag's invalidation is invalid.
//   - Under WithSigning a tag's record is signed like the region's, and a
//     record not signed by an accepted key is ignored and counted as
//     EventRejected.
//   - Reading a tagged value reads its tags' records too: those the call
//     names (with Tags, or a cached function's tags) in the same round trip
//     as the value on backends that read many keys at once (Redis,
//     Memcached, the file backend), and any other tags the entry carries in
//     one more round trip. With SharedInvalidation(refresh > 0), each tag's
//     record is read at most once per refresh interval per process, as the
//     region's record is: reads then cost nothing extra, and another
//     process's tag invalidation takes up to the interval to be seen.
//   - A process keeps the generations of every tag it has seen invalidated
//     (and, with a refresh interval, remembers for the interval which tags
//     have no record), so that a tag record lost from the store loses no
//     invalidation for the processes that saw it.
//
// A value not tagged when it was made carries no tags: tag every call that
// creates a value you will want to invalidate by tag. InvalidateTags with no
// tags does nothing.
func (r *Region) InvalidateTags(ctx context.Context, how Invalidation, tags ...string) error {
	s, err := r.configured()
	if err != nil {
		return err
	}
	if how != Hard && how != Soft {
		return &ArgError{Name: "how", Value: how, Reason: "want dogpile.Hard or dogpile.Soft"}
	}
	if how == Hard {
		defer r.hardEpoch.Add(1) // once it is made (see lock.Batch.Epoch)
	}
	return r.write(s, r.invalidateTagOps(s, how, tags), func() error {
		err := s.tags.invalidate(ctx, how, tags)
		if errors.Is(err, ErrBackend) {
			err = s.wrap("invalidate_tags", "", err)
		}
		return err
	})
}

// tagTable is a region's knowledge of its tags' invalidations: per tag, its
// record's generations (under SharedInvalidation) or the times it was last
// invalidated in this process. A tag absent from it has never been seen
// invalidated.
type tagTable struct {
	shared *sharedInvalidation // nil: tags are invalidated in this process, by time
	r      *Region
	region string // the region's name as it appears in tag record keys
	states *xsync.Map[string, *tagState]
	// absent, with a refresh interval: the tags read and found without a
	// record, and when to read each again. Dropping one only costs a read.
	absent  *xsync.Map[string, int64]
	sweepAt atomic.Int64
	// epoch moves after every change of a tag's state, so that an entry
	// whose tags were all found valid at the current epoch needs no other
	// look (entryTags.valid): a hit on a tagged value then costs two atomic
	// loads more than an untagged one.
	epoch atomic.Uint64
}

// tagState is what a process knows of one tag.
type tagState struct {
	record                   // under SharedInvalidation: the tag's record
	local  localInvalidation // otherwise: the tag's last invalidation times
	// nextRead, with a refresh interval: when to read the record again.
	nextRead atomic.Int64
}

// entryTags are the tags a stored value carries, shared by every read of
// the value.
type entryTags struct {
	list []envelope.Tag
	// valid is 1 + the table epoch at which no tag was found invalidated
	// (0: never checked).
	valid atomic.Uint64
}

// minSweep is the number of remembered tag-less tags below which none is
// forgotten.
const minSweep = 4096

func newTagTable(r *Region, shared *sharedInvalidation) *tagTable {
	return &tagTable{shared: shared, r: r, region: escapeTagKey(r.name, true),
		states: xsync.NewMap[string, *tagState](), absent: xsync.NewMap[string, int64]()}
}

// escapeTagKey writes s for a record key: "%", "#", spaces and control
// characters (and, in the region's name, the ":" that ends it) as %XX, so
// that the key is valid on every backend and no two names share one.
func escapeTagKey(s string, region bool) string {
	esc := func(c byte) bool { return c <= ' ' || c == 0x7f || c == '%' || c == '#' || region && c == ':' }
	n := 0
	for i := range len(s) {
		if esc(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	const hexDigits = "0123456789ABCDEF"
	for i := range len(s) {
		if c := s[i]; esc(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maxTagInKey is the longest tag written as it is in its record's key;
// longer ones are hashed, so that a key stays within Memcached's 250 bytes.
const maxTagInKey = 128

// recordKey is the storage key of tag's record.
func (t *tagTable) recordKey(tag string) string {
	part := escapeTagKey(tag, false)
	if len(part) > maxTagInKey {
		sum := sha256.Sum256([]byte(tag))
		part = "#" + hex.EncodeToString(sum[:16])
	}
	return t.r.reservedStorageKey(ReservedKeyPrefix + "tag:" + t.region + ":" + part)
}

// state returns tag's state, making it if there is none.
func (t *tagTable) state(tag string) *tagState {
	if st, ok := t.states.Load(tag); ok {
		return st
	}
	st, _ := t.states.LoadOrCompute(tag, func() (*tagState, bool) {
		st := &tagState{local: localInvalidation{clock: t.r.clock}}
		st.record.key, st.record.tag = t.recordKey(tag), tag
		return st, false
	})
	return st
}

func (t *tagTable) invalidate(ctx context.Context, how Invalidation, tags []string) error {
	for _, tag := range tags {
		st := t.state(tag)
		if t.shared == nil {
			st.local.Invalidate(ctx, how) //nolint:errcheck // how is checked
			t.epoch.Add(1)
			continue
		}
		raised, err := t.shared.bump(ctx, &st.record, how)
		if raised {
			t.epoch.Add(1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check decides whether the tags of a value created at created invalidate
// it.
func (t *tagTable) check(et *entryTags, created int64) Invalidation {
	epoch := t.epoch.Load() + 1 // before the states: a change after this read moves it
	if et.valid.Load() == epoch {
		return NotInvalidated
	}
	inv := NotInvalidated
	for i := range et.list {
		tg := &et.list[i]
		st, ok := t.states.Load(tg.Name)
		if !ok {
			continue
		}
		if t.shared != nil {
			inv = max(inv, st.invalidated(tg.Gens))
		} else {
			inv = max(inv, st.local.check(created))
		}
	}
	if inv == NotInvalidated {
		et.valid.Store(epoch)
	}
	return inv
}

// collectTags merges p's tags into o (see collect): Tags options add up.
func collectTags(o, p *callOptions) {
	switch {
	case p.tags == nil:
	case o.tags == nil:
		o.tags = p.tags
	default:
		o.tags = append(o.tags[:len(o.tags):len(o.tags)], p.tags...)
	}
	if p.keyTags != nil {
		o.keyTags = p.keyTags
	}
}

// tagsOf returns the tags a write under o gives the value stored under the
// storage key k: o's Tags and, from a cached function's TagsFunc, k's own;
// nil for none.
func tagsOf(o *callOptions, k string) []string {
	if o.keyTags == nil {
		return o.tags
	}
	own := o.keyTags[k]
	if len(o.tags) == 0 {
		return own
	}
	return append(o.tags[:len(o.tags):len(o.tags)], own...)
}

// stamp returns the tags to write with a value tagged with names, sorted and
// without repeats, each with the generations of its record as this process
// knows them.
func (t *tagTable) stamp(names []string) []envelope.Tag {
	if len(names) == 0 {
		return nil
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	out := make([]envelope.Tag, len(names))
	for i, n := range names {
		out[i].Name = n
		if t.shared != nil {
			if st, ok := t.states.Load(n); ok {
				out[i].Gens = st.current()
			}
		}
	}
	return out
}

// writeTags is what a write under o records of its values' tags: the same
// tags for every key, or, with a cached function's TagsFunc, each key's.
type writeTags struct {
	all   []envelope.Tag
	byKey map[string][]envelope.Tag // by storage key; nil: all for every key
}

func (t *tagTable) writeTags(o *callOptions) writeTags {
	if o == nil {
		return writeTags{}
	}
	if o.keyTags == nil {
		return writeTags{all: t.stamp(o.tags)}
	}
	w := writeTags{byKey: make(map[string][]envelope.Tag, len(o.keyTags))}
	for k := range o.keyTags {
		w.byKey[k] = t.stamp(tagsOf(o, k))
	}
	w.all = t.stamp(o.tags) // keys without tags of their own
	return w
}

// list returns the tags of the value stored under the storage key k.
func (w *writeTags) list(k string) []envelope.Tag {
	if w.byKey != nil {
		if own, ok := w.byKey[k]; ok {
			return own
		}
	}
	return w.all
}

// of returns the tags of the Go value stored under the storage key k, nil
// for none.
func (w *writeTags) of(k string) *entryTags {
	if tags := w.list(k); len(tags) > 0 {
		return &entryTags{list: tags}
	}
	return nil
}

// recordReads are the records a read or a write must fetch before it can
// trust what it knows: the region's invalidation record (under
// SharedInvalidation(0)) and the tags' records that are due.
type recordReads struct {
	region  string   // the region's record's key; "" if not to be read
	tags    []string // the tags whose records the call reads: tags[:read] are read
	tagKeys []string // their keys
	read    int
}

// any reports whether rr has records to read.
func (rr *recordReads) any() bool { return rr.region != "" || len(rr.tags) > rr.read }

// len is the number of records to read.
func (rr *recordReads) len() int {
	n := len(rr.tags) - rr.read
	if rr.region != "" {
		n++
	}
	return n
}

// keys appends the keys of the records to read to dst: the region's first,
// then the tags', in order.
func (rr *recordReads) keys(dst []string) []string {
	if rr.region != "" {
		dst = append(dst, rr.region)
	}
	return append(dst, rr.tagKeys[rr.read:]...)
}

// callTags returns every tag o names: its Tags, and its keys' own.
func callTags(o *callOptions) []string {
	if o == nil || o.keyTags == nil {
		if o == nil {
			return nil
		}
		return o.tags
	}
	all := slices.Clone(o.tags)
	for _, ts := range o.keyTags {
		all = append(all, ts...)
	}
	return all
}

// records returns the records a call under o reads beside its values.
func (s *regionState) records(o *callOptions) recordReads {
	var rr recordReads
	if s.shared != nil {
		rr.region = s.shared.key
	}
	if s.tags.shared != nil {
		rr.plan(s.tags, callTags(o))
	}
	return rr
}

// plan adds the records of tags that are due to rr.
func (rr *recordReads) plan(t *tagTable, tags []string) {
	for _, tag := range tags {
		rr.planTag(t, tag)
	}
}

// planTag adds tag's record to rr if it is due and not read already.
func (rr *recordReads) planTag(t *tagTable, tag string) {
	if slices.Contains(rr.tags, tag) || !t.due(tag) {
		return
	}
	rr.tags = append(rr.tags, tag)
	if st, ok := t.states.Load(tag); ok {
		rr.tagKeys = append(rr.tagKeys, st.key)
	} else {
		rr.tagKeys = append(rr.tagKeys, t.recordKey(tag))
	}
}

// due reports whether tag's record is to be read now: always without a
// refresh interval; with one, once per interval, by the first caller to ask.
func (t *tagTable) due(tag string) bool {
	refresh := int64(t.shared.refresh)
	if refresh <= 0 {
		return true
	}
	now := t.r.clock.Coarse()
	if st, ok := t.states.Load(tag); ok {
		next := st.nextRead.Load()
		return now >= next && st.nextRead.CompareAndSwap(next, now+refresh)
	}
	due := true
	t.absent.Compute(tag, func(next int64, loaded bool) (int64, xsync.ComputeOp) {
		if loaded && now < next {
			due = false
			return next, xsync.CancelOp
		}
		return now + refresh, xsync.UpdateOp
	})
	if due {
		t.sweep(now)
	}
	return due
}

// sweep forgets the tag-less tags whose interval is over, once there are
// many: they are read again when next asked about.
func (t *tagTable) sweep(now int64) {
	n := int64(t.absent.Size())
	at := t.sweepAt.Load()
	if n < max(at, minSweep) || !t.sweepAt.CompareAndSwap(at, 2*n) {
		return
	}
	t.absent.Range(func(tag string, next int64) bool {
		if next <= now {
			t.absent.Delete(tag)
		}
		return true
	})
}

// apply takes what the store holds under rr's keys (raw[i] for the i-th,
// nil where it holds nothing): the records are read.
func (s *regionState) apply(rr *recordReads, raw [][]byte) {
	if len(raw) != rr.len() {
		return
	}
	if rr.region != "" {
		s.shared.load(raw[0])
		raw = raw[1:]
	}
	t := s.tags
	for i, tag := range rr.tags[rr.read:] {
		if raw[i] == nil {
			continue // never invalidated, or lost: what the process has seen stands
		}
		st := t.state(tag)
		if t.shared.refresh > 0 {
			st.nextRead.Store(t.r.clock.Coarse() + int64(t.shared.refresh))
		}
		if t.shared.loadRecord(&st.record, raw[i]) {
			t.epoch.Add(1)
		}
	}
	rr.region, rr.read = "", len(rr.tags)
}

// fetch reads rr's records, in one round trip where the backend can.
func (s *regionState) fetch(ctx context.Context, rr *recordReads) error {
	if !rr.any() {
		return nil
	}
	keys := rr.keys(make([]string, 0, rr.len()))
	raw := make([][]byte, len(keys))
	if s.multi != nil && len(keys) > 1 {
		got, err := s.multi.GetMulti(ctx, keys)
		if err != nil {
			return &BackendError{Backend: "invalidation", Op: "get_multi", Key: keys[0], Err: err}
		}
		raw = got
	} else {
		for i, k := range keys {
			b, ok, err := s.backend.Get(ctx, k)
			if err != nil {
				return &BackendError{Backend: "invalidation", Op: "get", Key: k, Err: err}
			}
			if ok {
				raw[i] = b
			}
		}
	}
	s.apply(rr, raw)
	return nil
}

// complete reads, in one round trip, the records of the tags of the entries
// read that the call has not read yet and that are due, so that checking
// the entries' state (regionState.state) trusts what it knows of each.
func (s *regionState) complete(ctx context.Context, rr *recordReads, tags ...*entryTags) error {
	if s.tags.shared == nil {
		return nil
	}
	for _, et := range tags {
		if et == nil {
			continue
		}
		for i := range et.list {
			rr.planTag(s.tags, et.list[i].Name)
		}
	}
	return s.fetch(ctx, rr)
}
