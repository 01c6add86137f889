package redis

import (
	"bytes"
	"errors"
	"io"
	"slices"
)

// replyBuffer receives a raw reply from go-redis (RawWriteToCmd) into one
// growing buffer. go-redis writes each line with Write and copies each bulk
// string with io.CopyN, which ReadFrom serves by reading its exact length
// into the buffer, with no buffer in between.
type replyBuffer struct{ b []byte }

func (w *replyBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// ReadFrom reads r to its end into the buffer; an *io.LimitedReader (what
// io.CopyN hands it) in one read of its remaining length.
func (w *replyBuffer) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		n := int(lr.N)
		w.b = slices.Grow(w.b, n)
		k, err := io.ReadFull(lr.R, w.b[len(w.b):len(w.b)+n])
		w.b = w.b[:len(w.b)+k]
		lr.N -= int64(k)
		return int64(k), err
	}
	var total int64
	for {
		w.b = slices.Grow(w.b, 512)
		k, err := r.Read(w.b[len(w.b):cap(w.b)])
		w.b = w.b[:len(w.b)+k]
		total += int64(k)
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// errNotValues: a raw reply that is not an array of bulk strings and nulls
// of the expected length (an error reply, above all).
var errNotValues = errors.New("dogpile/redis: reply is not an array of values")

// parseValues reads a raw RESP2 or RESP3 reply to MGET — an array of bulk
// strings, with nulls for missing keys — into out, which has one element per
// key: each value is a slice of raw (no copy; its capacity ends with the
// value, so an append to it cannot write over the next), nil for a null. It
// returns errNotValues for anything else, such as an error reply.
func parseValues(raw []byte, out [][]byte) error {
	line, rest, ok := respLine(raw)
	if !ok || len(line) == 0 || line[0] != '*' {
		return errNotValues
	}
	if n, ok := respLen(line[1:]); !ok || n != len(out) {
		return errNotValues
	}
	for i := range out {
		if line, rest, ok = respLine(rest); !ok || len(line) == 0 {
			return errNotValues
		}
		switch line[0] {
		case '_': // RESP3 null
			if len(line) != 1 {
				return errNotValues
			}
			out[i] = nil
		case '$':
			n, ok := respLen(line[1:])
			switch {
			case !ok:
				return errNotValues
			case n < 0: // RESP2 null bulk string
				out[i] = nil
				continue
			case len(rest) < n+2 || rest[n] != '\r' || rest[n+1] != '\n':
				return errNotValues
			}
			out[i] = rest[:n:n]
			rest = rest[n+2:]
		default:
			return errNotValues
		}
	}
	if len(rest) != 0 {
		return errNotValues
	}
	return nil
}

// respLine splits a CRLF-terminated line off the front of b.
func respLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// respLen reads a length: decimal digits, or -1 (a null).
func respLen(b []byte) (int, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, true
	}
	if len(b) == 0 || len(b) > 9 { // Redis caps bulk strings at 512 MB: 9 digits
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
