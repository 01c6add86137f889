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
	"fmt"
	"math"
	"strconv"
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
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case []byte:
		return append([]byte(nil), x...), nil
	case bool:
		return strconv.AppendBool(nil, x), nil
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case int32:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(nil, x, 10), nil
	case uint32:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'g', -1, 32), nil
	}
	return json.Marshal(v)
}

func (defaultCodec) Unmarshal(data []byte, v any) error {
	var err error
	switch p := v.(type) {
	case *string:
		// Any bytes: a Go string need not be UTF-8, and Marshal wrote it as is.
		*p = string(data)
	case *[]byte:
		*p = append([]byte(nil), data...)
	case *bool:
		*p, err = strconv.ParseBool(string(data))
	case *int:
		var n int64
		n, err = strconv.ParseInt(string(data), 10, strconv.IntSize)
		*p = int(n)
	case *int64:
		*p, err = strconv.ParseInt(string(data), 10, 64)
	case *int32:
		var n int64
		n, err = strconv.ParseInt(string(data), 10, 32)
		*p = int32(n)
	case *uint:
		var n uint64
		n, err = strconv.ParseUint(string(data), 10, strconv.IntSize)
		*p = uint(n)
	case *uint64:
		*p, err = strconv.ParseUint(string(data), 10, 64)
	case *uint32:
		var n uint64
		n, err = strconv.ParseUint(string(data), 10, 32)
		*p = uint32(n)
	case *float64:
		*p, err = strconv.ParseFloat(string(data), 64)
	case *float32:
		var f float64
		f, err = strconv.ParseFloat(string(data), 32)
		if err == nil && math.Abs(f) > math.MaxFloat32 {
			err = fmt.Errorf("codec: %s overflows float32", data)
		}
		*p = float32(f)
	default:
		return json.Unmarshal(data, v)
	}
	return err
}
