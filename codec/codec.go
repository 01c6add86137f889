// Package codec turns Go values into bytes and back for the backends that
// store bytes (Redis, Memcached, files, memory_serialized).
//
// A region wraps the encoded value in a small envelope with its metadata (see
// the dogpile package); a codec only sees the value itself. Codecs never
// instantiate types named by the bytes they decode: they decode into the type
// the caller asks for, so a cache entry cannot smuggle in a type.
package codec

import (
	"encoding/json"

	"github.com/dogpile-go/dogpile/internal/textcodec"
)

// Codec encodes values to bytes and decodes bytes into a pointer to a value.
// Implementations must be safe for concurrent use.
type Codec interface {
	// Name identifies the encoding in stored entries. An entry written by a
	// codec of another name is not decoded (it reads as a miss). At most 255
	// bytes.
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value that ptr points to. It must not
	// keep data: the caller may reuse it.
	Unmarshal(data []byte, ptr any) error
}

// JSON is encoding/json: portable, readable with redis-cli, and understood by
// other languages.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Default is the codec regions use unless told otherwise. Strings and byte
// slices are stored as they are, booleans and numbers in a compact text form,
// and everything else as JSON. It needs no schema, registers no types, and a
// person can read what it wrote.
var Default Codec = defaultCodec{}

type defaultCodec struct{}

func (defaultCodec) Name() string { return "default" }

func (defaultCodec) Marshal(v any) ([]byte, error) {
	if data, ok := textcodec.Append(v); ok {
		return data, nil
	}
	return json.Marshal(v)
}

func (defaultCodec) Unmarshal(data []byte, v any) error {
	if ok, err := textcodec.Parse(data, v); ok {
		return err
	}
	return json.Unmarshal(data, v)
}
