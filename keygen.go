package dogpile

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unsafe"

	"github.com/dogpile-go/dogpile/internal/argkey"
)

// KeyGenerator makes the key function of one cached function:
// function_key_generator in Python's dogpile.cache. It is called once, by Cached or CachedMulti, with
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
// as in Python's dogpile.cache, whose keys are "module:function|namespace|args",
// with one difference: in each of the three parts, the separator | is
// written %7C and the escape character % is written %25, so that no
// argument or namespace can make two calls share a key (an argument "ns|x"
// of a function without a namespace is not the argument "x" in namespace
// "ns"). Parts without either character are as they are. A custom
// generator can wrap it, for instance to add a version:
//
//	func(name, ns string) func(string) string {
//		key := dogpile.FunctionKeyGenerator(name, ns)
//		return func(arg string) string { return "v2:" + key(arg) }
//	}
func FunctionKeyGenerator(name, namespace string) func(arg string) string {
	prefix := keyPrefix(name, namespace)
	return func(arg string) string { return prefix + escapeKeyPart(arg) }
}

// keyPrefix is the part of FunctionKeyGenerator's keys before the argument.
func keyPrefix(name, namespace string) string {
	if namespace == "" {
		return escapeKeyPart(name) + "|"
	}
	return escapeKeyPart(name) + "|" + escapeKeyPart(namespace) + "|"
}

// escapeKeyPart escapes a part of a function key: the separator | as %7C and
// the escape character % as %25, so that parts can't run into each other.
// Both are ASCII, never inside a multi-byte UTF-8 sequence, so the bytes
// are scanned one by one.
func escapeKeyPart(s string) string {
	if !needsEscape(s) {
		return s // the common case, scanned without a call
	}
	return string(appendKeyPart(make([]byte, 0, len(s)+8), s))
}

func needsEscape(s string) bool {
	for i := range len(s) {
		if s[i] == '|' || s[i] == '%' {
			return true
		}
	}
	return false
}

// appendKeyPart appends s to b, escaped as escapeKeyPart does.
func appendKeyPart(b []byte, s string) []byte {
	if !needsEscape(s) {
		return append(b, s...)
	}
	for i := range len(s) {
		switch s[i] {
		case '|':
			b = append(b, "%7C"...)
		case '%':
			b = append(b, "%25"...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}

// WithFunctionKeyGenerator sets the KeyGenerator of the functions that
// Cached and CachedMulti make on this region (FunctionKeyGenerator
// otherwise).
func WithFunctionKeyGenerator(g KeyGenerator) RegionOption {
	return func(r *Region) { r.keyGen = g }
}

// funcName is a function's identity in keys: its name as the runtime reports
// it, without the directories of its package path — "users.Load" for
// example.com/app/users.Load, the way Go code names it. The directories
// would make every key some 30 to 60 bytes longer (hashed and compared at
// every hit) and change with nothing but a module's path; what stays is
// what the code says. A generic function's name ends in "[...]" whatever its
// type arguments; the argument and value types replace the dots, so that
// two instantiations don't share keys.
func funcName(fn any, a, v reflect.Type) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return ""
	}
	return strings.Replace(shortName(f.Name()), "[...]", "["+a.String()+","+v.String()+"]", 1)
}

// shortName is a runtime function name without its package's directories.
// The runtime writes the dots of a path's last element as %2e, so the last
// slash ends the directories.
func shortName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// keyMaker turns a cached function's arguments into keys.
type keyMaker[A any] struct {
	fn     string              // the function's name, for errors
	prefix string              // FunctionKeyGenerator's, when gen is nil
	gen    func(string) string // a region's KeyGenerator's key function
	toStr  func(A) string      // KeyFunc
	fast   argkey.Kind
	enc    argkey.Encoder // the default rendering, when fast is argkey.Reflect
}

// newKeyMaker builds the key function of a cached function. It fails when A
// has no stable rendering and there is no KeyFunc (render).
func newKeyMaker[A any](r *Region, name, namespace string, render func(A) string) (*keyMaker[A], error) {
	m := &keyMaker[A]{fn: name, toStr: render}
	if g := r.keyGen; g != nil {
		m.gen = g(name, namespace)
	} else {
		m.prefix = keyPrefix(name, namespace)
	}
	if m.toStr != nil {
		return m, nil // the type needn't be renderable: the key function renders it
	}
	t := reflect.TypeFor[A]()
	m.fast = argkey.KindOf(t)
	enc, err := argkey.Compile(t)
	if err != nil {
		return nil, err
	}
	m.enc = enc
	return m, nil
}

// keyBuf is the buffer a call renders its key into for the lookup, on its
// stack: most keys fit.
type keyBuf [96]byte

// lookupKey returns a's key, as key does. With the default key generator and
// a string or scalar A, the key is rendered into buf and the string returned
// shares its memory: it is for a lookup that keeps nothing (the slow path
// copies it), and a hit allocates nothing.
func (m *keyMaker[A]) lookupKey(buf *keyBuf, a A) (string, error) {
	var b []byte
	switch {
	case m.gen != nil || m.toStr == nil && m.fast == argkey.Reflect:
		return m.key(a)
	case m.toStr != nil:
		b = appendKeyPart(append(buf[:0], m.prefix...), m.toStr(a)) // KeyFunc's string is its one allocation
	default:
		b = m.appendFast(append(buf[:0], m.prefix...), &a)
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// appendFast appends the rendering of *a, a string or scalar (m.fast is
// not argkey.Reflect), escaped for FunctionKeyGenerator's keys.
func (m *keyMaker[A]) appendFast(b []byte, a *A) []byte {
	// m.fast is set only when A's kind is that scalar's, so A's memory is
	// that scalar: reading it through unsafe covers named types (type UserID
	// int) with neither reflection nor an interface conversion.
	if m.fast == argkey.String {
		return appendKeyPart(b, *(*string)(unsafe.Pointer(a)))
	}
	// Numbers and booleans have no character to escape.
	return argkey.AppendScalar(b, m.fast, unsafe.Pointer(a))
}

// key returns a's key, unmangled.
func (m *keyMaker[A]) key(a A) (string, error) {
	switch {
	case m.toStr != nil:
		return m.join(m.toStr(a)), nil
	case m.fast == argkey.Reflect:
		arg, err := m.render(a)
		if err != nil {
			return "", err
		}
		return m.join(arg), nil
	case m.gen != nil && m.fast == argkey.String:
		return m.gen(*(*string)(unsafe.Pointer(&a))), nil // a generator escapes as it likes
	case m.gen != nil:
		var buf [40]byte
		return m.gen(string(argkey.AppendScalar(buf[:0], m.fast, unsafe.Pointer(&a)))), nil
	}
	var buf keyBuf
	return string(m.appendFast(append(buf[:0], m.prefix...), &a)), nil
}

// join makes the key of the rendered argument arg: the region's generator
// gets it as it is; the default escapes it, as FunctionKeyGenerator does.
func (m *keyMaker[A]) join(arg string) string {
	if m.gen != nil {
		return m.gen(arg)
	}
	return m.prefix + escapeKeyPart(arg)
}

func (m *keyMaker[A]) render(a A) (string, error) {
	var buf [128]byte
	b, err := m.enc(buf[:0], reflect.ValueOf(&a).Elem())
	if err != nil {
		return "", fmt.Errorf("dogpile: key of %s for argument %T: %w", m.fn, a, err)
	}
	return string(b), nil
}
