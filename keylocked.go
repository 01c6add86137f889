package dogpile

import (
	"context"

	"github.com/dogpile-go/dogpile/lock"
)

// KeyIsLocked reports whether key's value is being created: by a
// GetOrCreate, GetOrCreateMulti or cached function in this process, or by any
// process sharing the store where the backend's distributed mutex can tell
// (it implements lock.Prober; a lock that is a key in the store can). It is
// Python dogpile.cache's key_is_locked.
//
// The answer may be out of date as soon as it is returned: it is for
// monitoring, or for deciding whether to wait, never for mutual exclusion.
// While a fail-open region skips a failing backend, only this process is
// asked.
func (r *Region) KeyIsLocked(ctx context.Context, key string) (bool, error) {
	s, err := r.configured()
	if err != nil {
		return false, err
	}
	k, err := s.storageKey(key)
	if err != nil {
		return false, err
	}
	if r.flights.InFlight(k) {
		return true, nil
	}
	if s.mutexes == nil || r.failOpen && r.breakerOpen() {
		return false, nil
	}
	p, ok := lock.As[lock.Prober](s.mutexes.Mutex(k))
	if !ok {
		return false, nil
	}
	held, err := p.Locked(ctx)
	if err != nil {
		if err = s.wrap("locked", k, err); r.failed(err) {
			return false, nil
		}
		return false, err
	}
	return held, nil
}
