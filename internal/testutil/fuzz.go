package testutil

import "time"

// Record is a struct of the kinds users cache, tagged for both the JSON and
// the MessagePack codec, for codecs' fuzz targets to decode into.
type Record struct {
	ID    int64             `json:"id" msgpack:"id"`
	Name  string            `json:"name" msgpack:"name"`
	Tags  []string          `json:"tags" msgpack:"tags"`
	Attrs map[string]string `json:"attrs" msgpack:"attrs"`
	At    time.Time         `json:"at" msgpack:"at"`
}

// UnmarshalEach decodes data with c into a new value of each type users
// cache (scalars, []byte, a Record, a slice of them, a map, any) and ignores
// the errors: it is the body every codec's fuzz target shares, where only a
// panic or an allocation the data cannot justify is a failure, and so it is
// written once for all of them.
func UnmarshalEach(c interface{ Unmarshal([]byte, any) error }, data []byte) {
	for _, ptr := range []any{new(string), new(int), new([]byte), new(Record), new([]Record), new(map[string]int), new(any)} {
		_ = c.Unmarshal(data, ptr)
	}
}
