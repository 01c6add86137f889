package dogpile

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// KeyGenerator makes the key function of one cached function: the seed's
// function_key_generator. It is called once, by Cached or CachedMulti, with
// the function's name (see FuncName) and its namespace ("" when it has none);
// the function it returns is called on every call with the argument already
// rendered to a string (by KeyFunc, or by the default rendering documented on
// Cached) and returns the key, which the region's key mangler then sees like
// any other key.
//
// The rendered argument is all a generator gets of the argument: that keeps
// generators type-safe and lets them be set once per region. A key that
// depends on the argument's type belongs in a KeyFunc.
type KeyGenerator func(name, namespace string) func(arg string) string

// FunctionKeyGenerator is the default KeyGenerator. Its keys are
//
//	name|arg              without a namespace
//	name|namespace|arg    with one
//
// as in the seed, whose keys are "module:function|namespace|args". A custom
// generator can wrap it, for instance to add a version:
//
//	func(name, ns string) func(string) string {
//		key := dogpile.FunctionKeyGenerator(name, ns)
//		return func(arg string) string { return "v2:" + key(arg) }
//	}
func FunctionKeyGenerator(name, namespace string) func(arg string) string {
	prefix := keyPrefix(name, namespace)
	return func(arg string) string { return prefix + arg }
}

func keyPrefix(name, namespace string) string {
	if namespace == "" {
		return name + "|"
	}
	return name + "|" + namespace + "|"
}

// WithFunctionKeyGenerator sets the KeyGenerator of the functions that
// Cached and CachedMulti make on this region (FunctionKeyGenerator
// otherwise).
func WithFunctionKeyGenerator(g KeyGenerator) RegionOption {
	return func(r *Region) { r.keyGen = g }
}

// funcName is a function's identity in keys: its name as the runtime reports
// it, package-qualified. A generic function's name ends in "[...]" whatever
// its type arguments; the argument and value types replace the dots, so that
// two instantiations don't share keys.
func funcName(fn any, a, v reflect.Type) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return ""
	}
	return strings.Replace(f.Name(), "[...]", "["+a.String()+","+v.String()+"]", 1)
}

// argKind selects a fast path for rendering scalar arguments: no reflection,
// no allocation but the key's.
type argKind uint8

const (
	kindReflect argKind = iota
	kindString
	kindBool
	kindInt
	kindInt8
	kindInt16
	kindInt32
	kindInt64
	kindUint
	kindUint8
	kindUint16
	kindUint32
	kindUint64
	kindUintptr
	kindFloat32
	kindFloat64
)

var fastKinds = map[reflect.Kind]argKind{
	reflect.String: kindString, reflect.Bool: kindBool,
	reflect.Int: kindInt, reflect.Int8: kindInt8, reflect.Int16: kindInt16, reflect.Int32: kindInt32, reflect.Int64: kindInt64,
	reflect.Uint: kindUint, reflect.Uint8: kindUint8, reflect.Uint16: kindUint16, reflect.Uint32: kindUint32, reflect.Uint64: kindUint64,
	reflect.Uintptr: kindUintptr, reflect.Float32: kindFloat32, reflect.Float64: kindFloat64,
}

// keyMaker turns a cached function's arguments into keys.
type keyMaker[A any] struct {
	fn     string              // the function's name, for errors
	prefix string              // FunctionKeyGenerator's, when gen is nil
	gen    func(string) string // a region's KeyGenerator's key function
	toStr  func(A) string      // KeyFunc
	fast   argKind
	enc    encoder // the default rendering, when fast is kindReflect
}

// newKeyMaker builds the key function of a cached function. It fails when A
// has no stable rendering and there is no KeyFunc (of type func(A) string,
// which the caller has checked).
func newKeyMaker[A any](r *Region, name string, fo *funcOption) (*keyMaker[A], error) {
	m := &keyMaker[A]{fn: name}
	namespace := ""
	if fo != nil {
		namespace = fo.namespace
		m.toStr, _ = fo.keyFunc.(func(A) string) // checked by setup
	}
	if g := r.keyGen; g != nil {
		m.gen = g(name, namespace)
	} else {
		m.prefix = keyPrefix(name, namespace)
	}
	if m.toStr != nil {
		return m, nil // the type needn't be renderable: the key function renders it
	}
	t := reflect.TypeFor[A]()
	if t.Kind() != reflect.Interface && !isMarshaler(t) {
		m.fast = fastKinds[t.Kind()]
	}
	var c encCompiler
	enc, err := c.compileTop(t)
	if err != nil {
		return nil, err
	}
	m.enc = enc
	return m, nil
}

// key returns a's key, unmangled.
func (m *keyMaker[A]) key(a A) (string, error) {
	if m.toStr != nil {
		return m.join(m.toStr(a)), nil
	}
	// m.fast is set only when A's kind is that scalar's, so A's memory is
	// that scalar: reading it through unsafe covers named types (type UserID
	// int) with neither reflection nor an interface conversion.
	if m.fast == kindString {
		return m.join(*(*string)(unsafe.Pointer(&a))), nil
	}
	if m.fast != kindReflect {
		// Render into a stack buffer: the concatenation is the only
		// allocation.
		var buf [40]byte
		b := appendScalar(buf[:0], m.fast, unsafe.Pointer(&a))
		if m.gen != nil {
			return m.gen(string(b)), nil
		}
		return m.prefix + string(b), nil
	}
	arg, err := m.render(a)
	if err != nil {
		return "", err
	}
	return m.join(arg), nil
}

func (m *keyMaker[A]) join(arg string) string {
	if m.gen != nil {
		return m.gen(arg)
	}
	return m.prefix + arg
}

func (m *keyMaker[A]) render(a A) (string, error) {
	var buf [128]byte
	b, err := m.enc(buf[:0], reflect.ValueOf(&a).Elem())
	if err != nil {
		return "", fmt.Errorf("dogpile: key of %s for argument %T: %w", m.fn, a, err)
	}
	return string(b), nil
}

// appendScalar renders the scalar at p, of kind k, as the reflective
// rendering would.
func appendScalar(b []byte, k argKind, p unsafe.Pointer) []byte {
	switch k {
	case kindBool:
		return strconv.AppendBool(b, *(*bool)(p))
	case kindInt:
		return strconv.AppendInt(b, int64(*(*int)(p)), 10)
	case kindInt8:
		return strconv.AppendInt(b, int64(*(*int8)(p)), 10)
	case kindInt16:
		return strconv.AppendInt(b, int64(*(*int16)(p)), 10)
	case kindInt32:
		return strconv.AppendInt(b, int64(*(*int32)(p)), 10)
	case kindInt64:
		return strconv.AppendInt(b, *(*int64)(p), 10)
	case kindUint:
		return strconv.AppendUint(b, uint64(*(*uint)(p)), 10)
	case kindUint8:
		return strconv.AppendUint(b, uint64(*(*uint8)(p)), 10)
	case kindUint16:
		return strconv.AppendUint(b, uint64(*(*uint16)(p)), 10)
	case kindUint32:
		return strconv.AppendUint(b, uint64(*(*uint32)(p)), 10)
	case kindUint64:
		return strconv.AppendUint(b, *(*uint64)(p), 10)
	case kindUintptr:
		return strconv.AppendUint(b, uint64(*(*uintptr)(p)), 10)
	case kindFloat32:
		return strconv.AppendFloat(b, float64(*(*float32)(p)), 'g', -1, 32)
	case kindFloat64:
		return strconv.AppendFloat(b, *(*float64)(p), 'g', -1, 64)
	}
	panic("dogpile: appendScalar: not a scalar kind")
}

// An encoder appends the rendering of v to b. v is never read-only (see
// field), so that Interface and Set work on it.
type encoder func(b []byte, v reflect.Value) ([]byte, error)

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// isMarshaler reports whether t renders through MarshalText. Pointers don't:
// a nil pointer has no text, and the pointed-to type decides.
func isMarshaler(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface {
		return false
	}
	return t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

// encCompiler builds encoders, rejecting types that can't be rendered stably.
type encCompiler struct {
	stack []reflect.Type // the types being compiled, to find recursive ones
}

// compileTop builds the rendering of a whole argument, which differs from an
// inner value's in two ways: a string or a marshaler's text is not quoted,
// and a struct's fields are not wrapped in braces — they read like the
// seed's space-separated positional arguments.
func (c *encCompiler) compileTop(t reflect.Type) (encoder, error) {
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

func (c *encCompiler) compile(t reflect.Type) (enc encoder, err error) {
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
func marshalerEncoder(t reflect.Type, quote bool) encoder {
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

func (c *encCompiler) compileStruct(t reflect.Type, braces bool) (encoder, error) {
	type fieldEnc struct {
		i        int
		exported bool
		enc      encoder
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

func (c *encCompiler) compileList(t reflect.Type) (encoder, error) {
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

func (c *encCompiler) compileMap(t reflect.Type) (encoder, error) {
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
