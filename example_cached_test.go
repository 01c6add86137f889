package dogpile_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
)

var populations = map[string]int{"Lyon": 522250, "Oslo": 709037, "Quito": 2800388}

// cityPopulation stands for a slow query.
func cityPopulation(_ context.Context, city string) (int, error) {
	fmt.Println("querying", city)
	return populations[city], nil
}

func ExampleCached() {
	ctx := context.Background()
	region, err := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}
	population := dogpile.Cached(region, cityPopulation)

	for _, city := range []string{"Lyon", "Oslo", "Lyon"} {
		n, err := population.Call(ctx, city)
		if err != nil {
			panic(err)
		}
		fmt.Println(city, n)
	}
	// The key is the function's name and the argument: every process
	// running this code shares the entry.
	fmt.Println(population.Key("Lyon"))

	// The next call queries again.
	_ = population.Invalidate(ctx, "Lyon")
	n, _ := population.Call(ctx, "Lyon")
	fmt.Println("Lyon", n)
	// Output:
	// querying Lyon
	// Lyon 522250
	// querying Oslo
	// Oslo 709037
	// Lyon 522250
	// dogpile_test.cityPopulation|Lyon
	// querying Lyon
	// Lyon 522250
}

// SearchArgs is the argument of a function with several parameters.
type SearchArgs struct {
	Query string
	Page  int
}

func ExampleCached_struct() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))

	search := dogpile.Cached(region, func(_ context.Context, s SearchArgs) ([]string, error) {
		return []string{fmt.Sprintf("%s, result %d", s.Query, 10*s.Page+1)}, nil
	},
		// FuncName and Namespace are CachedOptions, for cached functions
		// only: given to GetOrCreate they would not compile. A call option
		// such as ExpirationTime is a CachedOption too.
		dogpile.FuncName("search"),          // a function literal: name it
		dogpile.Namespace("v2"),             // results changed shape: don't read v1 entries
		dogpile.ExpirationTime(time.Minute), // this function's own expiration
	)
	res, _ := search.Call(ctx, SearchArgs{Query: "go caching", Page: 2})
	fmt.Println(res)
	fmt.Println(search.Key(SearchArgs{Query: "go caching", Page: 2}))
	// Output:
	// [go caching, result 21]
	// search|v2|"go caching" 2
}

// populationsOf stands for one query that loads many rows.
func populationsOf(_ context.Context, cities []string) ([]int, error) {
	fmt.Println("querying", cities)
	out := make([]int, len(cities))
	for i, c := range cities {
		out[i] = populations[c]
	}
	return out, nil
}

// KeyFunc's function takes the cached function's argument type: here a
// Query keyed by its normalised text alone.
func ExampleKeyFunc() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))

	type Query struct {
		Text  string
		Trace string // not part of the answer
	}
	search := dogpile.Cached(region, func(_ context.Context, q Query) (int, error) {
		fmt.Println("searching", q.Text)
		return len(q.Text), nil
	},
		dogpile.FuncName("search"),
		dogpile.KeyFunc(func(q Query) string { return strings.ToLower(q.Text) }),
	)
	a, _ := search.Call(ctx, Query{Text: "Go", Trace: "a1"})
	b, _ := search.Call(ctx, Query{Text: "go", Trace: "b2"})
	fmt.Println(a, b, search.Key(Query{Text: "GO"}))
	// Output:
	// searching Go
	// 2 2 search|go
}

func ExampleCachedMulti() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	pops := dogpile.CachedMulti(region, populationsOf)

	_, _ = pops.Call(ctx, []string{"Oslo"})

	// One lookup of every key; one query, of the cities not cached, in order.
	ns, err := pops.Call(ctx, []string{"Quito", "Oslo", "Lyon"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ns)

	// The same, by argument.
	m, _ := pops.CallMap(ctx, []string{"Lyon", "Oslo"})
	fmt.Println(m["Lyon"], m["Oslo"])
	// Output:
	// querying [Oslo]
	// querying [Quito Lyon]
	// [2800388 709037 522250]
	// 522250 709037
}
