package msgpack_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/msgpack"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

func TestConformance(t *testing.T) { dogpiletest.TestCodec(t, msgpack.Codec) }

// Importing the package registers the codec by name, for configuration files.
func TestRegistered(t *testing.T) {
	if c, err := codec.Lookup("msgpack"); err != nil || c != msgpack.Codec {
		t.Fatalf("Lookup(msgpack) = %v, %v", c, err)
	}
}
