package compress_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
)

// A region whose values are JSON, compressed with S2 from 1 KiB on.
func ExampleNew() {
	c, err := compress.New(codec.JSON, compress.Options{Algorithm: compress.S2, MinBytes: 1024})
	if err != nil {
		log.Fatal(err)
	}
	store, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		log.Fatal(err)
	}
	region, err := dogpile.NewRegion(dogpile.WithCodec(c)).ConfigureBackend(store, dogpile.WithExpiration(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	ctx := context.Background()
	report := strings.Repeat("all systems nominal\n", 1000) // 20,000 bytes
	if err := region.Set(ctx, "report", report); err != nil {
		log.Fatal(err)
	}
	got, ok, err := dogpile.Get[string](ctx, region, "report")
	if err != nil {
		log.Fatal(err)
	}
	entry, _, _ := store.Get(ctx, "report")
	md, _ := dogpile.InspectEntry(entry)
	fmt.Println(ok, got == report, md.Codec, md.Size < len(report)/10)
	// Output: true true compress+json true
}

// The codec a configuration file names.
func ExampleByName() {
	c, err := compress.ByName("zstd", 4096, codec.JSON)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Name())

	_, err = compress.ByName("lz4", 0, codec.JSON)
	fmt.Println(err)
	// Output:
	// compress+json
	// dogpile: invalid argument: unknown compression algorithm "lz4": want "s2", "zstd" or "none"
}
