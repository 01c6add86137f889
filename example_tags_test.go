package dogpile_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Values about one user, under several keys, are tagged with the user when
// they are created; invalidating the tag makes them all misses at once,
// whatever their keys, and leaves other users' values alone.
func ExampleRegion_InvalidateTags() {
	ctx := context.Background()
	region, err := dogpile.NewRegion(dogpile.WithName("pages")).Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}
	render := func(page string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			fmt.Println("rendering", page)
			return "<html>" + page + "</html>", nil
		}
	}
	user42 := dogpile.Tags("user:42")
	for range 2 {
		dogpile.GetOrCreate(ctx, region, "profile:42", render("profile:42"), user42)                  //nolint:errcheck
		dogpile.GetOrCreate(ctx, region, "feed:42", render("feed:42"), user42, dogpile.Tags("feeds")) //nolint:errcheck
		dogpile.GetOrCreate(ctx, region, "profile:43", render("profile:43"), dogpile.Tags("user:43")) //nolint:errcheck
	}

	// User 42 changed: everything tagged with them is made again.
	if err := region.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
		panic(err)
	}
	dogpile.GetOrCreate(ctx, region, "profile:42", render("profile:42"), user42)                  //nolint:errcheck
	dogpile.GetOrCreate(ctx, region, "feed:42", render("feed:42"), user42, dogpile.Tags("feeds")) //nolint:errcheck
	dogpile.GetOrCreate(ctx, region, "profile:43", render("profile:43"), dogpile.Tags("user:43")) //nolint:errcheck
	// Output:
	// rendering profile:42
	// rendering feed:42
	// rendering profile:43
	// rendering profile:42
	// rendering feed:42
}

// A cached function tags each value with tags computed from its argument.
func ExampleTagsFunc() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	type order struct{ ID, Customer int }
	load := func(_ context.Context, id int) (order, error) {
		fmt.Println("loading order", id)
		return order{ID: id, Customer: 100 + id%2}, nil
	}
	orders := dogpile.Cached(region, load, dogpile.FuncName("orders.load"),
		dogpile.TagsFunc(func(id int) []string { return []string{"customer:" + strconv.Itoa(100+id%2)} }))
	for _, id := range []int{1, 2, 3} {
		orders.Call(ctx, id) //nolint:errcheck
	}
	// Customer 101 (orders 1 and 3) changed.
	region.InvalidateTags(ctx, dogpile.Hard, "customer:101") //nolint:errcheck
	for _, id := range []int{1, 2, 3} {
		orders.Call(ctx, id) //nolint:errcheck
	}
	// Output:
	// loading order 1
	// loading order 2
	// loading order 3
	// loading order 1
	// loading order 3
}
