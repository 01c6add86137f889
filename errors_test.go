package dogpile_test

import (
	"errors"
	"testing"

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
