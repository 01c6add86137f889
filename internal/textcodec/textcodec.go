// Package textcodec is the part of codec.Default that needs no reflection:
// strings and byte slices as they are, booleans and numbers in text. The
// codec calls it before JSON, and regions call it directly, where a call
// through the Codec interface would move the value decoded into to the heap.
package textcodec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"
)

// Types are the types Append encodes and Parse decodes: written as text,
// their bytes do not say which of them they are.
var Types = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[[]byte](), reflect.TypeFor[bool](),
	reflect.TypeFor[int](), reflect.TypeFor[int64](), reflect.TypeFor[int32](),
	reflect.TypeFor[uint](), reflect.TypeFor[uint64](), reflect.TypeFor[uint32](),
	reflect.TypeFor[float64](), reflect.TypeFor[float32](),
}

// Append encodes v when it is a string, a byte slice, a boolean or a number
// of the kinds it knows; ok is false for anything else.
func Append(v any) (data []byte, ok bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return append([]byte(nil), x...), true
	case bool:
		return strconv.AppendBool(nil, x), true
	case int:
		return strconv.AppendInt(nil, int64(x), 10), true
	case int64:
		return strconv.AppendInt(nil, x, 10), true
	case int32:
		return strconv.AppendInt(nil, int64(x), 10), true
	case uint:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(nil, x, 10), true
	case uint32:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), true
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'g', -1, 32), true
	}
	return nil, false
}

// Parse decodes data into what ptr points to when Append encodes its kind;
// ok is false (and *ptr untouched) for anything else. ptr does not escape.
func Parse(data []byte, ptr any) (ok bool, err error) {
	switch p := ptr.(type) {
	case *string:
		// Any bytes: a Go string need not be UTF-8, and Append wrote it as is.
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
		return false, nil
	}
	return true, err
}

// ParseShared is Parse for data that nothing writes to or reuses afterwards:
// a string points into data instead of copying it. (A byte slice is still
// copied: its holder may write to it.)
func ParseShared(data []byte, ptr any) (ok bool, err error) {
	if p, isString := ptr.(*string); isString {
		*p = unsafe.String(unsafe.SliceData(data), len(data))
		return true, nil
	}
	return Parse(data, ptr)
}
