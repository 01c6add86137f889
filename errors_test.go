package dogpile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// A BackendError's message names the backend, the operation and, when there
// is one, the quoted key, then the backend's own error; an operation on no
// key (an invalidation) leaves the key out.
func TestBackendErrorMessage(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		err  *dogpile.BackendError
		want string
	}{
		{&dogpile.BackendError{Backend: "redis", Op: "get", Key: "k", Err: boom}, `dogpile: redis backend: get "k": boom`},
		{&dogpile.BackendError{Backend: "redis", Op: "invalidate", Err: boom}, `dogpile: redis backend: invalidate: boom`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
}

// A call whose context ends while the backend works returns the context's
// error as it is: not a BackendError, and not counted as a backend error
// (the caller gave up; the backend did not fail).
func TestEndedContextIsNoBackendError(t *testing.T) {
	for name, ctx := range map[string]func() context.Context{
		"cancelled": func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		},
		"past its deadline": func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			defer cancel() // ended already: its error stays DeadlineExceeded
			return ctx
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := regionFor(t, newStore(), []dogpile.RegionOption{dogpile.WithMetrics()})
			want := ctx().Err()
			for op, call := range map[string]func(context.Context) error{
				"Get":    func(ctx context.Context) error { _, _, err := dogpile.Get[string](ctx, r, "k"); return err },
				"Set":    func(ctx context.Context) error { return r.Set(ctx, "k", "v") },
				"Delete": func(ctx context.Context) error { return r.Delete(ctx, "k") },
			} {
				err := call(ctx())
				if err != want || errors.Is(err, dogpile.ErrBackend) {
					t.Errorf("%s = %v; want %v as it is", op, err, want)
				}
			}
			if n := r.Stats().BackendErrors; n != 0 {
				t.Errorf("BackendErrors = %d; want 0", n)
			}
		})
	}
}
