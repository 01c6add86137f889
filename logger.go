package dogpile

import "log/slog"

// LoggerSetter is implemented by backends that log, or whose client
// library does (go-redis): Configure and ConfigureBackend give such a
// backend the region's logger (WithLogger; slog.Default() otherwise), so
// that its lines go where the region's do. A backend given a logger of its
// own keeps it. A backend shared by several regions has the logger of the
// last one configured with it.
type LoggerSetter interface {
	SetLogger(l *slog.Logger)
}

// lendLogger gives b the region's logger, if it takes one.
func (r *Region) lendLogger(b Backend) {
	if ls, ok := b.(LoggerSetter); ok {
		ls.SetLogger(r.logger)
	}
}
