package tmplcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/tmpltest"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// The tests run every behaviour on both template packages (tmpltest.Engines)
// and on every backend of the table below, as subtests named engine/backend.

// backend makes a configured region for one test. reads counts the reads
// that reach the store (Get or GetValue), so a test can tell when every
// caller has looked for a fragment.
type store struct {
	name      string
	newRegion func(t *testing.T, reads *atomic.Int64, copts ...dogpile.ConfigOption) *dogpile.Region
}

// backends are the stores every behaviour is tested on: memory holds Go
// values, memory_serialized holds the encoded envelope as a byte store does.
// redis (a server shared by the tests, each with keys of its own) and
// memcached (a server per test) are real servers, with the cross-process
// lock (see servers_test.go).
var backends = []store{
	{name: "memory", newRegion: registered("memory", nil)},
	{name: "memory_serialized", newRegion: registered("memory_serialized", nil)},
	{name: "redis", newRegion: registered("redis", redisArgs, ownKeys)},
	{name: "memcached", newRegion: registered("memcached", memcachedArgs)},
}

// registered returns a newRegion for the backend registered under name, with
// args.
func registered(name string, args func(t *testing.T) dogpile.Args, ropts ...func(t *testing.T) dogpile.RegionOption) func(*testing.T, *atomic.Int64, ...dogpile.ConfigOption) *dogpile.Region {
	return func(t *testing.T, reads *atomic.Int64, copts ...dogpile.ConfigOption) *dogpile.Region {
		t.Helper()
		opts := []dogpile.ConfigOption{dogpile.WithExpiration(time.Hour)}
		if args != nil {
			opts = append(opts, dogpile.WithArguments(args(t)))
		}
		opts = append(opts, copts...)
		if reads != nil {
			opts = append(opts, dogpile.WithWrap(countReads(reads)))
		}
		ro := []dogpile.RegionOption{dogpile.WithName("frags")}
		for _, o := range ropts {
			ro = append(ro, o(t))
		}
		r, err := dogpile.NewRegion(ro...).Configure(name, opts...)
		if err != nil {
			t.Fatalf("Configure(%q): %v", name, err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
}

// eachCase runs f for every engine on every backend.
func eachCase(t *testing.T, f func(t *testing.T, e tmpltest.Engine, b store)) {
	t.Helper()
	for _, e := range tmpltest.Engines {
		for _, b := range backends {
			t.Run(e.Name+"/"+b.name, func(t *testing.T) { f(t, e, b) })
		}
	}
}

// eachBackend runs f on every backend.
func eachBackend(t *testing.T, f func(t *testing.T, b store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// fixture is a region "frags", a Cache over it, and a template set with a
// counting fragment.
type fixture struct {
	region  *dogpile.Region
	cache   *tmplcache.Cache
	page    tmpltest.Executor
	renders atomic.Int64 // executions of {{renders}}, i.e. fragment renders
	reads   atomic.Int64 // reads reaching the store
}

// funcs are the test's template functions: renders counts and numbers the
// fragment's renders, so an output shows which render it came from.
func (f *fixture) funcs() map[string]any {
	return map[string]any{"renders": func() int64 { return f.renders.Add(1) }}
}

// setup builds a fixture: src is parsed after the fragment
//
//	{{define "frag"}}<p>{{.Name}} #{{renders}}</p>{{end}}
func setup(t *testing.T, e tmpltest.Engine, b store, src string, copts ...dogpile.ConfigOption) *fixture {
	t.Helper()
	f := &fixture{}
	f.region = b.newRegion(t, &f.reads, copts...)
	f.cache = tmplcache.New(map[string]*dogpile.Region{"frags": f.region})
	var err error
	f.page, err = e.Parse(f.cache, f.funcs(), `{{define "frag"}}<p>{{.Name}} #{{renders}}</p>{{end}}`+src)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

// user is the data of the test pages.
type user struct {
	ID   int
	Name string
}

// exec executes the page, failing the test on an error.
func exec(t *testing.T, p tmpltest.Executor, data any) string {
	t.Helper()
	s, err := tmpltest.Try(p, data)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return s
}

// stored returns the raw string under key in r (marker included).
func stored(t *testing.T, r *dogpile.Region, key string) (string, bool) {
	t.Helper()
	v, ok, err := dogpile.Get[string](context.Background(), r, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

// countReads is a proxy counting the reads that reach the backend. It keeps
// the optional interfaces a region uses for single-key calls: backend.Values
// (memory) and backend.Locking (the cross-process lock of server backends).
func countReads(n *atomic.Int64) dogpile.Proxy {
	return func(next dogpile.Backend) dogpile.Backend {
		c := counting{Backend: next, n: n}
		if v, ok := next.(backend.Values); ok {
			return countingValues{counting: c, v: v}
		}
		if m, ok := next.(backend.Locking); ok {
			return countingMutexes{counting: c, m: m}
		}
		return c
	}
}

type counting struct {
	dogpile.Backend
	n *atomic.Int64
}

func (c counting) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.n.Add(1)
	return c.Backend.Get(ctx, key)
}

type countingValues struct {
	counting
	v backend.Values
}

func (c countingValues) GetValue(ctx context.Context, key string) (any, bool, error) {
	c.n.Add(1)
	return c.v.GetValue(ctx, key)
}

func (c countingValues) SetValue(ctx context.Context, key string, value any) error {
	return c.v.SetValue(ctx, key, value)
}

type countingMutexes struct {
	counting
	m backend.Locking
}

func (c countingMutexes) Mutex(key string) lock.Mutex { return c.m.Mutex(key) }
