package config_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/config"
)

// TestRegionNameCharacters: letters, digits, _ and - make a region name;
// the names Python applications give their regions ("user-sessions") are
// not refused.
func TestRegionNameCharacters(t *testing.T) {
	f, err := config.FromMap("settings", map[string]any{"cache": map[string]any{"user-sessions_2": map[string]any{"backend": "memory"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); len(got) != 1 || got[0] != "user-sessions_2" {
		t.Errorf("regions %v", got)
	}
}

// TestSetTwiceFlatAndNested: a key given both flat (cache.r.backend) and
// nested is a mistake naming the key, not one value silently winning.
func TestSetTwiceFlatAndNested(t *testing.T) {
	_, err := config.FromMap("settings", map[string]any{
		"cache.r.backend": "memory",
		"cache":           map[string]any{"r": map[string]any{"backend": "null"}},
	})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "cache.r.backend" || !strings.HasPrefix(ce.Msg, "set twice") {
		t.Fatalf("error %v; want cache.r.backend set twice", err)
	}
}

// TestWithRegionOptionsWin: the options given to the reader apply to every
// region, after the file's own settings, so they win over them.
func TestWithRegionOptionsWin(t *testing.T) {
	f, err := config.FromMap("settings", map[string]any{"cache": map[string]any{"r": map[string]any{
		"backend": "memory_serialized", "key_prefix": "file:",
	}}}, config.WithRegionOptions(dogpile.WithKeyPrefix("opt:")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Regions[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.Backend().Get(ctx, "opt:k"); !ok {
		t.Error("the value is not stored under the option's key prefix")
	}
}

// TestErrorWithoutMsg: an Error with a cause but no message of its own
// shows the cause's.
func TestErrorWithoutMsg(t *testing.T) {
	err := &config.Error{File: "c.toml", Line: 3, Key: "cache.r.backend", Err: errors.New("boom")}
	if got, want := err.Error(), "c.toml:3: cache.r.backend: boom"; got != want {
		t.Errorf("error %q; want %q", got, want)
	}
}
