package redis

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dogpile-go/dogpile/backend"
	goredis "github.com/redis/go-redis/v9"
)

// SetClientLogger routes go-redis's log lines — a failed dial, a Sentinel
// switching masters, a pool's trouble — to l at level, in place of
// go-redis's default of printing them to standard error. A nil l discards
// them.
//
// go-redis has one logger for the whole process (this calls its SetLogger),
// so the choice holds for every client, this package's and any other, and
// replaces the routing to each backend's logger (RouteClientLogs) that the
// registered factories set up otherwise.
func SetClientLogger(l *slog.Logger, level slog.Level) {
	chooseClientLogger(&slogAdapter{l: l, level: level}, true)
}

// RouteClientLogs routes go-redis's log lines to the backends they concern,
// at level: each line to the client logger (Options.ClientLogger; the
// region's logger otherwise) of every live backend whose server address (or
// Sentinel master name) it names; a line that names none, to those of all
// live backends; with no backend alive, to slog.Default(). Backends made
// with QuietClient take no lines.
//
// Like SetClientLogger it replaces go-redis's process-wide logger. The
// registered factories (Configure("redis", …)) call it at debug level on
// first use — most lines repeat an error the call returns — unless the
// application chose go-redis's logger first (SetClientLogger or
// RouteClientLogs); New and NewFromClient leave go-redis's logger alone, and
// their backends take the routed lines once it is routed.
func RouteClientLogs(level slog.Level) {
	chooseClientLogger(&router{level: level}, true)
}

// clientLog records whether the application chose go-redis's logger, so
// that the factories' default never overrides that choice, and the live
// backends the routed lines go to.
var clientLog struct {
	mu     sync.Mutex
	chosen bool
	live   sync.Map // *logSink → struct{}
}

// defaultClientLogger is the factories' routing of go-redis's log lines:
// to the backends' loggers at debug level, unless the application chose.
func defaultClientLogger() {
	chooseClientLogger(&router{level: slog.LevelDebug}, false)
}

// chooseClientLogger makes l go-redis's logger: always when the application
// chooses, else (the factories' default) only if it has not.
func chooseClientLogger(l interface {
	Printf(context.Context, string, ...any)
}, application bool) {
	clientLog.mu.Lock()
	defer clientLog.mu.Unlock()
	if clientLog.chosen && !application {
		return
	}
	clientLog.chosen = true
	goredis.SetLogger(l)
}

// slogAdapter is go-redis's Logging interface over a *slog.Logger.
type slogAdapter struct {
	l     *slog.Logger
	level slog.Level
}

func (a *slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	if a.l == nil || !a.l.Enabled(ctx, a.level) {
		return
	}
	a.l.Log(ctx, a.level, clientMessage(format, v), "source", "go-redis")
}

func clientMessage(format string, v []any) string {
	return strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
}

// router is go-redis's Logging interface over the live backends' loggers
// (RouteClientLogs).
type router struct{ level slog.Level }

func (r *router) Printf(ctx context.Context, format string, v ...any) {
	msg := clientMessage(format, v)
	var named, all []*slog.Logger
	clientLog.live.Range(func(k, _ any) bool {
		s := k.(*logSink)
		l := s.clientLogger()
		if l == nil {
			return true
		}
		all = appendNew(all, l)
		for _, a := range s.names {
			if strings.Contains(msg, a) {
				named = appendNew(named, l)
				break
			}
		}
		return true
	})
	switch {
	case named != nil:
		all = named
	case all == nil:
		all = []*slog.Logger{slog.Default()}
	}
	for _, l := range all {
		if l.Enabled(ctx, r.level) {
			l.Log(ctx, r.level, msg, "source", "go-redis")
		}
	}
}

func appendNew(ls []*slog.Logger, l *slog.Logger) []*slog.Logger {
	if slices.Contains(ls, l) {
		return ls
	}
	return append(ls, l)
}

// logSink is where a backend's log lines go: its own (Options.Logger) and
// go-redis's about its servers (Options.ClientLogger, QuietClient), or the
// logger of the region it is configured in (SetLogger), or slog.Default().
type logSink struct {
	own, client *slog.Logger
	quiet       bool
	region      atomic.Pointer[slog.Logger]
	names       []string // the servers' addresses and Sentinel master name, as go-redis's lines quote them
}

// newLogSink makes a backend's sink, live for the routed lines until it is
// closed; where is the backend's description of its servers (Backend.where).
func newLogSink(o Options, where string) *logSink {
	s := &logSink{own: o.Logger, client: o.ClientLogger, quiet: o.QuietClient}
	for _, f := range strings.FieldsFunc(where, func(r rune) bool { return r == ' ' || r == ',' }) {
		if strings.Contains(f, ":") || strings.HasPrefix(f, `"`) {
			s.names = append(s.names, f)
		}
	}
	clientLog.live.Store(s, struct{}{})
	return s
}

func (s *logSink) close() { clientLog.live.Delete(s) }

func (s *logSink) ownLogger() *slog.Logger {
	if s.own != nil {
		return s.own
	}
	if l := s.region.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// clientLogger is where go-redis's lines about the backend go; nil: nowhere.
func (s *logSink) clientLogger() *slog.Logger {
	switch {
	case s.quiet:
		return nil
	case s.client != nil:
		return s.client
	}
	return s.ownLogger()
}

// logger is a *slog.Logger that logs to s.ownLogger() as it is at each line,
// for the parts of the backend made before it is configured in a region.
func (s *logSink) logger() *slog.Logger { return slog.New(forward{sink: s}) }

// forward is a slog.Handler that hands each record to the sink's logger of
// the moment, with the attributes and groups it was given.
type forward struct {
	sink *logSink
	with []func(slog.Handler) slog.Handler
}

func (f forward) handler() slog.Handler {
	h := f.sink.ownLogger().Handler()
	for _, w := range f.with {
		h = w(h)
	}
	return h
}

func (f forward) Enabled(ctx context.Context, l slog.Level) bool { return f.handler().Enabled(ctx, l) }

func (f forward) Handle(ctx context.Context, r slog.Record) error { return f.handler().Handle(ctx, r) }

func (f forward) WithAttrs(as []slog.Attr) slog.Handler {
	return f.add(func(h slog.Handler) slog.Handler { return h.WithAttrs(as) })
}

func (f forward) WithGroup(name string) slog.Handler {
	return f.add(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (f forward) add(w func(slog.Handler) slog.Handler) forward {
	return forward{sink: f.sink, with: append(f.with[:len(f.with):len(f.with)], w)}
}

// SetLogger makes l the logger of the backend's lines and of go-redis's
// about its servers, where Options.Logger and Options.ClientLogger are not
// set (backend.LoggerSetter): a region configured with the backend gives it
// its own.
func (b *Backend) SetLogger(l *slog.Logger) { b.logs.region.Store(l) }

var _ backend.LoggerSetter = (*Backend)(nil)
