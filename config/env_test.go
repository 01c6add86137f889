package config

import (
	"strings"
	"testing"
)

// TestNestedDefaults: a default may hold references of its own
// (${A:-${B}}), expanded as the shell expands them; what cannot be expanded
// is an error, never a literal "${B}" left in the value.
func TestNestedDefaults(t *testing.T) {
	env := map[string]string{"B": "bee", "EMPTY": "", "C": "sea"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	for in, want := range map[string]string{
		"${A:-${B}}":               "bee",
		"${A:-${MISSING:-${C}}}/x": "sea/x",
		"${EMPTY:-${B}-${C}}":      "bee-sea",
		"${B:-${MISSING}}":         "bee", // the default is not needed, so not expanded
		"${A:-$${B}}":              "${B}",
		"${A:-}":                   "",
		"pre-${A:-a}-${B}-post":    "pre-a-bee-post",
		"$HOME and $${X}":          "$HOME and ${X}",
		"${A:-x}}":                 "x}",
		"${A:-$${}":                "${", // $${ in a default opens no reference, so the } closes
	} {
		got, err := expand(in, lookup)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, wantErr := range map[string]string{
		"${A:-${MISSING}}": "environment variable MISSING is not set",
		"${A:-${B}":        "has no closing }",
		"${A:-${B:-${C}}":  "has no closing }",
		"${${B}}":          "must start with an environment variable name",
		"${A:-${1BAD}}":    "must start with an environment variable name",
		"secret${":         "has no closing }",
		"${A}":             "environment variable A is not set",
	} {
		got, err := expand(in, lookup)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("expand(%q) = %q, %v; want an error saying %q", in, got, err, wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("expand(%q): the error quotes the value: %v", in, err)
		}
	}
}
