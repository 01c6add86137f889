package config

import (
	"strconv"
	"strings"

	"github.com/dogpile-go/dogpile/internal/redact"
)

// Error is a mistake in a configuration: it names the file, the line where
// the format gives one, the key, and what is wrong. It unwraps to the cause
// (a *dogpile.ArgError, dogpile.ErrUnknownBackend, fs.ErrNotExist, a
// decoder's error, …), so errors.Is and errors.As see through it.
type Error struct {
	File string // the path as given to Load or Read
	Line int    // 1-based; 0 when unknown
	Key  string // the full key, such as "cache.local.expiration_time"; empty for the file as a whole
	Msg  string // what is wrong
	Err  error  // the cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	// A decoder's message may quote a line of the file: no URL's password
	// is shown.
	return redact.URLs(b.String())
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// quote shows the value of key in a message, masked when the key says it
// is a secret.
func quote(key string, v any) string { return redact.Value(key, v) }
