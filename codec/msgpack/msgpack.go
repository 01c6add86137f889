// Package msgpack is a MessagePack codec for dogpile regions, on
// github.com/vmihailenco/msgpack/v5 (the MessagePack library go-redis/cache
// uses; feature-complete and stable). It is a package of its own so that
// regions that don't use it don't depend on it.
//
// Importing it registers the codec under the name "msgpack", for
// configuration files (codec = "msgpack") and codec.Lookup:
//
//	import _ "github.com/dogpile-go/dogpile/codec/msgpack"
package msgpack

import (
	"github.com/dogpile-go/dogpile/codec"
	"github.com/vmihailenco/msgpack/v5"
)

// Codec is MessagePack: compact, fast, and understood by other languages.
var Codec codec.Codec = msgpackCodec{}

func init() {
	if err := codec.Register(Codec); err != nil {
		panic(err)
	}
}

type msgpackCodec struct{}

func (msgpackCodec) Name() string                  { return "msgpack" }
func (msgpackCodec) Marshal(v any) ([]byte, error) { return msgpack.Marshal(v) }
func (msgpackCodec) Unmarshal(data []byte, v any) error {
	if err := checkLengths(data); err != nil { // before the library allocates what data declares
		return err
	}
	return msgpack.Unmarshal(data, v)
}
