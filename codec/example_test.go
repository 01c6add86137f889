package codec_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// xmlCodec stores values as XML, for a cache that programs in other
// languages read.
type xmlCodec struct{}

func (xmlCodec) Name() string                         { return "xml" }
func (xmlCodec) Marshal(v any) ([]byte, error)        { return xml.Marshal(v) }
func (xmlCodec) Unmarshal(data []byte, ptr any) error { return xml.Unmarshal(data, ptr) }

type Book struct {
	ISBN  string
	Title string
}

// A codec registered by name can be chosen by a configuration file (its
// codec setting) or looked up with Lookup. A codec package registers its
// codec in its init function.
func ExampleRegister() {
	if err := codec.Register(xmlCodec{}); err != nil {
		panic(err)
	}

	c, err := codec.Lookup("xml") // a name from the configuration
	if err != nil {
		panic(err)
	}
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	region, err := dogpile.NewRegion(dogpile.WithCodec(c)).ConfigureBackend(store, dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	_ = region.Set(ctx, "book:1", Book{ISBN: "978-0134190440", Title: "The Go Programming Language"})
	b, _, _ := dogpile.Get[Book](ctx, region, "book:1")
	entry, _, _ := store.Get(ctx, "book:1")
	md, _ := dogpile.InspectEntry(entry)
	fmt.Println(b.Title, "stored as", md.Codec)
	// Output: The Go Programming Language stored as xml
}

// Lookup finds a codec by name. For one of this project's codecs whose
// package is not imported, the error says what to import.
func ExampleLookup() {
	c, err := codec.Lookup("json")
	fmt.Println(c.Name(), err)

	_, err = codec.Lookup("msgpack")
	fmt.Println(errors.Is(err, codec.ErrUnknown))
	fmt.Println(err)
	// Output:
	// json <nil>
	// true
	// codec: unknown codec "msgpack": import _ "github.com/dogpile-go/dogpile/codec/msgpack" to register it
}
