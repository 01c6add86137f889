package tiered

import (
	"encoding/binary"
	"errors"
)

// A message says which keys changed and who changed them:
//
//	offset  size  field
//	0       2     magic "dt"
//	2       1     format version (1)
//	3       1     kind: 0 the keys that follow, 1 every key
//	4       16    origin: the sending tier's random identity
//	20      …     keys, each as a uvarint length and the key's bytes
//
// A receiver that cannot read a message (another version, or damaged)
// treats it as "every key": clearing too much costs remote reads, while
// ignoring a message could serve a stale value.
const (
	msgVersion  = 1
	kindKeys    = 0
	kindAll     = 1
	originLen   = 16
	msgHeader   = 4 + originLen
	maxVarintSz = binary.MaxVarintLen64
)

var errBadMessage = errors.New("dogpile/tiered: unreadable message")

type origin [originLen]byte

func appendHeader(dst []byte, kind byte, from origin) []byte {
	dst = append(dst, 'd', 't', msgVersion, kind)
	return append(dst, from[:]...)
}

// encodeKeys returns the message that keys changed.
func encodeKeys(from origin, keys ...string) []byte {
	n := msgHeader
	for _, k := range keys {
		n += maxVarintSz + len(k)
	}
	b := appendHeader(make([]byte, 0, n), kindKeys, from)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

// encodeAll returns the message that every key may have changed.
func encodeAll(from origin) []byte { return appendHeader(nil, kindAll, from) }

// decodeMessage reads a message. all is true for "every key"; keys holds the
// keys otherwise. An error means the message could not be read.
func decodeMessage(b []byte) (from origin, all bool, keys []string, err error) {
	if len(b) < msgHeader || b[0] != 'd' || b[1] != 't' || b[2] != msgVersion {
		return from, false, nil, errBadMessage
	}
	copy(from[:], b[4:msgHeader])
	switch b[3] {
	case kindAll:
		if len(b) != msgHeader {
			return from, false, nil, errBadMessage
		}
		return from, true, nil, nil
	case kindKeys:
	default:
		return from, false, nil, errBadMessage
	}
	rest := b[msgHeader:]
	for len(rest) > 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return from, false, nil, errBadMessage
		}
		rest = rest[w:]
		keys = append(keys, string(rest[:n]))
		rest = rest[n:]
	}
	return from, false, keys, nil
}
