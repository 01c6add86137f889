package statsexport_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/statsexport"
)

// Every field of dogpile.Stats is read by exactly one counter, so that a
// field added to Stats without a counter here fails: both exporters would
// leave it out.
func TestCountersReadEveryStatsField(t *testing.T) {
	typ := reflect.TypeFor[dogpile.Stats]()
	if len(statsexport.Counters) != typ.NumField() {
		t.Fatalf("%d counters for the %d fields of Stats", len(statsexport.Counters), typ.NumField())
	}
	for i := range typ.NumField() {
		var s dogpile.Stats
		f := reflect.ValueOf(&s).Elem().Field(i)
		want := 7.0
		if f.Type() == reflect.TypeFor[time.Duration]() {
			f.SetInt(int64(7 * time.Second))
		} else {
			f.SetUint(7)
		}
		readers := 0
		for _, c := range statsexport.Counters {
			switch v := c.Value(s); v {
			case 0:
			case want:
				readers++
			default:
				t.Errorf("%s reads %s = 7 as %v", c.Prometheus, typ.Field(i).Name, v)
			}
		}
		if readers != 1 {
			t.Errorf("%d counters read Stats.%s, want 1", readers, typ.Field(i).Name)
		}
	}
}
