package proxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/lockhook"
	"github.com/dogpile-go/dogpile/lock"
)

// Logging returns a proxy that logs every backend call with log/slog: the
// operation, the key (or the number of keys), the latency and the outcome
// (hit, miss, ok, or the error). Successful calls are logged at level, errors
// at slog.LevelError.
func Logging(logger *slog.Logger, level slog.Level) dogpile.Proxy {
	return func(next dogpile.Backend) dogpile.Backend {
		return &logging{Base: Base{Next: next}, log: logger, level: level}
	}
}

type logging struct {
	Base
	log   *slog.Logger
	level slog.Level
}

func (l *logging) done(ctx context.Context, op string, start time.Time, outcome string, err error, attrs ...slog.Attr) {
	level := l.level
	if err != nil {
		level, outcome = slog.LevelError, err.Error()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs = append(attrs, slog.String("op", op), slog.Duration("latency", time.Since(start)), slog.String("outcome", outcome))
	l.log.LogAttrs(ctx, level, "dogpile backend call", attrs...)
}

// ValuesImmutable reports Next's answer (backend.Immutable): the proxy hands
// on Next's values as they are.
func (l *logging) ValuesImmutable() bool { return backend.ValuesImmutable(l.Next) }

func (l *logging) Get(ctx context.Context, key string) ([]byte, bool, error) {
	start := time.Now()
	v, ok, err := l.Base.Get(ctx, key)
	l.done(ctx, "get", start, map[bool]string{true: "hit", false: "miss"}[ok], err, slog.String("key", key))
	return v, ok, err
}

func (l *logging) Set(ctx context.Context, key string, value []byte) error {
	start := time.Now()
	err := l.Base.Set(ctx, key, value)
	l.done(ctx, "set", start, "ok", err, slog.String("key", key), slog.Int("bytes", len(value)))
	return err
}

func (l *logging) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := l.Base.Delete(ctx, key)
	l.done(ctx, "delete", start, "ok", err, slog.String("key", key))
	return err
}

func (l *logging) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	start := time.Now()
	vs, err := l.Base.GetMulti(ctx, keys)
	hits := 0
	for _, v := range vs {
		if v != nil {
			hits++
		}
	}
	l.done(ctx, "get_multi", start, "ok", err, slog.Int("keys", len(keys)), slog.Int("hits", hits))
	return vs, err
}

func (l *logging) SetMulti(ctx context.Context, items map[string][]byte) error {
	start := time.Now()
	err := l.Base.SetMulti(ctx, items)
	l.done(ctx, "set_multi", start, "ok", err, slog.Int("keys", len(items)))
	return err
}

func (l *logging) DeleteMulti(ctx context.Context, keys []string) error {
	start := time.Now()
	err := l.Base.DeleteMulti(ctx, keys)
	l.done(ctx, "delete_multi", start, "ok", err, slog.Int("keys", len(keys)))
	return err
}

func (l *logging) Mutex(key string) lock.Mutex {
	return lockhook.Wrap(l.Base.Mutex(key), func(ctx context.Context, op lockhook.Op, start time.Time, held bool, err error) {
		outcome := "acquired"
		switch {
		case op == lockhook.Unlock:
			outcome = "released"
		case !held:
			outcome = "busy"
		}
		l.done(ctx, string(op), start, outcome, err, slog.String("key", key))
	})
}
