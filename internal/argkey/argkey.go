// Package argkey renders a cached function's argument into its part of the
// key: the same text for equal values in every process and build, so that
// processes sharing a store share entries. The format is documented on
// dogpile.Cached.
package argkey

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"unsafe"
)

// Kind selects a fast path for rendering scalar arguments: no reflection,
// no allocation but the key's. Reflect is the general path.
type Kind uint8

const (
	Reflect Kind = iota
	String
	Bool
	Int
	Int8
	Int16
	Int32
	Int64
	Uint
	Uint8
	Uint16
	Uint32
	Uint64
	Uintptr
	Float32
	Float64
)

var fastKinds = map[reflect.Kind]Kind{
	reflect.String: String, reflect.Bool: Bool,
	reflect.Int: Int, reflect.Int8: Int8, reflect.Int16: Int16, reflect.Int32: Int32, reflect.Int64: Int64,
	reflect.Uint: Uint, reflect.Uint8: Uint8, reflect.Uint16: Uint16, reflect.Uint32: Uint32, reflect.Uint64: Uint64,
	reflect.Uintptr: Uintptr, reflect.Float32: Float32, reflect.Float64: Float64,
}

// AppendScalar renders the scalar at p, of kind k (not Reflect), as the
// reflective rendering would.
func AppendScalar(b []byte, k Kind, p unsafe.Pointer) []byte {
	switch k {
	case Bool:
		return strconv.AppendBool(b, *(*bool)(p))
	case Int:
		return strconv.AppendInt(b, int64(*(*int)(p)), 10)
	case Int8:
		return strconv.AppendInt(b, int64(*(*int8)(p)), 10)
	case Int16:
		return strconv.AppendInt(b, int64(*(*int16)(p)), 10)
	case Int32:
		return strconv.AppendInt(b, int64(*(*int32)(p)), 10)
	case Int64:
		return strconv.AppendInt(b, *(*int64)(p), 10)
	case Uint:
		return strconv.AppendUint(b, uint64(*(*uint)(p)), 10)
	case Uint8:
		return strconv.AppendUint(b, uint64(*(*uint8)(p)), 10)
	case Uint16:
		return strconv.AppendUint(b, uint64(*(*uint16)(p)), 10)
	case Uint32:
		return strconv.AppendUint(b, uint64(*(*uint32)(p)), 10)
	case Uint64:
		return strconv.AppendUint(b, *(*uint64)(p), 10)
	case Uintptr:
		return strconv.AppendUint(b, uint64(*(*uintptr)(p)), 10)
	case Float32:
		return strconv.AppendFloat(b, float64(*(*float32)(p)), 'g', -1, 32)
	case Float64:
		return strconv.AppendFloat(b, *(*float64)(p), 'g', -1, 64)
	}
	panic("argkey: AppendScalar: not a scalar kind")
}

// An Encoder appends the rendering of v to b. v is never read-only (see
// field), so that Interface and Set work on it.
type Encoder func(b []byte, v reflect.Value) ([]byte, error)

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// isMarshaler reports whether t renders through MarshalText. Pointers don't:
// a nil pointer has no text, and the pointed-to type decides.
func isMarshaler(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface {
		return false
	}
	return t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

// KindOf returns the fast path for arguments of type t: Reflect unless t is a
// scalar without a MarshalText method.
func KindOf(t reflect.Type) Kind {
	if t.Kind() == reflect.Interface || isMarshaler(t) {
		return Reflect
	}
	return fastKinds[t.Kind()]
}

// Compile returns the rendering of arguments of type t, or an error naming
// what makes t impossible to render stably (interfaces, funcs, channels,
// unsafe pointers, types that contain themselves).
func Compile(t reflect.Type) (Encoder, error) {
	var c encCompiler
	return c.compileTop(t)
}

// encCompiler builds encoders, rejecting types that can't be rendered stably.
type encCompiler struct {
	stack []reflect.Type // the types being compiled, to find recursive ones
}

// compileTop builds the rendering of a whole argument, which differs from an
// inner value's in two ways: a string or a marshaler's text is not quoted,
// and a struct's fields are not wrapped in braces — they read like the
// space-separated positional arguments of Python's dogpile.cache.
func (c *encCompiler) compileTop(t reflect.Type) (Encoder, error) {
	switch {
	case isMarshaler(t):
		return marshalerEncoder(t, false), nil
	case t.Kind() == reflect.String:
		return func(b []byte, v reflect.Value) ([]byte, error) { return append(b, v.String()...), nil }, nil
	case t.Kind() == reflect.Struct:
		return c.compileStruct(t, false)
	}
	return c.compile(t)
}

func (c *encCompiler) compile(t reflect.Type) (enc Encoder, err error) {
	if slices.Contains(c.stack, t) {
		return nil, fmt.Errorf("type %s contains itself, so a value of it can be cyclic", t)
	}
	c.stack = append(c.stack, t)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()

	if isMarshaler(t) {
		return marshalerEncoder(t, true), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendBool(b, v.Bool()), nil }, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendInt(b, v.Int(), 10), nil }, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendUint(b, v.Uint(), 10), nil }, nil
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		return func(b []byte, v reflect.Value) ([]byte, error) {
			return strconv.AppendFloat(b, v.Float(), 'g', -1, bits), nil
		}, nil
	case reflect.Complex64, reflect.Complex128:
		bits := t.Bits()
		return func(b []byte, v reflect.Value) ([]byte, error) {
			return append(b, strconv.FormatComplex(v.Complex(), 'g', -1, bits)...), nil
		}, nil
	case reflect.String:
		// QuoteToASCII, not Quote: Quote's idea of a printable rune follows
		// the Unicode tables of the Go release, and keys must not change with
		// the toolchain.
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendQuoteToASCII(b, v.String()), nil }, nil
	case reflect.Pointer:
		elem, err := c.compile(t.Elem())
		if err != nil {
			return nil, err
		}
		return func(b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(b, "nil"...), nil
			}
			return elem(b, v.Elem())
		}, nil
	case reflect.Struct:
		return c.compileStruct(t, true)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !isMarshaler(t.Elem()) {
			return func(b []byte, v reflect.Value) ([]byte, error) {
				return strconv.AppendQuoteToASCII(b, string(v.Bytes())), nil
			}, nil
		}
		return c.compileList(t)
	case reflect.Array:
		return c.compileList(t)
	case reflect.Map:
		return c.compileMap(t)
	case reflect.Interface:
		return nil, fmt.Errorf("interface type %s can hold values of any type, some without a stable rendering", t)
	default: // func, chan, unsafe.Pointer
		return nil, fmt.Errorf("%s type %s has no stable rendering (only an address)", t.Kind(), t)
	}
}

// marshalerEncoder renders values of t by their MarshalText, quoted inside
// a larger value.
func marshalerEncoder(t reflect.Type, quote bool) Encoder {
	byPointer := !t.Implements(textMarshalerType)
	return func(b []byte, v reflect.Value) ([]byte, error) {
		if byPointer {
			v = addressable(v).Addr()
		}
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return b, fmt.Errorf("%s.MarshalText: %w", t, err)
		}
		if quote {
			return strconv.AppendQuoteToASCII(b, string(text)), nil
		}
		return append(b, text...), nil
	}
}

func (c *encCompiler) compileStruct(t reflect.Type, braces bool) (Encoder, error) {
	type fieldEnc struct {
		i        int
		exported bool
		enc      Encoder
	}
	var fields []fieldEnc
	unexported := false
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "_" {
			continue // padding: not part of the value
		}
		enc, err := c.compile(f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s.%s: %w", t, f.Name, err)
		}
		fields = append(fields, fieldEnc{i: i, exported: f.IsExported(), enc: enc})
		unexported = unexported || !f.IsExported()
	}
	return func(b []byte, v reflect.Value) ([]byte, error) {
		if unexported {
			v = addressable(v)
		}
		if braces {
			b = append(b, '{')
		}
		var err error
		for j, f := range fields {
			if j > 0 {
				b = append(b, ' ')
			}
			fv := v.Field(f.i)
			if !f.exported {
				fv = field(fv)
			}
			if b, err = f.enc(b, fv); err != nil {
				return b, err
			}
		}
		if braces {
			b = append(b, '}')
		}
		return b, nil
	}, nil
}

// field makes an unexported field, which reflect marks read-only, usable by
// the encoders: unexported fields are part of a value's identity, and a
// marshaler among them (a time.Time) needs its method called. It only reads.
func field(f reflect.Value) reflect.Value {
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// addressable returns v, or an addressable copy of it.
func addressable(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}

func (c *encCompiler) compileList(t reflect.Type) (Encoder, error) {
	elem, err := c.compile(t.Elem())
	if err != nil {
		return nil, fmt.Errorf("element: %w", err)
	}
	return func(b []byte, v reflect.Value) ([]byte, error) {
		b = append(b, '[')
		var err error
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ' ')
			}
			if b, err = elem(b, v.Index(i)); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}, nil
}

func (c *encCompiler) compileMap(t reflect.Type) (Encoder, error) {
	key, err := c.compile(t.Key())
	if err != nil {
		return nil, fmt.Errorf("map key: %w", err)
	}
	elem, err := c.compile(t.Elem())
	if err != nil {
		return nil, fmt.Errorf("map value: %w", err)
	}
	return func(b []byte, v reflect.Value) ([]byte, error) {
		// Render every entry into one buffer, then sort the renderings: map
		// order is random, and the rendered keys order any key type.
		type span struct{ start, mid, end int }
		spans := make([]span, 0, v.Len())
		var tmp []byte
		var err error
		for it := v.MapRange(); it.Next(); {
			s := span{start: len(tmp)}
			if tmp, err = key(tmp, it.Key()); err != nil {
				return b, err
			}
			s.mid = len(tmp)
			if tmp, err = elem(tmp, it.Value()); err != nil {
				return b, err
			}
			s.end = len(tmp)
			spans = append(spans, s)
		}
		type entry struct{ k, v []byte }
		entries := make([]entry, len(spans))
		for i, s := range spans {
			entries[i] = entry{tmp[s.start:s.mid], tmp[s.mid:s.end]}
		}
		// Ties are equal keys (NaNs): the value decides, so the order is
		// still total.
		slices.SortFunc(entries, func(x, y entry) int {
			if c := bytes.Compare(x.k, y.k); c != 0 {
				return c
			}
			return bytes.Compare(x.v, y.v)
		})
		b = append(b, "map["...)
		for i, e := range entries {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, e.k...)
			b = append(b, ':')
			b = append(b, e.v...)
		}
		return append(b, ']'), nil
	}, nil
}
