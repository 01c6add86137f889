package testutil

import (
	"context"
	"sync/atomic"
)

// RoundTrips counts a go-redis client's round trips: each command and each
// pipeline is one, a dial none. Add it to a client with AddHook.
//
// The root module, where this package lives, does not require go-redis, so
// the hook is written against go-redis's hook types as type parameters and
// each module that has go-redis names them once:
//
//	type roundTrips = testutil.RoundTrips[goredis.Cmder, goredis.DialHook, goredis.ProcessHook, goredis.ProcessPipelineHook]
type RoundTrips[Cmd, Dial any, Process ~func(context.Context, Cmd) error, Pipeline ~func(context.Context, []Cmd) error] struct {
	n atomic.Int64
}

// DialHook does not count dials: a connection is not a round trip of a call.
func (h *RoundTrips[Cmd, Dial, Process, Pipeline]) DialHook(next Dial) Dial { return next }

// ProcessHook counts a command.
func (h *RoundTrips[Cmd, Dial, Process, Pipeline]) ProcessHook(next Process) Process {
	return func(ctx context.Context, cmd Cmd) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline.
func (h *RoundTrips[Cmd, Dial, Process, Pipeline]) ProcessPipelineHook(next Pipeline) Pipeline {
	return func(ctx context.Context, cmds []Cmd) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// Count returns the round trips so far.
func (h *RoundTrips[Cmd, Dial, Process, Pipeline]) Count() int64 { return h.n.Load() }

// Reset starts the count again from zero.
func (h *RoundTrips[Cmd, Dial, Process, Pipeline]) Reset() { h.n.Store(0) }
