package tmplcache

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/dogpile-go/dogpile"
)

// kind is the template package a fragment was rendered by. It is part of the
// key and of the stored value, so that a text/template fragment (unescaped)
// is never taken for an html/template one (trusted as HTML).
type kind uint8

const (
	kindText kind = iota + 1
	kindHTML
)

func (k kind) String() string {
	if k == kindHTML {
		return "html"
	}
	return "text"
}

// marker starts every stored fragment: "tmplcache/1 html\n" or
// "tmplcache/1 text\n". A value under a fragment key without it — written by
// other code, by the other template package, or by another format version —
// is not served.
func (k kind) marker() string {
	if k == kindHTML {
		return "tmplcache/1 html\n"
	}
	return "tmplcache/1 text\n"
}

// fragmentKey returns the key of a fragment in its region:
//
//	tmplcache:<package>:<template name>|<key>
//
// as in "tmplcache:html:sidebar|42": the library's convention for generated
// keys ("name|arg", as dogpile.Cached makes them), with the template package
// and name as the name. A template name may not contain "|", which ends it:
// so no two fragments share a key.
func fragmentKey(k kind, name string, key any) (string, error) {
	if strings.Contains(name, "|") {
		return "", &dogpile.ArgError{Name: "template name", Value: name, Reason: `contains "|", which ends the template name in fragment keys`}
	}
	ks, err := renderKey(key)
	if err != nil {
		return "", err
	}
	return "tmplcache:" + k.String() + ":" + name + "|" + ks, nil
}

// renderKey renders a fragment's key argument as Cached renders a scalar
// argument, so that processes agree on keys: a string as it is, a bool as
// true or false, an integer in decimal, a float by strconv.FormatFloat(f, 'g',
// -1, bits), a TextMarshaler (time.Time, netip.Addr, …) as its text. Other
// types have no rendering that is the same in every process: build a string
// in the template (printf "%d-%s" .ID .Lang).
func renderKey(key any) (string, error) {
	if m, ok := key.(encoding.TextMarshaler); ok {
		if v := reflect.ValueOf(key); v.Kind() == reflect.Pointer && v.IsNil() {
			return "", &dogpile.ArgError{Name: "key", Reason: fmt.Sprintf("(%T)(nil): a nil pointer has no text", key)}
		}
		b, err := m.MarshalText()
		if err != nil {
			return "", &dogpile.ArgError{Name: "key", Reason: fmt.Sprintf("%T.MarshalText: %v", key, err)}
		}
		return string(b), nil
	}
	v := reflect.ValueOf(key)
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits()), nil
	}
	// The type is in the reason, not the value: an argument named key is
	// masked in messages, as a secret's would be, and a type is none.
	return "", &dogpile.ArgError{Name: "key",
		Reason: fmt.Sprintf("want a string, bool, number or encoding.TextMarshaler, not %T (build one with printf)", key)}
}
