package tmplcache_test

import (
	"context"
	"errors"
	htmltemplate "html/template"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/tmpltest"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// T1 A cached fragment renders once per key; later renders come from the
// region.
func TestT1FragmentRendersOncePerKey(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		f := setup(t, e, b, `[{{cached "frags" "frag" .ID .}}]`)
		ann := user{ID: 1, Name: "ann"}
		if got, want := exec(t, f.page, ann), "[<p>ann #1</p>]"; got != want {
			t.Fatalf("first execution = %q, want %q", got, want)
		}
		if got, want := exec(t, f.page, ann), "[<p>ann #1</p>]"; got != want {
			t.Fatalf("second execution = %q, want %q (the first render, from the region)", got, want)
		}
		// Another key is another fragment.
		if got, want := exec(t, f.page, user{ID: 2, Name: "bob"}), "[<p>bob #2</p>]"; got != want {
			t.Fatalf("key 2 = %q, want %q", got, want)
		}
		// Same key, other data: the key decides, and the region answers.
		if got, want := exec(t, f.page, user{ID: 1, Name: "changed"}), "[<p>ann #1</p>]"; got != want {
			t.Fatalf("key 1 with other data = %q, want %q from the region", got, want)
		}
		if n := f.renders.Load(); n != 2 {
			t.Fatalf("%d renders, want 2 (one per key)", n)
		}
		// The region holds the fragment under the documented key.
		v, ok := stored(t, f.region, "tmplcache:"+e.Name+":frag|1")
		if want := "tmplcache/1 " + e.Name + "\n<p>ann #1</p>"; !ok || v != want {
			t.Fatalf("region holds %q (found %v), want %q", v, ok, want)
		}
	})
}

// T1: a stampede on a cold fragment renders it once (the dogpile lock).
func TestT1StampedeRendersOnce(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		const n = 20
		f := &fixture{}
		f.region = b.newRegion(t, &f.reads)
		f.cache = tmplcache.New(map[string]*dogpile.Region{"frags": f.region})
		release := make(chan struct{})
		funcs := map[string]any{"slow": func() int64 {
			<-release // until every caller has found the fragment missing
			return f.renders.Add(1)
		}}
		page, err := e.Parse(f.cache, funcs, `{{define "frag"}}slow #{{slow}}{{end}}{{cached "frags" "frag" 7}}`)
		if err != nil {
			t.Fatal(err)
		}
		outs := make(chan string, n)
		errs := make(chan error, n)
		for range n {
			go func() {
				s, err := tmpltest.Try(page, nil)
				if err != nil {
					errs <- err
					return
				}
				outs <- s
			}()
		}
		testutil.Eventually(t, "every caller's read", func() bool { return f.reads.Load() >= n })
		close(release)
		for range n {
			select {
			case s := <-outs:
				if s != "slow #1" {
					t.Errorf("a caller got %q, want %q", s, "slow #1")
				}
			case err := <-errs:
				t.Errorf("a caller failed: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("timed out waiting for the callers")
			}
		}
		if r := f.renders.Load(); r != 1 {
			t.Fatalf("%d callers rendered the cold fragment, want 1", r)
		}
	})
}

// T2 Expiry applies to fragments: the region's expiration, and cachedFor's
// per call.
func TestT2ExpiryAppliesToFragments(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		t.Run("region", func(t *testing.T) {
			f := setup(t, e, b, `{{cached "frags" "frag" .ID .}}`, dogpile.WithExpiration(time.Nanosecond))
			exec(t, f.page, user{ID: 1, Name: "ann"})
			if got, want := exec(t, f.page, user{ID: 1, Name: "ann"}), "<p>ann #2</p>"; got != want {
				t.Fatalf("after the region's expiration: %q, want %q (rendered again)", got, want)
			}
		})
		t.Run("cachedFor", func(t *testing.T) {
			f := setup(t, e, b, `{{if .Short}}{{cachedFor "frags" "1ns" "frag" .U.ID .U}}{{else}}{{cachedFor "frags" 3600 "frag" .U.ID .U}}{{end}}`)
			type call struct {
				Short bool
				U     user
			}
			ann := user{ID: 1, Name: "ann"}
			exec(t, f.page, call{Short: true, U: ann})
			if got, want := exec(t, f.page, call{Short: true, U: ann}), "<p>ann #2</p>"; got != want {
				t.Fatalf("past a 1ns expiration: %q, want %q (rendered again)", got, want)
			}
			// The same fragment is fresh for an hour: the expiration is the
			// call's, nothing of it is stored.
			if got, want := exec(t, f.page, call{U: ann}), "<p>ann #2</p>"; got != want {
				t.Fatalf("within 3600s: %q, want %q", got, want)
			}
		})
		t.Run("cachedFor 0 never expires", func(t *testing.T) {
			f := setup(t, e, b, `{{cachedFor "frags" 0 "frag" .ID .}}`, dogpile.WithExpiration(time.Nanosecond))
			exec(t, f.page, user{ID: 1, Name: "ann"})
			if got, want := exec(t, f.page, user{ID: 1, Name: "ann"}), "<p>ann #1</p>"; got != want {
				t.Fatalf("with cachedFor 0 in a region whose values expire at once: %q, want %q", got, want)
			}
		})
	})
}

// T2 Invalidation applies to fragments: one fragment (Cache.Invalidate), or
// the whole region, hard or soft.
func TestT2InvalidationAppliesToFragments(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		ctx := context.Background()
		f := setup(t, e, b, `{{cached "frags" "frag" .ID .}}`)
		ann, bob := user{ID: 1, Name: "ann"}, user{ID: 2, Name: "bob"}
		exec(t, f.page, ann) // #1
		exec(t, f.page, bob) // #2

		if err := f.cache.Invalidate(ctx, "frags", "frag", 1); err != nil {
			t.Fatal(err)
		}
		if got, want := exec(t, f.page, ann), "<p>ann #3</p>"; got != want {
			t.Fatalf("after Cache.Invalidate of key 1: %q, want %q", got, want)
		}
		if got, want := exec(t, f.page, bob), "<p>bob #2</p>"; got != want {
			t.Fatalf("key 2 after Cache.Invalidate of key 1: %q, want %q (untouched)", got, want)
		}

		if err := f.region.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		if got, want := exec(t, f.page, bob), "<p>bob #4</p>"; got != want {
			t.Fatalf("after a hard invalidation: %q, want %q", got, want)
		}

		if err := f.region.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		// Soft: expired, so the caller that finds it renders it again (other
		// callers meanwhile would be served the old one).
		if got, want := exec(t, f.page, ann), "<p>ann #5</p>"; got != want {
			t.Fatalf("after a soft invalidation: %q, want %q", got, want)
		}
		if got, want := exec(t, f.page, ann), "<p>ann #5</p>"; got != want {
			t.Fatalf("after the re-render: %q, want %q from the region", got, want)
		}
	})
}

// xss is user data that html/template must escape.
const (
	xss        = `<script>alert("x")</script>`
	xssEscaped = `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`
)

// T3 In html/template, data is escaped whether the fragment comes from the
// cache or not.
func TestT3DataEscapedCachedOrNot(t *testing.T) {
	eachBackend(t, func(t *testing.T, b store) {
		f := setup(t, tmpltest.HTML, b, `{{if .Cached}}{{cached "frags" "frag" .U.ID .U}}{{else}}{{template "frag" .U}}{{end}}`)
		type call struct {
			Cached bool
			U      user
		}
		u := user{ID: 1, Name: xss}
		rendered := exec(t, f.page, call{Cached: true, U: u}) // render #1, stored
		fromCache := exec(t, f.page, call{Cached: true, U: u})
		if f.renders.Load() != 1 {
			t.Fatalf("%d renders, want 1: the second execution must come from the region", f.renders.Load())
		}
		want := "<p>" + xssEscaped + " #1</p>"
		if rendered != want || fromCache != want {
			t.Fatalf("rendered %q, from the cache %q; want both %q", rendered, fromCache, want)
		}
		// html/template's own rendering of the template, uncached.
		if plain := exec(t, f.page, call{U: u}); plain != "<p>"+xssEscaped+" #2</p>" {
			t.Fatalf("uncached {{template}} = %q: the fragment must escape as it does", plain)
		}
		// What is stored is the escaped form.
		if v, _ := stored(t, f.region, "tmplcache:html:frag|1"); strings.Contains(v, "<script") || !strings.Contains(v, xssEscaped) {
			t.Fatalf("region holds %q, want the escaped fragment", v)
		}
	})
}

// T3: a value under a fragment key that tmplcache did not write for
// html/template — another writer's string, a text/template fragment, a
// value of another type — is never returned as HTML: it is rendered anew.
func TestT3ForeignValueNotTrustedAsHTML(t *testing.T) {
	eachBackend(t, func(t *testing.T, b store) {
		for _, c := range []struct {
			name  string
			value any
		}{
			{"string", xss},
			{"text fragment", "tmplcache/1 text\n" + xss},
			{"older format", "tmplcache/0 html\n" + xss},
			{"other type", 42},
		} {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				f := setup(t, tmpltest.HTML, b, `{{cached "frags" "frag" .ID .}}`)
				const key = "tmplcache:html:frag|1"
				if err := f.region.Set(ctx, key, c.value); err != nil {
					t.Fatal(err)
				}
				if got, want := exec(t, f.page, user{ID: 1, Name: "ann"}), "<p>ann #1</p>"; got != want {
					t.Fatalf("with %#v stored under %q: %q, want %q", c.value, key, got, want)
				}
				if v, _ := stored(t, f.region, key); v != "tmplcache/1 html\n<p>ann #1</p>" {
					t.Fatalf("region holds %q, want the rendered fragment in place of the foreign value", v)
				}
			})
		}
	})
}

// T3: text/template does not escape, so its fragments are kept apart from
// html/template's (in keys and markers): one Cache and region serve both,
// and html/template's stays escaped.
func TestT3TextFragmentsKeptApartFromHTML(t *testing.T) {
	eachBackend(t, func(t *testing.T, b store) {
		r := b.newRegion(t, nil)
		c := tmplcache.New(map[string]*dogpile.Region{"frags": r})
		const src = `{{define "frag"}}<p>{{.}}</p>{{end}}{{cached "frags" "frag" 1 .}}`
		text := texttemplate.Must(c.BindText(texttemplate.New("page")).Parse(src))
		html := htmltemplate.Must(c.BindHTML(htmltemplate.New("page")).Parse(src))
		if got, want := exec(t, text, xss), "<p>"+xss+"</p>"; got != want {
			t.Fatalf("text/template: %q, want %q", got, want)
		}
		if got, want := exec(t, html, xss), "<p>"+xssEscaped+"</p>"; got != want {
			t.Fatalf("html/template after text/template cached the same name and key: %q, want %q", got, want)
		}
		if got, want := exec(t, text, "other"), "<p>"+xss+"</p>"; got != want {
			t.Fatalf("text/template from the region: %q, want %q", got, want)
		}
	})
}

// T3: the fragment is HTML for HTML text; placed in another context,
// html/template escapes it there as any template.HTML value.
func TestT3FragmentInAttributeIsEscaped(t *testing.T) {
	f := setup(t, tmpltest.HTML, backends[0], `<div title="{{cached "frags" "frag" .ID .}}">`)
	got := exec(t, f.page, user{ID: 1, Name: xss})
	exec(t, f.page, user{ID: 1, Name: xss}) // and from the region
	if got2 := exec(t, f.page, user{ID: 1, Name: xss}); got2 != got || strings.Contains(got, "<p>") || strings.Contains(got, "<script") {
		t.Fatalf("in an attribute: %q then %q; want no tags", got, got2)
	}
}

// T4 An unknown region name is an execution error naming it.
func TestT4UnknownRegionIsExecutionError(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		for _, src := range []string{
			`{{cached "nosuch" "frag" 1 .}}`,
			`{{cachedFor "nosuch" "1m" "frag" 1 .}}`,
		} {
			f := setup(t, e, b, src)
			_, err := tmpltest.Try(f.page, user{ID: 1, Name: "ann"})
			if !errors.Is(err, tmplcache.ErrUnknownRegion) || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(err.Error(), "frags") {
				t.Fatalf("%s: error %v, want ErrUnknownRegion naming \"nosuch\" and the known regions", src, err)
			}
			var ee texttemplate.ExecError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: error %T is not a template execution error", src, err)
			}
			if f.renders.Load() != 0 {
				t.Fatalf("%s: the fragment was rendered", src)
			}
		}
		c := tmplcache.New(map[string]*dogpile.Region{"frags": b.newRegion(t, nil)})
		if err := c.Invalidate(context.Background(), "nosuch", "frag", 1); !errors.Is(err, tmplcache.ErrUnknownRegion) {
			t.Fatalf("Invalidate on an unknown region: %v, want ErrUnknownRegion", err)
		}
	})
}

// An unknown template name is an execution error naming it, even when the
// region holds a fragment under its key.
func TestUnknownTemplateIsExecutionError(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		f := setup(t, e, b, `{{cached "frags" "nosuch" 1 .}}`)
		if err := f.region.Set(context.Background(), "tmplcache:"+e.Name+":nosuch|1", "tmplcache/1 "+e.Name+"\nstale"); err != nil {
			t.Fatal(err)
		}
		_, err := tmpltest.Try(f.page, nil)
		if !errors.Is(err, tmplcache.ErrUnknownTemplate) || !strings.Contains(err.Error(), `"nosuch"`) {
			t.Fatalf("error %v, want ErrUnknownTemplate naming \"nosuch\"", err)
		}
	})
}

// Mistakes in the arguments are execution errors naming the argument.
func TestArgumentErrors(t *testing.T) {
	for _, e := range tmpltest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			for _, c := range []struct{ src, want string }{
				{`{{cached "frags" "frag" .Map .}}`, `"key"`},
				{`{{cached "frags" "frag" .Nil .}}`, `"key"`},
				{`{{cached "frags" "a|b" 1 .}}`, `"template name"`},
				{`{{cachedFor "frags" "soon" "frag" 1 .}}`, `"cachedFor expiration"`},
				{`{{cachedFor "frags" "-1m" "frag" 1 .}}`, `"cachedFor expiration"`},
				{`{{cachedFor "frags" .Nil "frag" 1 .}}`, `"cachedFor expiration"`},
				{`{{cached "frags" "frag" 1 . .}}`, `"cached"`},
			} {
				f := setup(t, e, backends[0], `{{define "a|b"}}x{{end}}`+c.src)
				_, err := tmpltest.Try(f.page, map[string]any{"Map": map[string]int{}, "Nil": nil})
				if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: error %v, want ErrInvalidArgument naming %s", c.src, err, c.want)
				}
			}
		})
	}
}

// Keys are rendered as dogpile.Cached renders scalar arguments.
func TestKeyRendering(t *testing.T) {
	type userID int64
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, c := range []struct {
		key  any
		want string
	}{
		{"a b", "a b"},
		{42, "42"},
		{userID(-7), "-7"},
		{uint8(3), "3"},
		{true, "true"},
		{1.5, "1.5"},
		{float32(0.1), "0.1"},
		{at, "2024-05-06T07:08:09Z"},
	} {
		f := setup(t, tmpltest.Text, backends[0], `{{cached "frags" "frag" .Key .}}`)
		exec(t, f.page, map[string]any{"Key": c.key, "Name": "x"})
		if _, ok := stored(t, f.region, "tmplcache:text:frag|"+c.want); !ok {
			t.Errorf("key %#v: nothing stored under %q", c.key, "tmplcache:text:frag|"+c.want)
		}
	}
}

// A fragment that fails to render is an execution error, and nothing is
// stored: the next execution renders it again.
func TestRenderErrorNotCached(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		f := &fixture{}
		f.region = b.newRegion(t, nil)
		f.cache = tmplcache.New(map[string]*dogpile.Region{"frags": f.region})
		boom := errors.New("boom")
		funcs := map[string]any{"flaky": func() (int64, error) {
			if n := f.renders.Add(1); n > 1 {
				return n, nil
			}
			return 0, boom
		}}
		page, err := e.Parse(f.cache, funcs, `{{define "frag"}}#{{flaky}}{{end}}{{cached "frags" "frag" 1}}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpltest.Try(page, nil); !errors.Is(err, boom) || !strings.Contains(err.Error(), `"frag"`) {
			t.Fatalf("error %v, want the fragment's error, naming it", err)
		}
		if got := exec(t, page, nil); got != "#2" {
			t.Fatalf("after a failed render: %q, want %q", got, "#2")
		}
	})
}

// The data argument is optional: the fragment then executes with nil data.
func TestNoDataArgument(t *testing.T) {
	for _, e := range tmpltest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			f := setup(t, e, backends[0], `{{define "static"}}static {{.}} #{{renders}}{{end}}{{cached "frags" "static" "k"}}{{cached "frags" "static" "k"}}`)
			if got, want := exec(t, f.page, "data"), map[string]string{"html": "static  #1static  #1", "text": "static <no value> #1static <no value> #1"}[e.Name]; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// Templates parsed into the set after binding are found: a fragment is
// looked up when the call executes.
func TestTemplatesAddedAfterBindingAreFound(t *testing.T) {
	c := tmplcache.New(map[string]*dogpile.Region{"frags": backends[0].newRegion(t, nil)})
	page := texttemplate.Must(c.BindText(texttemplate.New("page")).Parse(`{{cached "frags" "late" 1}}`))
	if _, err := tmpltest.Try(page, nil); !errors.Is(err, tmplcache.ErrUnknownTemplate) {
		t.Fatalf("before \"late\" is defined: %v, want ErrUnknownTemplate", err)
	}
	texttemplate.Must(page.New("late").Parse("late fragment"))
	if got := exec(t, page, nil); got != "late fragment" {
		t.Fatalf("got %q", got)
	}
}

// A clone executes its own definitions once bound; keys name templates, so
// the clones here use keys of their own.
func TestCloneIsBoundToItsOwnSet(t *testing.T) {
	c := tmplcache.New(map[string]*dogpile.Region{"frags": backends[0].newRegion(t, nil)})
	base := htmltemplate.Must(c.BindHTML(htmltemplate.New("page")).Parse(`{{define "frag"}}base{{end}}{{cached "frags" "frag" .}}`))
	unbound := htmltemplate.Must(htmltemplate.Must(base.Clone()).Parse(`{{define "frag"}}clone{{end}}`))
	bound := htmltemplate.Must(c.BindHTML(htmltemplate.Must(base.Clone())).Parse(`{{define "frag"}}clone{{end}}`))
	for _, x := range []struct {
		name string
		t    *htmltemplate.Template
		key  string
		want string
	}{
		{"bound clone", bound, "b", "clone"},
		{"unbound clone (executes base's set)", unbound, "u", "base"},
		{"base", base, "base", "base"},
	} {
		if got := exec(t, x.t, x.key); got != x.want {
			t.Errorf("%s: %q, want %q", x.name, got, x.want)
		}
	}
}

// WithTimeout bounds a fragment: one that includes itself under its own key
// waits for itself, and fails instead of hanging.
func TestWithTimeoutBoundsSelfInclusion(t *testing.T) {
	r := backends[0].newRegion(t, nil)
	c := tmplcache.New(map[string]*dogpile.Region{"frags": r}, tmplcache.WithTimeout(50*time.Millisecond))
	page := texttemplate.Must(c.BindText(texttemplate.New("page")).Parse(`{{define "loop"}}[{{cached "frags" "loop" 1}}]{{end}}{{cached "frags" "loop" 1}}`))
	if _, err := tmpltest.Try(page, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
}

// New copies the region map, and rejects nil regions.
func TestNew(t *testing.T) {
	regions := map[string]*dogpile.Region{"frags": backends[0].newRegion(t, nil)}
	c := tmplcache.New(regions)
	delete(regions, "frags")
	page := texttemplate.Must(c.BindText(texttemplate.New("page")).Parse(`{{define "f"}}ok{{end}}{{cached "frags" "f" 1}}`))
	if got := exec(t, page, nil); got != "ok" {
		t.Fatalf("after the caller's map changed: %q", got)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `"bad"`) {
			t.Fatalf("New with a nil region: panic %v, want one naming it", p)
		}
	}()
	tmplcache.New(map[string]*dogpile.Region{"bad": nil})
}

// Executions of one bound set run concurrently (go test -race).
func TestConcurrentExecution(t *testing.T) {
	eachCase(t, func(t *testing.T, e tmpltest.Engine, b store) {
		f := setup(t, e, b, `{{cached "frags" "frag" .ID .}}`)
		var wg sync.WaitGroup
		var bad atomic.Int32
		for i := range 8 {
			wg.Go(func() {
				for j := range 20 {
					u := user{ID: (i + j) % 4, Name: "u"}
					if s, err := tmpltest.Try(f.page, u); err != nil || !strings.HasPrefix(s, "<p>u #") {
						bad.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 || f.renders.Load() != 4 {
			t.Fatalf("%d bad executions, %d renders; want 0 and 4 (one per key)", bad.Load(), f.renders.Load())
		}
	})
}

// stuck is a store whose every read returns the same bytes and which ignores
// writes and deletes: something keeps putting a foreign value back.
type stuck struct{ b []byte }

func (s stuck) Get(context.Context, string) ([]byte, bool, error) { return s.b, true, nil }
func (stuck) Set(context.Context, string, []byte) error           { return nil }
func (stuck) Delete(context.Context, string) error                { return nil }

// A foreign value that comes back after it was deleted is an error, never
// HTML.
func TestForeignValueThatStaysIsAnError(t *testing.T) {
	ctx := context.Background()
	src := backends[1].newRegion(t, nil) // memory_serialized: a real entry's bytes
	if err := src.Set(ctx, "k", xss); err != nil {
		t.Fatal(err)
	}
	raw, _, err := src.Backend().Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := dogpile.NewRegion(dogpile.WithName("frags")).ConfigureBackend(stuck{raw})
	if err != nil {
		t.Fatal(err)
	}
	c := tmplcache.New(map[string]*dogpile.Region{"frags": r})
	page := htmltemplate.Must(c.BindHTML(htmltemplate.New("page")).Parse(`{{define "frag"}}ok{{end}}{{cached "frags" "frag" 1}}`))
	out, err := tmpltest.Try(page, nil)
	if !errors.Is(err, tmplcache.ErrForeignValue) || !strings.Contains(err.Error(), `"tmplcache:html:frag|1"`) {
		t.Fatalf("error %v, want ErrForeignValue naming the key", err)
	}
	if strings.Contains(out, "<script") {
		t.Fatalf("output %q holds the foreign value", out)
	}
}
