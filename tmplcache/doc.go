// Package tmplcache caches template fragments for html/template and
// text/template in dogpile regions: the counterpart of Python dogpile.cache's Mako
// plugin, where a section marked cached=True cache_region="memcached" is
// rendered once and served from the region afterwards.
//
// A [Cache] is made from a set of named regions (Python dogpile.cache's region
// dictionary) and bound to a template set before parsing. The set's templates
// then call two functions:
//
//	{{cached "memcached" "sidebar" .User.ID .}}
//	{{cachedFor "memcached" "10m" "sidebar" .User.ID .}}
//
// Each executes the template "sidebar" of the set with the data argument
// (the last, optional), once per template name and key in the region "memcached",
// and returns the rendered fragment; later executions get it from the region.
// cachedFor's expiration replaces the region's for that call: a Go duration
// ("90s", "10m"), a number of seconds (600), or a time.Duration; 0 means never.
//
//	regions := map[string]*dogpile.Region{"memcached": region}
//	cache := tmplcache.New(regions)
//	page := template.Must(cache.BindHTML(template.New("page")).Parse(`
//		{{define "sidebar"}}<ul>{{range .Links}}<li>{{.}}</li>{{end}}</ul>{{end}}
//		<main>{{.Body}}</main>{{cached "memcached" "sidebar" .User.ID .}}`))
//	err := page.Execute(w, data)
//
// A fragment is read and created through dogpile.GetOrCreate, so everything
// a region does applies: a stampede on a cold fragment renders it once (the
// dogpile lock, across processes on a shared backend); an expired fragment is
// served stale while one caller renders it again; Region.Invalidate
// invalidates every fragment of a region, and [Cache.Invalidate] deletes one.
//
// # Keys
//
// A fragment's key in its region is
//
//	tmplcache:<package>:<template name>|<key>      e.g. tmplcache:html:sidebar|42
//
// where package is html or text, and key is the key argument rendered as
// dogpile.Cached renders a scalar argument: a string as it is, a bool,
// an integer in decimal, a float in the shortest 'g' form, an
// encoding.TextMarshaler as its text. Other key types are an execution error;
// compose a key in the template with printf. Template names may not contain
// "|". A fragment's key names the template, not its text: when a template
// changes, old fragments are served until they expire or are invalidated, and
// two template sets (or clones) that define one name differently share its
// fragments unless their keys differ.
//
// # html/template and trust
//
// In html/template, a fragment is returned as template.HTML, the type that
// html/template inserts without escaping. That is sound only because the
// fragment was produced by html/template's own escaper: the named template is
// executed on its own, in HTML text context, so data in it — a <script> in a
// user's name — is escaped before the fragment is stored, and the stored
// fragment is what a later execution returns. Data is never stored
// unescaped and then trusted. A fragment belongs where HTML elements may
// appear; called in another context (an attribute, a script, a URL),
// html/template escapes it for that context as it does any template.HTML
// value (in an attribute, its tags are stripped).
//
// The cache backend is thus inside the trust boundary: whoever can write to
// it can write HTML into the page. tmplcache stores a fragment as a string
// beginning with a marker naming its template package ("tmplcache/1 html\n"),
// and never returns a value under a fragment key without its package's
// marker — a value other code stored there, or a text/template fragment,
// which is not escaped — but deletes it and renders the fragment anew. Any
// bytes not written by a dogpile region are a miss already. The marker guards
// against mistakes, not attackers: a backend shared with untrusted writers
// (a Redis that other applications can write to) needs authenticated (signed)
// values, or no fragment caching.
//
// # Binding
//
// Template functions cannot reach the template set that calls them, so
// [Cache.BindHTML] and [Cache.BindText] add functions bound to one set. Bind
// before parsing; templates added to the set later are found, because a
// fragment's template is looked up by name when the call executes. An unknown
// region name or template name is an execution error naming it (errors.Is
// [ErrUnknownRegion], [ErrUnknownTemplate]).
//
// Clone copies function values, so a clone executes the fragments of the set
// it was cloned from until it is bound itself:
//
//	home := cache.BindHTML(template.Must(base.Clone()))
//
// Binding and execution are safe for concurrent use. Templates have no
// context.Context: [WithTimeout] bounds the time a fragment may take. A
// fragment must not include itself under its own key, directly or through
// other fragments: like a mutex locked twice, it would wait for itself
// (WithTimeout turns that into an error).
package tmplcache
