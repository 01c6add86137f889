package tmplcache_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/tmpltest"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// These tests run on memory_serialized (the envelope as a byte store holds
// it) under a clock that moves only when told; the integration module runs
// the same behaviours on every backend.

var errBoom = errors.New("boom")

// deletes is a proxy that counts the deletes reaching the store and, when
// fail or keep is set, fails them or ignores them (something keeps writing
// the key back).
type deletes struct {
	n    atomic.Int64
	fail bool
	keep bool
}

func (d *deletes) proxy(next dogpile.Backend) dogpile.Backend { return deleting{next, d} }

type deleting struct {
	dogpile.Backend
	d *deletes
}

func (p deleting) Delete(ctx context.Context, key string) error {
	p.d.n.Add(1)
	switch {
	case p.d.fail:
		return errBoom
	case p.d.keep:
		return nil
	}
	return p.Backend.Delete(ctx, key)
}

// fixture is a region "frags" (values expire after an hour) on a test
// clock, a Cache over it, and a count of fragment renders.
type fixture struct {
	clock   *testutil.Clock
	deletes deletes
	region  *dogpile.Region
	cache   *tmplcache.Cache
	renders atomic.Int64
}

func newFixture(t *testing.T, opts ...tmplcache.Option) *fixture {
	t.Helper()
	f := &fixture{clock: testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	r, err := dogpile.NewRegion(dogpile.WithName("frags"), dogpile.WithClock(f.clock.Now)).
		Configure("memory_serialized", dogpile.WithExpiration(time.Hour), dogpile.WithWrap(f.deletes.proxy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f.region = r
	f.cache = tmplcache.New(map[string]*dogpile.Region{"frags": r}, opts...)
	return f
}

// fragDef is the fragment the tests cache: its data and the number of its
// render, so an output shows which render it came from.
const fragDef = `{{define "frag"}}<p>{{.}} #{{renders}}</p>{{end}}`

// page parses src after fragDef into a set bound to f's Cache.
func (f *fixture) page(t *testing.T, e tmpltest.Engine, src string) tmpltest.Executor {
	t.Helper()
	return parse(t, e, f.cache, map[string]any{"renders": func() int64 { return f.renders.Add(1) }}, fragDef+src)
}

// parse parses src with e, failing the test on a parse error.
func parse(t *testing.T, e tmpltest.Engine, c *tmplcache.Cache, funcs map[string]any, src string) tmpltest.Executor {
	t.Helper()
	p, err := e.Parse(c, funcs, src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, p tmpltest.Executor, data any) string {
	t.Helper()
	s, err := tmpltest.Try(p, data)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return s
}

// stored is the string the region holds under key, marker included.
func (f *fixture) stored(t *testing.T, key string) (string, bool) {
	t.Helper()
	v, ok, err := dogpile.Get[string](context.Background(), f.region, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

// A fragment is rendered once per template name and key, with the call's
// data, and stored under tmplcache:<package>:<name>|<key> behind its
// package's marker; later executions are served from the region.
func TestFragmentIsStoredUnderItsKeyAndServed(t *testing.T) {
	for _, e := range tmpltest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			f := newFixture(t)
			p := f.page(t, e, `{{cached "frags" "frag" .ID .Name}}`)
			type user struct {
				ID   int
				Name string
			}
			for _, c := range []struct {
				u    user
				want string
			}{
				{user{1, "ann"}, "<p>ann #1</p>"},
				{user{1, "bob"}, "<p>ann #1</p>"}, // same key: served, whatever the data
				{user{2, "bob"}, "<p>bob #2</p>"},
				{user{1, "cy"}, "<p>ann #1</p>"},
			} {
				if got := run(t, p, c.u); got != c.want {
					t.Errorf("Execute(%+v) = %q, want %q", c.u, got, c.want)
				}
			}
			key := "tmplcache:" + e.Name + ":frag|1"
			if v, ok := f.stored(t, key); !ok || v != "tmplcache/1 "+e.Name+"\n<p>ann #1</p>" {
				t.Errorf("the region holds %q, %v under %q; want the fragment behind the %s marker", v, ok, key, e.Name)
			}
		})
	}
}

// The same template name and key in html/template and text/template are two
// fragments: a text fragment is not escaped, and is never served as HTML,
// even when it is found under the HTML fragment's key.
func TestHTMLAndTextFragmentsAreKeptApart(t *testing.T) {
	f := newFixture(t)
	html := f.page(t, tmpltest.HTML, `{{cached "frags" "frag" 1 .}}`)
	text := f.page(t, tmpltest.Text, `{{cached "frags" "frag" 1 .}}`)
	if got, want := run(t, text, "<b>"), "<p><b> #1</p>"; got != want {
		t.Fatalf("text: %q, want %q", got, want)
	}
	if got, want := run(t, html, "<b>"), "<p>&lt;b&gt; #2</p>"; got != want {
		t.Fatalf("html after text: %q, want %q (a fragment of its own, escaped)", got, want)
	}
	// A text fragment copied under the HTML key is foreign there.
	textValue, _ := f.stored(t, "tmplcache:text:frag|1")
	if err := f.region.Set(context.Background(), "tmplcache:html:frag|2", textValue); err != nil {
		t.Fatal(err)
	}
	html2 := f.page(t, tmpltest.HTML, `{{cached "frags" "frag" 2 .}}`)
	if got, want := run(t, html2, "<i>"), "<p>&lt;i&gt; #3</p>"; got != want {
		t.Errorf("html over a text fragment under its key: %q, want %q (rendered anew)", got, want)
	}
}

// A value under a fragment key that tmplcache did not write for that
// package is deleted once and the fragment rendered in its place; if it is
// still there afterwards, the execution fails with ErrForeignValue; if it
// cannot be deleted, with the store's error. It is never output.
func TestForeignValueUnderAFragmentKey(t *testing.T) {
	const key = "tmplcache:html:frag|1"
	const xss = "<script>alert(1)</script>"
	for _, c := range []struct {
		name       string
		keep, fail bool
		want       string // the output, if no error
		wantErr    error
	}{
		{name: "deleted and rendered", want: "<p>ann #1</p>"},
		{name: "stays", keep: true, wantErr: tmplcache.ErrForeignValue},
		{name: "cannot be deleted", fail: true, wantErr: errBoom},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.region.Set(context.Background(), key, xss); err != nil {
				t.Fatal(err)
			}
			f.deletes.keep, f.deletes.fail = c.keep, c.fail
			out, err := tmpltest.Try(f.page(t, tmpltest.HTML, `{{cached "frags" "frag" 1 .}}`), "ann")
			if strings.Contains(out, "<script") || (err != nil && strings.Contains(err.Error(), "<script")) {
				t.Fatalf("the foreign value was output: %q, %v", out, err)
			}
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), key) {
					t.Fatalf("error %v; want %v naming %q", err, c.wantErr, key)
				}
			} else if err != nil || out != c.want {
				t.Fatalf("Execute = %q, %v; want %q", out, err, c.want)
			}
			if n := f.deletes.n.Load(); n != 1 {
				t.Errorf("%d deletes; want the foreign value deleted once", n)
			}
		})
	}
}

// A fragment expires with the region's expiration; cachedFor's replaces it
// for that call: a Go duration, a number of seconds, or 0 for never.
func TestFragmentExpiration(t *testing.T) {
	for _, e := range tmpltest.Engines {
		for _, c := range []struct {
			call     string
			fresh    time.Duration // still served this long after it was made
			rendered time.Duration // rendered again this long after
		}{
			{`{{cached "frags" "frag" 1 "x"}}`, 59 * time.Minute, 61 * time.Minute},
			{`{{cachedFor "frags" "1m" "frag" 1 "x"}}`, 59 * time.Second, 61 * time.Second},
			{`{{cachedFor "frags" 7200 "frag" 1 "x"}}`, 119 * time.Minute, 121 * time.Minute},
			{`{{cachedFor "frags" 0 "frag" 1 "x"}}`, 1000 * time.Hour, -1},
		} {
			t.Run(e.Name+"/"+c.call, func(t *testing.T) {
				f := newFixture(t)
				p := f.page(t, e, c.call)
				run(t, p, nil)
				f.clock.Advance(c.fresh)
				if got, want := run(t, p, nil), "<p>x #1</p>"; got != want {
					t.Fatalf("%v after: %q, want %q (served)", c.fresh, got, want)
				}
				if c.rendered < 0 {
					return
				}
				f.clock.Advance(c.rendered - c.fresh)
				if got, want := run(t, p, nil), "<p>x #2</p>"; got != want {
					t.Fatalf("%v after: %q, want %q (rendered again)", c.rendered, got, want)
				}
			})
		}
	}
}

// textKey is a TextMarshaler whose text is its value, or an error.
type textKey string

func (k textKey) MarshalText() ([]byte, error) {
	if k == "" {
		return nil, errBoom
	}
	return []byte("text:" + k), nil
}

// A key is rendered as dogpile.Cached renders a scalar argument, so that
// every process agrees on it.
func TestKeyRendering(t *testing.T) {
	for _, c := range []struct {
		key  any
		want string
	}{
		{"s p|ce", "s p|ce"},
		{true, "true"},
		{false, "false"},
		{-42, "-42"},
		{int8(-8), "-8"},
		{int64(1) << 40, "1099511627776"},
		{uint(10), "10"},
		{uint8(255), "255"},
		{uint64(1<<64 - 1), "18446744073709551615"},
		{0.1, "0.1"},
		{float32(0.1), "0.1"},
		{1234.5678, "1234.5678"},
		{1e21, "1e+21"},
		{textKey("a"), "text:a"},
		{netip.MustParseAddr("10.0.0.1"), "10.0.0.1"},
		{time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), "2026-03-04T05:06:07Z"},
	} {
		f := newFixture(t) // a region of its own: 0.1 and float32(0.1) must each make "0.1"
		p := f.page(t, tmpltest.Text, `{{define "k"}}v{{end}}{{cached "frags" "k" .}}`)
		if got := run(t, p, c.key); got != "v" {
			t.Fatalf("key %#v: %q", c.key, got)
		}
		if _, ok := f.stored(t, "tmplcache:text:k|"+c.want); !ok {
			t.Errorf("key %#v (%T): nothing stored under %q", c.key, c.key, "tmplcache:text:k|"+c.want)
		}
	}
}

// Arguments that cannot make a fragment are an execution error matching
// dogpile.ErrInvalidArgument that says what is wrong, and render nothing.
func TestArgumentErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		data      any
		want      string
	}{
		{"expiration", `{{cachedFor "frags" "soon" "frag" 1}}`, nil, `"cachedFor expiration" = "soon"`},
		{"two data arguments", `{{cached "frags" "frag" 1 . .}}`, nil, "at most one data argument"},
		{"| in the template name", `{{define "a|b"}}x{{end}}{{cached "frags" "a|b" 1}}`, nil, `contains "|"`},
		{"struct key", `{{cached "frags" "frag" .}}`, struct{ A int }{1}, "not struct { A int }"},
		{"slice key", `{{cached "frags" "frag" .}}`, []int{1}, "not []int"},
		{"nil pointer key", `{{cached "frags" "frag" .}}`, (*netip.Addr)(nil), "(*netip.Addr)(nil): a nil pointer has no text"},
		{"MarshalText fails", `{{cached "frags" "frag" .}}`, textKey(""), "tmplcache_test.textKey.MarshalText: boom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := tmpltest.Try(f.page(t, tmpltest.Text, c.src), c.data)
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want dogpile.ErrInvalidArgument saying %s", err, c.want)
			}
			if n := f.renders.Load(); n != 0 {
				t.Errorf("%d renders", n)
			}
		})
	}
}

// A region or template name the Cache or set does not have is an execution
// error that names it, and what there is.
func TestUnknownRegionAndTemplate(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	c := tmplcache.New(map[string]*dogpile.Region{"frags": f.region, "alpha": other.region})
	p, err := c.BindText(texttemplate.New("page")).Parse(`{{define "frag"}}x{{end}}{{cached .Region .Name 1}}`)
	if err != nil {
		t.Fatal(err)
	}
	type call struct{ Region, Name string }
	if got := run(t, p, call{"alpha", "frag"}); got != "x" {
		t.Errorf("region alpha: %q", got)
	}
	_, err = tmpltest.Try(p, call{"beta", "frag"})
	if !errors.Is(err, tmplcache.ErrUnknownRegion) || !strings.Contains(err.Error(), `"beta" (regions: alpha, frags)`) {
		t.Errorf("unknown region: %v; want ErrUnknownRegion naming it and listing the regions", err)
	}
	_, err = tmpltest.Try(p, call{"frags", "missing"})
	if !errors.Is(err, tmplcache.ErrUnknownTemplate) || !strings.Contains(err.Error(), `"missing": no such template is associated with "page"`) {
		t.Errorf("unknown template: %v; want ErrUnknownTemplate naming it and the set", err)
	}
}

// A render that fails is an execution error wrapping the template's error,
// and nothing is stored: the next execution renders again.
func TestRenderErrorIsReturnedAndNotCached(t *testing.T) {
	for _, e := range tmpltest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			f := newFixture(t)
			var calls atomic.Int64
			p := parse(t, e, f.cache, map[string]any{"flaky": func() (string, error) {
				if calls.Add(1) == 1 {
					return "", errBoom
				}
				return "ok", nil
			}}, `{{define "frag"}}partial {{flaky}}{{end}}{{cached "frags" "frag" 1}}`)
			if out, err := tmpltest.Try(p, nil); !errors.Is(err, errBoom) || strings.Contains(out, "partial") {
				t.Fatalf("failing render: %q, %v; want an error wrapping the template's and no output", out, err)
			}
			if _, ok := f.stored(t, "tmplcache:"+e.Name+":frag|1"); ok {
				t.Fatal("a failed render was stored")
			}
			if got := run(t, p, nil); got != "partial ok" {
				t.Errorf("after a failed render: %q, want %q", got, "partial ok")
			}
		})
	}
}

// Invalidate deletes the fragment of both packages under one template name
// and key, and no other.
func TestInvalidateDeletesOneFragmentOfBothPackages(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	html := f.page(t, tmpltest.HTML, `{{cached "frags" "frag" . "h"}}`)
	text := f.page(t, tmpltest.Text, `{{cached "frags" "frag" . "t"}}`)
	for _, key := range []int{1, 2} {
		run(t, html, key)
		run(t, text, key)
	}
	if err := f.cache.Invalidate(ctx, "frags", "frag", 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    tmpltest.Executor
		key  int
		want string
	}{
		{html, 1, "<p>h #5</p>"},
		{text, 1, "<p>t #6</p>"},
		{html, 2, "<p>h #3</p>"},
		{text, 2, "<p>t #4</p>"},
	} {
		if got := run(t, c.p, c.key); got != c.want {
			t.Errorf("key %d after invalidating key 1: %q, want %q", c.key, got, c.want)
		}
	}
}

func TestInvalidateErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.cache.Invalidate(ctx, "nope", "frag", 1); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	if err := f.cache.Invalidate(ctx, "frags", "frag", []int{1}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("a key of no rendering: %v", err)
	}
	if err := f.cache.Invalidate(ctx, "frags", "a|b", 1); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("a template name with |: %v", err)
	}
	f.deletes.fail = true
	if err := f.cache.Invalidate(ctx, "frags", "frag", 1); !errors.Is(err, errBoom) || !strings.Contains(err.Error(), `"tmplcache:html:frag|1"`) {
		t.Errorf("the store fails: %v; want its error, naming the key", err)
	}
}

// New copies the map it is given, and refuses a nil region.
func TestNewCopiesTheRegions(t *testing.T) {
	f := newFixture(t)
	regions := map[string]*dogpile.Region{"frags": f.region}
	c := tmplcache.New(regions)
	regions["late"] = f.region
	delete(regions, "frags")
	p, err := c.BindText(texttemplate.New("page")).Parse(`{{define "frag"}}x{{end}}{{cached . "frag" 1}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tmpltest.Try(p, "frags"); err != nil || got != "x" {
		t.Errorf("a region deleted from the map after New: %q, %v; want it still there", got, err)
	}
	if _, err := tmpltest.Try(p, "late"); !errors.Is(err, tmplcache.ErrUnknownRegion) {
		t.Errorf("a region added to the map after New: %v; want ErrUnknownRegion", err)
	}
}

func TestNewPanicsOnANilRegion(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `region "b" is nil`) {
			t.Errorf("recovered %v; want a panic naming the nil region", r)
		}
	}()
	tmplcache.New(map[string]*dogpile.Region{"b": nil})
}

// WithTimeout turns a fragment that includes itself under its own key,
// which waits for itself, into an execution error.
func TestWithTimeoutBoundsSelfInclusion(t *testing.T) {
	f := newFixture(t, tmplcache.WithTimeout(20*time.Millisecond))
	p := f.page(t, tmpltest.Text, `{{define "loop"}}{{cached "frags" "loop" 1}}{{end}}{{cached "frags" "loop" 1}}`)
	done := make(chan error, 1)
	go func() { _, err := tmpltest.Try(p, nil); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a fragment including itself: %v; want the timeout's error", err)
		}
	case <-time.After(time.Minute): // a hang detector, far beyond the timeout
		t.Fatal("a fragment including itself still waits, a minute after its timeout")
	}
}
