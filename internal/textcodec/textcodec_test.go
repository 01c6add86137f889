package textcodec

import (
	"reflect"
	"testing"
)

// Types lists exactly what Append and Parse handle: a region that reads an
// entry of one of them into an any parses it as that type, so a type in the
// list the switches lack would be undecodable there.
func TestTypesAreTheTextForms(t *testing.T) {
	for _, typ := range Types {
		v := reflect.New(typ)
		data, ok := Append(v.Elem().Interface())
		if !ok {
			t.Errorf("Append does not encode %v", typ)
		}
		if ok, err := Parse(data, v.Interface()); !ok || err != nil {
			t.Errorf("Parse into *%v: %v, %v", typ, ok, err)
		}
	}
}
