package msgpack_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec/msgpack"
)

type Product struct {
	SKU   string   `msgpack:"sku"`
	Price float64  `msgpack:"price"`
	Tags  []string `msgpack:"tags"`
}

// A region whose values are stored as MessagePack, more compact than JSON
// and readable from other languages. The memory_serialized backend stands
// for Redis or Memcached: the codec applies to backends that store bytes.
func Example() {
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	region, err := dogpile.NewRegion(dogpile.WithCodec(msgpack.Codec)).
		ConfigureBackend(store, dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	load := func(context.Context) (Product, error) {
		return Product{SKU: "MUG-01", Price: 9.5, Tags: []string{"kitchen"}}, nil
	}
	if _, err := dogpile.GetOrCreate(ctx, region, "product:7", load); err != nil {
		panic(err)
	}
	// Read back from the store: decoded from MessagePack.
	p, ok, _ := dogpile.Get[Product](ctx, region, "product:7")
	fmt.Println(ok, p.SKU, p.Price, p.Tags)

	entry, _, _ := store.Get(ctx, "product:7")
	md, _ := dogpile.InspectEntry(entry)
	fmt.Println("stored as", md.Codec)
	// Output:
	// true MUG-01 9.5 [kitchen]
	// stored as msgpack
}
