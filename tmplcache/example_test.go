package tmplcache_test

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	texttemplate "text/template"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// A page served over HTTP whose sidebar — expensive to build — is rendered
// once and then served from the region, while the rest of the page is
// rendered for every request. User data is escaped in both.
func Example() {
	region, err := dogpile.NewRegion(dogpile.WithName("fragments")).
		Configure("memory", dogpile.WithExpiration(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	cache := tmplcache.New(map[string]*dogpile.Region{"memory": region})

	var queries atomic.Int32
	topArticles := func() []string { // a slow query, say
		queries.Add(1)
		return []string{"Dogpile locks", "Caching <templates> & you"}
	}
	page := template.Must(cache.BindHTML(template.New("page").Funcs(template.FuncMap{"topArticles": topArticles})).Parse(
		`{{define "sidebar"}}<ul>{{range topArticles}}<li>{{.}}</li>{{end}}</ul>{{end}}` +
			`<h1>Hello, {{.}}</h1>{{cached "memory" "sidebar" "top"}}` + "\n"))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer // an error leaves no half page behind
		if err := page.Execute(&b, r.URL.Query().Get("name")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b.WriteTo(w) //nolint:errcheck // the client went away
	}))
	defer srv.Close()

	for _, name := range []string{"Ann", "<b>Bob</b>"} {
		resp, err := http.Get(srv.URL + "/?name=" + url.QueryEscape(name))
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
	}
	fmt.Println("sidebar queries:", queries.Load())
	// Output:
	// <h1>Hello, Ann</h1><ul><li>Dogpile locks</li><li>Caching &lt;templates&gt; &amp; you</li></ul>
	// <h1>Hello, &lt;b&gt;Bob&lt;/b&gt;</h1><ul><li>Dogpile locks</li><li>Caching &lt;templates&gt; &amp; you</li></ul>
	// sidebar queries: 1
}

// text/template fragments, with an expiration for one call and one fragment
// invalidated.
func ExampleCache_BindText() {
	region, err := dogpile.NewRegion().Configure("memory")
	if err != nil {
		log.Fatal(err)
	}
	cache := tmplcache.New(map[string]*dogpile.Region{"default": region})
	var n int
	t := texttemplate.Must(cache.BindText(texttemplate.New("report").Funcs(texttemplate.FuncMap{
		"build": func() int { n++; return n },
	})).Parse(`{{define "summary"}}summary of {{.}}, build {{build}}{{end}}` +
		`{{cachedFor "default" "1h" "summary" . .}}` + "\n"))

	t.Execute(os.Stdout, "march") //nolint:errcheck
	t.Execute(os.Stdout, "march") //nolint:errcheck // from the region
	if err := cache.Invalidate(context.Background(), "default", "summary", "march"); err != nil {
		log.Fatal(err)
	}
	t.Execute(os.Stdout, "march") //nolint:errcheck // rendered again
	// Output:
	// summary of march, build 1
	// summary of march, build 1
	// summary of march, build 2
}
