package msgpack_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/codec/msgpack"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

func TestConformance(t *testing.T) { dogpiletest.TestCodec(t, msgpack.Codec) }
