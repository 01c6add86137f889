package suggest

import "testing"

func TestClosest(t *testing.T) {
	cmds := []string{"get", "set", "delete", "invalidate", "inspect", "keys", "stats", "bench", "demo"}
	for _, c := range []struct {
		word, want string
		ok         bool
	}{
		{"gte", "get", true},              // a transposition
		{"GET", "get", true},              // case
		{"invaldate", "invalidate", true}, // a deletion
		{"stat", "stats", true},
		{"x", "", false},          // one letter is no evidence
		{"frobnicate", "", false}, // nothing near
	} {
		got, ok := Closest(c.word, cmds)
		if got != c.want || ok != c.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", c.word, got, ok, c.want, c.ok)
		}
	}
	if _, ok := Closest("get", nil); ok {
		t.Error("a suggestion from no candidates")
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"expriation", "expiration", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
		{"fiel", "file", 1}, {"héllo", "hello", 1},
	} {
		if d := Distance(c.a, c.b); d != c.d {
			t.Errorf("Distance(%q, %q) = %d; want %d", c.a, c.b, d, c.d)
		}
	}
}

// Of candidates equally near, the first given is suggested: the caller's
// order (a sorted list) decides, so that a message is the same every time.
func TestClosestTieGoesToTheFirst(t *testing.T) {
	for _, cands := range [][]string{{"set", "get"}, {"get", "set"}} {
		if got, ok := Closest("xet", cands); !ok || got != cands[0] {
			t.Errorf("Closest(%q, %q) = %q, %v; want the first, %q", "xet", cands, got, ok, cands[0])
		}
	}
}
