package testutil

import "testing"

// SteadyAllocs is testing.AllocsPerRun of f in the steady state: the fewest
// of five measurements of runs calls each. A client that dials a new
// connection, or grows a pool, during one measurement adds its
// allocations to that one alone; what a call itself allocates is in all.
func SteadyAllocs(runs int, f func()) float64 {
	least := testing.AllocsPerRun(runs, f)
	for range 4 {
		least = min(least, testing.AllocsPerRun(runs, f))
	}
	return least
}
