package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestIsSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "sentinel_password": true, "PASSWORD": true, "cache.shared.arguments.password": true,
		"client_secret": true, "api-token": true, "api_key": true, "signing_keys": true, "key": true, "apikey": true,
		"key_prefix": false, "key_mangler": false, "url": false, "username": false, "lock_prefix": false,
		"keys": true, "monkey": false, "passive": false, "filename": false,
	} {
		if got := IsSecret(name); got != want {
			t.Errorf("IsSecret(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestURLs(t *testing.T) {
	const marker = "S3cr%et-Passw0rd"
	for _, s := range []string{
		"redis://app:" + marker + "@cache.internal:6379/0",
		`parse "redis://app:` + marker + `@cache.internal:6379/0": invalid URL escape "%et"`,
		"rediss://:" + marker + "@h/1 and memcached://u:" + marker + "@h",
		"redis://app:p@ss" + marker + "@host:1/0", // an @ in the password
	} {
		got := URLs(s)
		if strings.Contains(got, marker) || strings.Contains(got, "Passw0rd") {
			t.Errorf("URLs(%q) = %q: the password is still there", s, got)
		}
		if !strings.Contains(got, Mask+"@") {
			t.Errorf("URLs(%q) = %q: no mask", s, got)
		}
	}
	// What url.URL.Redacted does for a URL that parses.
	u, _ := url.Parse("redis://app:secret@h:6379/0")
	if got := URLs(u.String()); got != u.Redacted() {
		t.Errorf("URLs = %q; url.Redacted = %q", got, u.Redacted())
	}
	for _, s := range []string{"redis://h:6379/0", "no url here", "redis://user@h", "a:b@c"} {
		if got := URLs(s); got != s {
			t.Errorf("URLs(%q) = %q; want it unchanged", s, got)
		}
	}
}

// A query parameter whose name says it is secret is masked; others stay.
func TestURLsQuery(t *testing.T) {
	for in, want := range map[string]string{
		"redis://h:6379/0?password=S3cret&dial_timeout=xx":          "redis://h:6379/0?password=" + Mask + "&dial_timeout=xx",
		`argument "url" = "redis://h/0?db=1&api_token=S3cret": bad`: `argument "url" = "redis://h/0?db=1&api_token=` + Mask + `": bad`,
		"memcached://h?timeout=1s":                                  "memcached://h?timeout=1s",
		"a=b, no URL here":                                          "a=b, no URL here",
	} {
		if got := URLs(in); got != want {
			t.Errorf("URLs(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestValue(t *testing.T) {
	if got := Value("password", 12345); got != Mask {
		t.Errorf("Value(password, 12345) = %q", got)
	}
	if got := Value("url", "redis://u:pw@h"); got != `"redis://u:xxxxx@h"` {
		t.Errorf("Value(url, …) = %s", got)
	}
	if got := Value("db", 3); got != "3" {
		t.Errorf("Value(db, 3) = %s", got)
	}
}

func TestType(t *testing.T) {
	for v, want := range map[any]string{5: "an int", "x": "a string", 1.5: "a float64", true: "a bool"} {
		if got := Type(v); got != want {
			t.Errorf("Type(%#v) = %q; want %q", v, got, want)
		}
	}
	if got := Type([]any{1}); got != "a []interface {}" {
		t.Errorf("Type of a slice = %q", got)
	}
	if got := Type(nil); got != "nothing" {
		t.Errorf("Type(nil) = %q", got)
	}
}
