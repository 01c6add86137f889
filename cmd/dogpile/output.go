package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keys and values are bytes: a key may hold a newline, which would make a
// listing of keys ambiguous, and a value an ANSI escape sequence, which a
// terminal would obey. What the command prints for people is escaped; --raw
// prints the bytes.

// escapeKey shows a key (or another name from the store) on one line,
// unambiguously: a backslash, a control character, a character that is not
// printable (a bidirectional override, say) or a byte that is not UTF-8 is
// written as a Go escape (\\, \n, \x1b, \u202e, \xff). Printable text,
// accents and all, is left as it is.
func escapeKey(s string) string { return escape(s, true) }

// escapeValue shows a value on a terminal: as escapeKey, except that
// newlines and tabs are kept (a JSON value reads better on its lines) and a
// backslash is left alone (a value is shown, not parsed).
func escapeValue(s string) string { return escape(s, false) }

func escape(s string, key bool) string {
	if !needsEscape(s, key) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' && key:
			b.WriteString(`\\`)
		case (r == '\n' || r == '\t') && !key:
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, key bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\\' && key || !unicode.IsPrint(r) && (key || r != '\n' && r != '\t') {
			return true
		}
		i += size
	}
	return false
}

// terminal reports whether w is a terminal (a character device), where
// values are shown escaped and a progress line can rewrite itself.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
