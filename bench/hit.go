package bench

import (
	"context"
	"strconv"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/maypok86/otter/v2"
)

// HitLib is a row of workload 1, the memory hit: a library's hit on one hot
// key, written the way its users write it for a loader of a user ID.
type HitLib struct {
	Name string
	Note string
	// New returns the call for a user ID and a function that releases the
	// cache. Every row loads with LoadUser and has a one-hour expiry,
	// but for the baselines (the floor: no expiry check at all).
	New func() (get func(ctx context.Context, id int) (string, error), closeFn func(), err error)
}

// HitUser is the ID workload 1 reads.
const HitUser = 123456

// LoadUser is the loader of workload 1: a top-level function, as a loader
// usually is.
func LoadUser(_ context.Context, id int) (string, error) { return "user-" + strconv.Itoa(id), nil }

// loadUserByKey is LoadUser for the libraries keyed by string.
func loadUserByKey(ctx context.Context, _ string) (string, error) { return LoadUser(ctx, HitUser) }

// staticCreate is a creator that captures nothing: the non-capturing row.
func staticCreate(ctx context.Context) (string, error) { return LoadUser(ctx, HitUser) }

// HitLibs are the rows of workload 1. The dogpile rows are its four ways to
// write the call: the natural one first (a key built per call and a
// creator closure over the ID), then the closure-free GetOrCreateArg, a
// cached function, and a constant key with a creator that captures nothing.
// otter is keyed by the ID, as its users would key it, and, in a second
// row, by the dogpile rows' string key; the other libraries take a constant
// string key through the Cache of the other workloads.
var HitLibs = []HitLib{
	{Name: "dogpile", Note: `GetOrCreate(ctx, r, "user:"+strconv.Itoa(id), func(ctx) { return LoadUser(ctx, id) }): the natural call, a key built per call and a closure over the ID`,
		New: func() (func(context.Context, int) (string, error), func(), error) {
			r, err := hitRegion()
			return func(ctx context.Context, id int) (string, error) {
				return dogpile.GetOrCreate(ctx, r, "user:"+strconv.Itoa(id), func(ctx context.Context) (string, error) { return LoadUser(ctx, id) })
			}, func() { r.Close() }, err
		}},
	{Name: "dogpile-arg", Note: `GetOrCreateArg(ctx, r, "user:"+strconv.Itoa(id), id, LoadUser): the same key, and a creator that needs no closure`,
		New: func() (func(context.Context, int) (string, error), func(), error) {
			r, err := hitRegion()
			return func(ctx context.Context, id int) (string, error) {
				return dogpile.GetOrCreateArg(ctx, r, "user:"+strconv.Itoa(id), id, LoadUser)
			}, func() { r.Close() }, err
		}},
	{Name: "dogpile-cached", Note: "Cached(r, LoadUser).Call(ctx, id): the key is the function's name and the ID",
		New: func() (func(context.Context, int) (string, error), func(), error) {
			r, err := hitRegion()
			if err != nil {
				return nil, nil, err
			}
			return dogpile.Cached(r, LoadUser).Call, func() { r.Close() }, nil
		}},
	{Name: "dogpile-static", Note: `GetOrCreate(ctx, r, "key", create) with a constant key and a creator that captures nothing: the region's own cost`,
		New: func() (func(context.Context, int) (string, error), func(), error) {
			r, err := hitRegion()
			return func(ctx context.Context, _ int) (string, error) {
				return dogpile.GetOrCreate(ctx, r, "key", staticCreate)
			}, func() { r.Close() }, err
		}},
	{Name: "otter", Note: "otter v2 Cache[int, string].Get(ctx, id, loader), RefreshWriting(1h), no expiry",
		New: func() (func(context.Context, int) (string, error), func(), error) {
			c, err := otter.New(&otter.Options[int, string]{RefreshCalculator: otter.RefreshWriting[int, string](time.Hour)})
			if err != nil {
				return nil, nil, err
			}
			loader := otter.LoaderFunc[int, string](LoadUser)
			return func(ctx context.Context, id int) (string, error) { return c.Get(ctx, id, loader) }, func() { c.StopAllGoroutines() }, nil
		}},
	{Name: "otter-strkey", Note: `otter v2 Cache[string, string].Get(ctx, "user:"+strconv.Itoa(id), loader): otter keyed as the dogpile rows are, for the cost of building the key`,
		New: func() (func(context.Context, int) (string, error), func(), error) {
			c, err := otter.New(&otter.Options[string, string]{RefreshCalculator: otter.RefreshWriting[string, string](time.Hour)})
			if err != nil {
				return nil, nil, err
			}
			loader := otter.LoaderFunc[string, string](loadUserByKey)
			return func(ctx context.Context, id int) (string, error) { return c.Get(ctx, "user:"+strconv.Itoa(id), loader) }, func() { c.StopAllGoroutines() }, nil
		}},
}

func init() {
	// The other libraries, through the Cache of the other workloads, on a
	// constant key.
	for _, lib := range MemoryLibs {
		if lib.Name == "dogpile" || lib.Name == "dogpile-async" || lib.Name == "otter" {
			continue
		}
		HitLibs = append(HitLibs, HitLib{Name: lib.Name, Note: lib.Note, New: func() (func(context.Context, int) (string, error), func(), error) {
			cfg := Config{Load: loadUserByKey, TTL: time.Hour}
			if lib.Name == "map-rwmutex-sf" || lib.Name == "syncmap-sf" {
				cfg.TTL = 0 // the floor: no expiry check at all
			}
			c, err := lib.New(cfg)
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context, _ int) (string, error) { return c.Get(ctx, "key") }, c.Close, nil
		}})
	}
}

func hitRegion() (*dogpile.Region, error) {
	return dogpile.NewRegion(dogpile.WithName("bench")).Configure("memory", dogpile.WithExpiration(time.Hour))
}
