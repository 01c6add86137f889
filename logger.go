package dogpile

import "github.com/dogpile-go/dogpile/backend"

// lendLogger gives b the region's logger, if it takes one.
func (r *Region) lendLogger(b Backend) {
	if ls, ok := b.(backend.LoggerSetter); ok {
		ls.SetLogger(r.logger)
	}
}
