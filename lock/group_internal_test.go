package lock

import "testing"

// Two callers that both find no flight for a key elect one leader: Join
// and Begin look again once they hold the group's lock, so the caller that
// got there second joins (or, with Begin, leaves to) the flight the first
// started instead of starting another — a second leader would be a second
// creation. The second caller is let in through the window between the
// first's lookup and its lock.
func TestOneLeaderWhenAnotherStartsTheFlightFirst(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(g *Group) (*Flight, bool)
	}{
		{"Join", func(g *Group) (*Flight, bool) { return g.Join("k") }},
		{"Begin", func(g *Group) (*Flight, bool) { return g.Begin("k") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			var other *Flight
			g.beforeLock = func() {
				g.beforeLock = nil // the other caller goes straight through
				f, leader := tc.start(&g)
				if !leader {
					t.Fatal("the other caller, first to the lock, does not lead")
				}
				other = f
			}
			f, leader := tc.start(&g)
			if leader {
				t.Fatalf("%s: a second leader for a key another caller started a flight for meanwhile", tc.name)
			}
			if tc.name == "Join" && (f != other || g.Waiters("k") != 1) {
				t.Fatalf("Join: joined %p with %d waiters; want the other caller's flight %p, and 1", f, g.Waiters("k"), other)
			}
			other.Finish(nil, false, nil)
		})
	}
}
