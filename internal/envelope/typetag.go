package envelope

import (
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// tags caches TypeTag's work: a type's tag is computed once per process.
var tags sync.Map // reflect.Type → typeInfo

type typeInfo struct {
	tag  uint32
	name string
}

// names maps the tags computed in this process back to their types' names,
// for messages ("written as example.com/app.User").
var names sync.Map // uint32 → string

// NilTag is the tag of a nil interface value, which has no type.
var NilTag = hashName("nil")

// TypeTag returns the type tag of t: FNV-1a (32 bits) of TypeName(t),
// computed once per type. A nil t (the type of a nil interface value) has
// NilTag.
func TypeTag(t reflect.Type) uint32 {
	if t == nil {
		return NilTag
	}
	if x, ok := tags.Load(t); ok {
		return x.(typeInfo).tag
	}
	name := TypeName(t)
	info := typeInfo{tag: hashName(name), name: name}
	tags.Store(t, info)
	names.LoadOrStore(info.tag, name)
	return info.tag
}

// NameOf returns the name of a type whose tag is tag, if this process has
// computed that tag; "" otherwise.
func NameOf(tag uint32) string {
	if tag == NilTag {
		return "nil"
	}
	if n, ok := names.Load(tag); ok {
		return n.(string)
	}
	return ""
}

func hashName(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// TypeName returns the canonical name of t, the same in every build of the
// same code: a named type is its package's import path, a dot and its name
// ("example.com/app.User", "time.Time"; a predeclared type is its name,
// "int", "error"); an unnamed type is spelt from its parts as Go spells it,
// with the canonical names of the types it is made of ("[]example.com/app.User",
// "map[string]int", "*time.Time", "struct{ID int; Name string \"json:\\\"name\\\"\"}").
//
// Unlike reflect.Type.String, it names packages by import path, so two
// packages of the same name don't share tags. A generic type's name carries
// its type arguments as the Go runtime spells them. Renaming a type, or
// moving it to another package, changes its tag: entries written before read
// as misses.
func TypeName(t reflect.Type) string {
	var b strings.Builder
	writeTypeName(&b, t)
	return b.String()
}

func writeTypeName(b *strings.Builder, t reflect.Type) {
	if t.Name() != "" {
		if p := t.PkgPath(); p != "" {
			b.WriteString(p)
			b.WriteByte('.')
		}
		b.WriteString(t.Name())
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		b.WriteByte('*')
		writeTypeName(b, t.Elem())
	case reflect.Slice:
		b.WriteString("[]")
		writeTypeName(b, t.Elem())
	case reflect.Array:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(t.Len()))
		b.WriteByte(']')
		writeTypeName(b, t.Elem())
	case reflect.Map:
		b.WriteString("map[")
		writeTypeName(b, t.Key())
		b.WriteByte(']')
		writeTypeName(b, t.Elem())
	case reflect.Chan:
		switch t.ChanDir() {
		case reflect.RecvDir:
			b.WriteString("<-chan ")
		case reflect.SendDir:
			b.WriteString("chan<- ")
		default:
			b.WriteString("chan ")
		}
		writeTypeName(b, t.Elem())
	case reflect.Func:
		b.WriteString("func(")
		for i := range t.NumIn() {
			if i > 0 {
				b.WriteString(", ")
			}
			if t.IsVariadic() && i == t.NumIn()-1 {
				b.WriteString("...")
				writeTypeName(b, t.In(i).Elem())
				continue
			}
			writeTypeName(b, t.In(i))
		}
		b.WriteByte(')')
		switch t.NumOut() {
		case 0:
		case 1:
			b.WriteByte(' ')
			writeTypeName(b, t.Out(0))
		default:
			b.WriteString(" (")
			for i := range t.NumOut() {
				if i > 0 {
					b.WriteString(", ")
				}
				writeTypeName(b, t.Out(i))
			}
			b.WriteByte(')')
		}
	case reflect.Struct:
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			if i > 0 {
				b.WriteString("; ")
			}
			if !f.Anonymous {
				if f.PkgPath != "" { // unexported: its package is part of its identity
					b.WriteString(f.PkgPath)
					b.WriteByte('.')
				}
				b.WriteString(f.Name)
				b.WriteByte(' ')
			}
			writeTypeName(b, f.Type)
			if f.Tag != "" {
				b.WriteByte(' ')
				b.WriteString(strconv.Quote(string(f.Tag)))
			}
		}
		b.WriteByte('}')
	default:
		// An unnamed interface: its method set, as reflect spells it
		// ("interface {}", "interface { String() string }").
		b.WriteString(t.String())
	}
}
