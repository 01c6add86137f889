package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// SetClientLogger routes go-redis's log lines — a failed dial, a Sentinel
// switching masters, a pool's trouble — to l at level, in place of
// go-redis's default of printing them to standard error. A nil l discards
// them.
//
// go-redis has one logger for the whole process (this calls its SetLogger),
// so the choice holds for every client, this package's and any other. The
// backends made by the registered factories (Configure("redis", …)) route
// the lines to slog.Default() at debug level on first use, unless
// SetClientLogger was called before: most of them repeat an error that the
// call returns anyway. New and NewFromClient leave go-redis's logger alone.
func SetClientLogger(l *slog.Logger, level slog.Level) {
	clientLog.mu.Lock()
	defer clientLog.mu.Unlock()
	clientLog.chosen = true
	goredis.SetLogger(&slogAdapter{l: l, level: level})
}

// clientLog records whether the application chose go-redis's logger, so
// that the factories' default never overrides that choice.
var clientLog struct {
	mu     sync.Mutex
	chosen bool
}

// defaultClientLogger is the factories' routing of go-redis's log lines:
// slog.Default() at debug level, unless the application chose.
func defaultClientLogger() {
	clientLog.mu.Lock()
	defer clientLog.mu.Unlock()
	if clientLog.chosen {
		return
	}
	clientLog.chosen = true
	goredis.SetLogger(&slogAdapter{l: nil, level: slog.LevelDebug, useDefault: true})
}

// slogAdapter is go-redis's Logging interface over a *slog.Logger.
type slogAdapter struct {
	l          *slog.Logger
	level      slog.Level
	useDefault bool // slog.Default() at the time of each line
}

func (a *slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	l := a.l
	if a.useDefault {
		l = slog.Default()
	}
	if l == nil || !l.Enabled(ctx, a.level) {
		return
	}
	msg := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
	l.Log(ctx, a.level, msg, "source", "go-redis")
}
