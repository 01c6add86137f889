package tmplcache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	htmltemplate "html/template"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/memcached" // registers "memcached"
	_ "github.com/dogpile-go/dogpile/backends/redis"     // registers "redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/tmpltest"
	"github.com/dogpile-go/dogpile/tmplcache"
)

// Behaviours of a shared server that the backend table can't show: what is
// on the server, values written there by other clients, and regions in
// several processes (here, several regions: each has its own in-process
// lock, so only the server's lock keeps them to one render).

// memcachedArgs are the seed's arguments for a memcached of the test's own.
func memcachedArgs(t *testing.T) dogpile.Args {
	return dogpile.Args{"url": testserver.Memcached(t, testserver.MemcachedOptions{}).Addr(), "distributed_lock": true}
}

// redisArgs are the seed's arguments for the shared test redis-server.
func redisArgs(t *testing.T) dogpile.Args {
	return dogpile.Args{"url": "redis://" + testserver.SharedRedis(t).Addr(), "distributed_lock": true}
}

// ownKeys prefixes every key with one of the test's own, so that tests can
// share a server.
func ownKeys(t *testing.T) dogpile.RegionOption {
	b := make([]byte, 6)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
	prefix := "tmplcache-test-" + hex.EncodeToString(b) + ":"
	return dogpile.WithKeyMangler(func(k string) string { return prefix + k })
}

// redisRegion is a region on the shared test server without a key mangler:
// keys on the server are the documented fragment keys.
func redisRegion(t *testing.T) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(dogpile.WithName("frags")).Configure("redis",
		dogpile.WithArguments(redisArgs(t)), dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// T3 on Redis: the server holds the escaped fragment under its documented
// key, and a value another client SETs there — raw HTML — is never served.
func TestT3RedisForeignValueNotTrusted(t *testing.T) {
	ctx := context.Background()
	r := redisRegion(t)
	c := tmplcache.New(map[string]*dogpile.Region{"frags": r})
	var renders atomic.Int64
	page := htmltemplate.Must(c.BindHTML(htmltemplate.New("page").Funcs(htmltemplate.FuncMap{
		"renders": func() int64 { return renders.Add(1) },
	})).Parse(`{{define "frag"}}<p>{{.Name}} #{{renders}}</p>{{end}}{{cached "frags" "frag" .Key .}}`))
	data := map[string]string{"Key": testutil.Unique("frag"), "Name": xss}
	want := "<p>" + xssEscaped + " #1</p>"
	if got := exec(t, page, data); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	raw := goredis.NewClient(&goredis.Options{Addr: testserver.SharedRedis(t).Addr()})
	defer raw.Close()
	key := "tmplcache:html:frag|" + data["Key"]
	onServer, err := raw.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("GET %q on the server: %v", key, err)
	}
	if !strings.HasSuffix(onServer, "tmplcache/1 html\n"+want) || strings.Contains(onServer, "<script") {
		t.Fatalf("the server holds %q under %q, want the escaped fragment", onServer, key)
	}
	if got := exec(t, page, data); got != want {
		t.Fatalf("from the server: %q, want %q", got, want)
	}

	for _, foreign := range []string{xss, "tmplcache/1 html\n" + xss} {
		if err := raw.Set(ctx, key, foreign, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := exec(t, page, data); strings.Contains(got, "<script") || !strings.Contains(got, xssEscaped) {
			t.Fatalf("with %q SET on the server by another client: %q", foreign, got)
		}
	}
}

// T1 on Redis across processes: regions that share a server render a cold
// fragment once between them (the server's lock), and each then serves the
// others' fragment.
func TestT1RedisStampedeAcrossRegionsRendersOnce(t *testing.T) {
	const regions, perRegion = 3, 10
	key := testutil.Unique("frag")
	var renders, reads atomic.Int64
	release := make(chan struct{})
	funcs := htmltemplate.FuncMap{"slow": func() int64 {
		<-release
		return renders.Add(1)
	}}
	var pages []*htmltemplate.Template
	for range regions {
		r, err := dogpile.NewRegion(dogpile.WithName("frags")).Configure("redis",
			dogpile.WithArguments(redisArgs(t)), dogpile.WithExpiration(time.Hour), dogpile.WithWrap(countReads(&reads)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		c := tmplcache.New(map[string]*dogpile.Region{"frags": r})
		pages = append(pages, htmltemplate.Must(c.BindHTML(htmltemplate.New("page").Funcs(funcs)).Parse(
			`{{define "frag"}}slow #{{slow}}{{end}}{{cached "frags" "frag" .}}`)))
	}
	type result struct {
		s   string
		err error
	}
	results := make(chan result, regions*perRegion)
	for _, p := range pages {
		for range perRegion {
			go func() {
				s, err := tmpltest.Try(p, key)
				results <- result{s, err}
			}()
		}
	}
	testutil.Eventually(t, "every caller's read", func() bool { return reads.Load() >= regions*perRegion })
	close(release)
	for range regions * perRegion {
		select {
		case r := <-results:
			if r.err != nil || r.s != "slow #1" {
				t.Errorf("a caller got %q, %v; want %q", r.s, r.err, "slow #1")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("timed out waiting for the callers")
		}
	}
	if n := renders.Load(); n != 1 {
		t.Fatalf("%d renders across %d regions sharing a server, want 1", n, regions)
	}
}
