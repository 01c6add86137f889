package dogpile

// FlightWaiters returns how many callers wait for key's creation in r (not
// counting the one running it): a barrier for tests that need a caller to
// have joined a creation before it ends.
func FlightWaiters(r *Region, key string) int { return r.flights.Waiters(r.mangle(key)) }
