package dogpile_test

import (
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// An argument error never shows a secret: not the value of an argument whose
// name says it is one ("want a string" for a numeric password), and not the
// password of a URL in the value or in the reason (a URL that fails to parse
// is quoted by url.Parse's error).
func TestArgErrorHidesSecrets(t *testing.T) {
	const secret = "S3cr%et-Passw0rd"
	args := dogpile.Args{"password": 31415926, "sentinel_password": []any{secret}, "api_token": map[string]any{"v": secret}}
	for _, name := range []string{"password", "api_token"} {
		if _, err := args.String(name, ""); err == nil || strings.Contains(err.Error(), "31415926") || strings.Contains(err.Error(), secret) {
			t.Errorf("String(%q): %v", name, err)
		}
	}
	if _, err := args.Int("sentinel_password", 0); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Int(sentinel_password): %v", err)
	}
	url := "redis://app:" + secret + "@cache.internal:6379/0"
	err := &dogpile.ArgError{Name: "url", Value: url, Reason: `parse "` + url + `": invalid URL escape "%et"`}
	if msg := err.Error(); strings.Contains(msg, "Passw0rd") || !strings.Contains(msg, "redis://app:xxxxx@cache.internal:6379/0") {
		t.Errorf("a URL's password is shown: %s", msg)
	}
	// What is not secret is still shown.
	if _, err := (dogpile.Args{"db": "three"}).Int("db", 0); err == nil || !strings.Contains(err.Error(), `"three"`) {
		t.Errorf("Int(db): %v", err)
	}
}
