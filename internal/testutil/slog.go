package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
)

// LogRecorder is a slog.Handler, enabled from its level up, that keeps every
// record it is handed, for tests of what a component logs: as one line of
// "LEVEL message key=value ..." (Lines), or as its level and attributes
// (Take). It is safe for concurrent use.
type LogRecorder struct {
	floor slog.Level
	mu    *sync.Mutex
	kept  *[]Logged
	taken *int // how many of kept Take has returned
	attrs []slog.Attr
}

// Logged is a record a LogRecorder kept.
type Logged struct {
	Level slog.Level
	// Attrs are its attributes, the logger's own included, each value as
	// its text (slog.Value.String: a duration as "2ms").
	Attrs map[string]string
	line  string
}

// NewLogRecorder returns an empty recorder of records at every level.
func NewLogRecorder() *LogRecorder { return NewLogRecorderFrom(slog.Level(math.MinInt)) }

// NewLogRecorderFrom returns an empty recorder enabled for records at level
// and above only, as a logger set to level would be.
func NewLogRecorderFrom(level slog.Level) *LogRecorder {
	return &LogRecorder{floor: level, mu: &sync.Mutex{}, kept: new([]Logged), taken: new(int)}
}

// Logger returns a logger that logs to the recorder.
func (h *LogRecorder) Logger() *slog.Logger { return slog.New(h) }

// Lines returns the lines recorded so far that contain every one of subs.
func (h *LogRecorder) Lines(subs ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
next:
	for _, r := range *h.kept {
		for _, s := range subs {
			if !strings.Contains(r.line, s) {
				continue next
			}
		}
		out = append(out, r.line)
	}
	return out
}

// Take returns the records kept since the last Take.
func (h *LogRecorder) Take() []Logged {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := (*h.kept)[*h.taken:]
	*h.taken = len(*h.kept)
	return out
}

func (h *LogRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.floor }

func (h *LogRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := Logged{Level: r.Level, Attrs: map[string]string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		rec.Attrs[a.Key] = a.Value.String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	rec.line = b.String()
	h.mu.Lock()
	*h.kept = append(*h.kept, rec)
	h.mu.Unlock()
	return nil
}

func (h *LogRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	return &c
}

// WithGroup is not kept apart: the recorder's lines are flat.
func (h *LogRecorder) WithGroup(string) slog.Handler { return h }
