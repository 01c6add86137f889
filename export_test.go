package dogpile

// Hooks for the package's external tests (package dogpile_test): reachable
// only from test binaries.

// FlightWaiters returns how many callers wait for key's creation in r (not
// counting the one running it): a barrier for tests that need a caller to
// have joined a creation before it ends.
func FlightWaiters(r *Region, key string) int {
	s, err := r.configured()
	if err != nil {
		return 0
	}
	k, err := s.storageKey(key)
	if err != nil {
		return 0
	}
	return r.flights.Waiters(k)
}
