package redis

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestParseValues reads the MGET replies of both protocols: values (empty
// ones, and ones holding CRLF), and both spellings of a null.
func TestParseValues(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  string
		want [][]byte
	}{
		{"resp2", "*3\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n", [][]byte{[]byte("a"), nil, {}}},
		{"resp3", "*3\r\n_\r\n$4\r\n\r\n\r\n\r\n$2\r\nbc\r\n", [][]byte{nil, []byte("\r\n\r\n"), []byte("bc")}},
		{"none", "*0\r\n", [][]byte{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := make([][]byte, len(c.want))
			if err := parseValues([]byte(c.raw), out); err != nil {
				t.Fatal(err)
			}
			for i := range c.want {
				if (out[i] == nil) != (c.want[i] == nil) || !bytes.Equal(out[i], c.want[i]) {
					t.Fatalf("value %d = %q (nil: %v), want %q (nil: %v)", i, out[i], out[i] == nil, c.want[i], c.want[i] == nil)
				}
				if cap(out[i]) != len(out[i]) {
					t.Fatalf("value %d has room after it (cap %d, len %d): an append would write over the reply", i, cap(out[i]), len(out[i]))
				}
			}
		})
	}
}

// TestParseValuesRefuses: an error reply, and anything malformed or of
// another length than the keys asked, is errNotValues, never a value.
func TestParseValuesRefuses(t *testing.T) {
	for _, raw := range []string{
		"-ERR something\r\n",
		"-NOAUTH Authentication required.\r\n",
		"*2\r\n$1\r\na\r\n",            // fewer values than keys
		"*1\r\n$1\r\na\r\n",            // (asked for 2)
		"*2\r\n$1\r\na\r\n$5\r\nb\r\n", // a value shorter than its length
		"*2\r\n$1\r\na\r\n$1\r\nbX\n",
		"*2\r\n$1\r\na\r\n:1\r\n", // an integer
		"*2\r\n$1\r\na\r\n$x\r\nb\r\n",
		"*2\r\n$1\r\na\r\n$-2\r\n",
		"*2\r\n$1\r\na\r\n_x\r\n",
		"*2\r\n$1\r\na\r\n_\r\ntrailing",
		"*2\n$1\r\na\r\n_\r\n",
		"",
		"*",
		"*99999999999\r\n",
	} {
		out := make([][]byte, 2)
		if err := parseValues([]byte(raw), out); !errors.Is(err, errNotValues) {
			t.Errorf("parseValues(%q) = %v, %q; want errNotValues", raw, err, out)
		}
	}
}

// FuzzParseValues: no input makes the parser panic or return a value that
// is not inside the reply.
func FuzzParseValues(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n_\r\n"), 2)
	f.Add([]byte("*1\r\n$-1\r\n"), 1)
	f.Fuzz(func(t *testing.T, raw []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		out := make([][]byte, n)
		if parseValues(raw, out) != nil {
			return
		}
		for _, v := range out {
			if len(v) > 0 && !bytes.Contains(raw, v) {
				t.Fatalf("value %q is not in the reply %q", v, raw)
			}
		}
	})
}

// TestReplyBuffer: what go-redis writes — lines through Write, bulk strings
// through io.CopyN — and any other reader, whole, end up in order in the
// buffer; a short source is an error.
func TestReplyBuffer(t *testing.T) {
	w := &replyBuffer{b: make([]byte, 0, 4)}
	src := strings.NewReader("hello, world\r\nrest")
	w.Write([]byte("$12\r\n")) //nolint:errcheck // it does not fail
	if n, err := io.CopyN(w, src, 14); n != 14 || err != nil {
		t.Fatalf("CopyN = %d, %v", n, err)
	}
	if n, err := w.ReadFrom(src); n != 4 || err != nil {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if got := string(w.b); got != "$12\r\nhello, world\r\nrest" {
		t.Fatalf("buffer = %q", got)
	}
	if _, err := io.CopyN(w, strings.NewReader("abc"), 5); err == nil {
		t.Fatal("CopyN of 5 bytes from 3: no error")
	}
}
