package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// LogRecorder is a slog.Handler that keeps every record at any level, as
// one line of "LEVEL message key=value ...", for tests of what a component
// logs. It is safe for concurrent use.
type LogRecorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

// NewLogRecorder returns an empty recorder.
func NewLogRecorder() *LogRecorder { return &LogRecorder{mu: &sync.Mutex{}, lines: new([]string)} }

// Logger returns a logger that logs to the recorder.
func (h *LogRecorder) Logger() *slog.Logger { return slog.New(h) }

// Lines returns the lines recorded so far that contain every one of subs.
func (h *LogRecorder) Lines(subs ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
next:
	for _, l := range *h.lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func (h *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *LogRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *LogRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogRecorder{mu: h.mu, lines: h.lines, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

// WithGroup is not kept apart: the recorder's lines are flat.
func (h *LogRecorder) WithGroup(string) slog.Handler { return h }
