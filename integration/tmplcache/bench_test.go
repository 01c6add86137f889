package tmplcache_test

import (
	"fmt"
	"html/template"
	"io"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// BenchmarkPage executes an html/template page whose expensive fragment — a
// 200-row table of escaped user data — is rendered on every execution
// (fragment=uncached: {{template}}) or served from a region
// (fragment=cached: the memory backend, which holds the string;
// fragment=cached_serialized: memory_serialized, which decodes it from bytes
// as a Redis or Memcached region does, without the network;
// fragment=cached_redis: a local redis-server, one GET per page).
//
//	go test -run '^$' -bench BenchmarkPage -benchmem ./tmplcache
func BenchmarkPage(b *testing.B) {
	type row struct {
		ID          int
		Name, Email string
		Score       float64
	}
	rows := make([]row, 200)
	for i := range rows {
		rows[i] = row{ID: i, Name: fmt.Sprintf("user <%d> & co", i), Email: fmt.Sprintf("u%d@example.com", i), Score: float64(i) / 3}
	}
	const table = `{{define "table"}}<table>{{range .}}<tr><td>{{.ID}}</td><td>{{.Name}}</td>` +
		`<td><a href="mailto:{{.Email}}">{{.Email}}</a></td><td>{{printf "%.2f" .Score}}</td></tr>{{end}}</table>{{end}}`
	type data struct {
		User string
		Rows []row
	}
	d := data{User: "Ann <admin>", Rows: rows}

	for _, c := range []struct {
		name, backend, call string
	}{
		{"fragment=uncached", "memory", `{{template "table" .Rows}}`},
		{"fragment=cached", "memory", `{{cached "frags" "table" "all" .Rows}}`},
		{"fragment=cached_serialized", "memory_serialized", `{{cached "frags" "table" "all" .Rows}}`},
		{"fragment=cached_redis", "redis", `{{cached "frags" "table" "all" .Rows}}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			var args dogpile.Args
			if c.backend == "redis" {
				args = dogpile.Args{"url": "redis://" + testserver.SharedRedis(b).Addr()}
			}
			r, err := dogpile.NewRegion().Configure(c.backend, dogpile.WithExpiration(time.Hour), dogpile.WithArguments(args))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			cache := tmplcache.New(map[string]*dogpile.Region{"frags": r})
			page := template.Must(cache.BindHTML(template.New("page")).Parse(
				table + `<html><body><h1>Hello, {{.User}}</h1>` + c.call + `</body></html>`))
			if err := page.Execute(io.Discard, d); err != nil { // warm: escaping, and the region
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := page.Execute(io.Discard, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
