// Package redact keeps secrets out of error messages: the values of
// arguments whose names say they are secret, and the passwords of URLs,
// parseable or not.
package redact

import (
	"fmt"
	"regexp"
	"strings"
)

// Mask replaces a secret in messages, as url.URL.Redacted does.
const Mask = "xxxxx"

// secretWords are the parts of a name ("sentinel_password",
// "cache.shared.arguments.api-token") that make its value a secret.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "secret": true, "secrets": true,
	"token": true, "tokens": true, "credential": true, "credentials": true, "apikey": true,
}

// IsSecret reports whether an argument or key called name holds a secret:
// a part of its last dotted segment (split at _ and -) is a word such as
// password, secret or token, or the segment ends in "key" or "keys"
// (api_key, signing_keys) — but not key_prefix or key_mangler, where "key"
// describes what the setting is about.
func IsSecret(name string) bool {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' })
	for _, p := range parts {
		if secretWords[p] {
			return true
		}
	}
	if n := len(parts); n > 0 && (parts[n-1] == "key" || parts[n-1] == "keys") {
		return true
	}
	return false
}

// userinfo matches the password of a URL's user information, in a URL or in
// text that quotes one (a parse error: `parse "redis://u:p%zz@h"`). The
// password ends at the last @ before the host, so that an @ inside it does
// not leave its tail behind.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:"']*:)[^\s"']*@`)

// queryParam matches a parameter of a URL's query: its separator, name and
// value (go-redis reads "?password=…", other clients "?token=…").
var queryParam = regexp.MustCompile(`([?&;])([A-Za-z0-9_.-]+)=([^&;#\s"']*)`)

// URLs returns s with the password of every URL in it, and the values of
// its query parameters whose names say they are secret, replaced by Mask.
func URLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	s = userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	if !strings.Contains(s, "=") {
		return s
	}
	return queryParam.ReplaceAllStringFunc(s, func(p string) string {
		m := queryParam.FindStringSubmatch(p)
		if !IsSecret(m[2]) {
			return p
		}
		return m[1] + m[2] + "=" + Mask
	})
}

// Value shows the value of the argument or key called name in a message:
// Mask for a secret, a string quoted (with any URL's password masked),
// anything else as fmt.Print shows it.
func Value(name string, v any) string {
	if IsSecret(name) {
		return Mask
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", URLs(s))
	}
	return URLs(fmt.Sprint(v))
}

// Type names the type of v with its article, for messages that show the type
// of a value and not the value: "an int", "a string", "a []interface {}".
func Type(v any) string {
	if v == nil {
		return "nothing"
	}
	t := fmt.Sprintf("%T", v)
	if strings.ContainsRune("aeiou", rune(t[0])) {
		return "an " + t
	}
	return "a " + t
}
