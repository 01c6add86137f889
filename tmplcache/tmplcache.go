package tmplcache

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"maps"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/dogpile-go/dogpile"
)

// The names of the template functions that BindHTML and BindText add.
const (
	// FuncCached is {{cached REGION NAME KEY [DATA]}}: the template NAME
	// executed with DATA, cached in REGION under KEY with the region's
	// expiration.
	FuncCached = "cached"
	// FuncCachedFor is {{cachedFor REGION EXPIRATION NAME KEY [DATA]}}:
	// cached with EXPIRATION for this call in place of the region's.
	FuncCachedFor = "cachedFor"
)

// Errors of template execution, wrapped with detail; test for them with
// errors.Is on the error Execute returns.
var (
	// ErrUnknownRegion: the region name is not one the Cache was given.
	ErrUnknownRegion = errors.New("tmplcache: unknown region")
	// ErrUnknownTemplate: no template of that name is associated with the
	// bound template.
	ErrUnknownTemplate = errors.New("tmplcache: unknown template")
	// ErrForeignValue: the region holds, under a fragment's key, a value that
	// tmplcache did not write for that template package, and still does
	// after it was deleted once (something else keeps writing the key).
	ErrForeignValue = errors.New("tmplcache: foreign value under a fragment key")
)

// Cache renders named templates once per key and region and serves the
// rendered fragments from the region afterwards. It is immutable once made
// and safe for concurrent use; one Cache can be bound to any number of
// template sets of either package.
type Cache struct {
	regions map[string]*dogpile.Region
	names   string // the region names, sorted, for errors
	timeout time.Duration
}

// Option configures a Cache.
type Option func(*Cache)

// WithTimeout bounds how long one fragment may take to be read or created:
// waiting for the dogpile lock, the backend and the rendering. Templates have
// no context.Context, so without it a fragment waits as long as its region's
// creator does (see dogpile.WithCreationTimeout). It also turns a fragment
// that includes itself under the same key — which waits for itself — into an
// execution error instead of a hang. Zero (the default) means no bound.
func WithTimeout(d time.Duration) Option { return func(c *Cache) { c.timeout = d } }

// New returns a Cache over regions, Python dogpile.cache's region dictionary: a template
// names a region by its key in the map. The map is copied. New panics if a
// region is nil: that is a programming error, found once.
func New(regions map[string]*dogpile.Region, opts ...Option) *Cache {
	c := &Cache{regions: maps.Clone(regions)}
	if c.regions == nil {
		c.regions = map[string]*dogpile.Region{}
	}
	for name, r := range c.regions {
		if r == nil {
			panic(fmt.Sprintf("tmplcache.New: region %q is nil", name))
		}
	}
	c.names = strings.Join(slices.Sorted(maps.Keys(c.regions)), ", ")
	for _, o := range opts {
		o(c)
	}
	return c
}

// BindHTML adds the functions "cached" and "cachedFor" to t's function map,
// bound to t's template set, and returns t. Call it before parsing (parsing
// needs the function names); templates parsed into the set later are found,
// since a fragment is looked up by name when it is executed:
//
//	t := template.Must(cache.BindHTML(template.New("page")).Parse(src))
//
// A fragment is the named template executed on its own by html/template,
// which escapes it for HTML text, and is returned as template.HTML for that
// reason alone (see the package documentation).
//
// The functions are bound to t's set, and Clone copies function values: a
// clone executes the fragments of t's set until it is bound itself —
// cache.BindHTML(template.Must(t.Clone())).
func (c *Cache) BindHTML(t *htmltemplate.Template) *htmltemplate.Template {
	lookup := lookupIn(t.Lookup, t.Name())
	return t.Funcs(htmltemplate.FuncMap{
		FuncCached: func(region, name string, key any, data ...any) (htmltemplate.HTML, error) {
			s, err := c.fragment(kindHTML, lookup, region, false, nil, name, key, data)
			return htmltemplate.HTML(s), err // trusted: html/template escaped it (package doc)
		},
		FuncCachedFor: func(region string, expiration any, name string, key any, data ...any) (htmltemplate.HTML, error) {
			s, err := c.fragment(kindHTML, lookup, region, true, expiration, name, key, data)
			return htmltemplate.HTML(s), err
		},
	})
}

// lookupIn is how a binding finds the fragment a call names: the template
// of that name in the set of the template named set, by its Lookup.
func lookupIn[T interface {
	comparable
	Execute(io.Writer, any) error
}](lookup func(name string) T, set string) func(name string) (renderer, error) {
	return func(name string) (renderer, error) {
		var none T
		ft := lookup(name)
		if ft == none {
			return nil, unknownTemplate(name, set)
		}
		return ft.Execute, nil
	}
}

// BindText is BindHTML for text/template: the fragment is returned as a
// string, as text/template writes it.
func (c *Cache) BindText(t *texttemplate.Template) *texttemplate.Template {
	lookup := lookupIn(t.Lookup, t.Name())
	return t.Funcs(texttemplate.FuncMap{
		FuncCached: func(region, name string, key any, data ...any) (string, error) {
			return c.fragment(kindText, lookup, region, false, nil, name, key, data)
		},
		FuncCachedFor: func(region string, expiration any, name string, key any, data ...any) (string, error) {
			return c.fragment(kindText, lookup, region, true, expiration, name, key, data)
		},
	})
}

// Invalidate deletes one fragment — the template name's under key, of both
// template packages — from the named region; the next execution renders it
// again. To invalidate every fragment of a region, use the region's own
// Invalidate.
func (c *Cache) Invalidate(ctx context.Context, region, name string, key any) error {
	r, err := c.region(region)
	if err != nil {
		return err
	}
	keys := make([]string, 0, 2)
	for _, k := range []kind{kindHTML, kindText} {
		fk, err := fragmentKey(k, name, key)
		if err != nil {
			return err
		}
		keys = append(keys, fk)
	}
	if err := r.DeleteMulti(ctx, keys); err != nil {
		return fmt.Errorf("tmplcache: invalidate %q key %q in region %q: %w", name, keys[0], region, err)
	}
	return nil
}

func (c *Cache) region(name string) (*dogpile.Region, error) {
	if r, ok := c.regions[name]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w %q (regions: %s)", ErrUnknownRegion, name, c.names)
}

func unknownTemplate(name, set string) error {
	return fmt.Errorf("%w %q: no such template is associated with %q", ErrUnknownTemplate, name, set)
}

// renderer executes a template (Template.Execute of either package).
type renderer func(w io.Writer, data any) error

// fragment is the body of the template functions: the fragment from the
// region, rendered through GetOrCreate when there is none. hasExpiration
// tells cachedFor (with expiration) from cached.
func (c *Cache) fragment(k kind, lookup func(string) (renderer, error), regionName string, hasExpiration bool, expiration any, name string, key any, data []any) (string, error) {
	fn := FuncCached
	if hasExpiration {
		fn = FuncCachedFor
	}
	r, err := c.region(regionName)
	if err != nil {
		return "", err
	}
	var opts []dogpile.Option
	if hasExpiration {
		d, err := dogpile.ParseDuration(expiration)
		if err != nil {
			return "", &dogpile.ArgError{Name: fn + " expiration", Value: expiration, Reason: err.Error()}
		}
		if d == 0 {
			d = dogpile.NoExpiration // documented: 0 means never, as a template writer expects
		}
		opts = append(opts, dogpile.ExpirationTime(d))
	}
	if len(data) > 1 {
		return "", &dogpile.ArgError{Name: fn, Value: len(data), Reason: "takes at most one data argument after the key"}
	}
	var dot any
	if len(data) == 1 {
		dot = data[0]
	}
	// The template is looked up before the cache: a name that isn't in the
	// set is an error even when some other process cached a fragment under it.
	exec, err := lookup(name)
	if err != nil {
		return "", err
	}
	fk, err := fragmentKey(k, name, key)
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	marker := k.marker()
	create := func(context.Context) (string, error) {
		var b strings.Builder
		b.WriteString(marker)
		if err := exec(&b, dot); err != nil {
			return "", fmt.Errorf("tmplcache: render %q: %w", name, err)
		}
		return b.String(), nil
	}
	for attempt := 0; ; attempt++ {
		v, err := dogpile.GetOrCreate(ctx, r, fk, create, opts...)
		if err != nil {
			return "", fmt.Errorf("tmplcache: fragment %q in region %q: %w", fk, regionName, err)
		}
		if body, ok := strings.CutPrefix(v, marker); ok {
			return body, nil
		}
		// A string tmplcache did not write for this template package (the
		// memory backend has already made any other Go type a miss, and the
		// envelope any bytes not written by a dogpile region). It is never
		// returned, least of all as template.HTML: delete it, and let the
		// dogpile lock render the fragment once.
		if attempt > 0 {
			return "", fmt.Errorf("%w: %q in region %q", ErrForeignValue, fk, regionName)
		}
		if err := r.Delete(ctx, fk); err != nil {
			return "", fmt.Errorf("tmplcache: delete foreign value %q in region %q: %w", fk, regionName, err)
		}
	}
}
