package testutil

import (
	"context"
	"errors"
	"testing"
)

// Creator is the creation function of a string value, as the dogpile lock
// and a region take it.
type Creator = func(context.Context) (string, error)

type giveUpKey struct{}

// CallerGivesUp checks the dogpile lock's rule that the caller who starts a
// creation may give up without cancelling it for the others. get makes one
// call for a key with the given creator; the first call, with a context
// that carries a value and is then cancelled, runs the creator, which blocks.
// Then a second call is made; waiting, called before it is made, returns the
// condition under which that call waits for the running creation.
//
// It fails t unless the first call returns context.Canceled as soon as its
// context ends, the second gets the created value, "made", and the creator's
// context keeps the first caller's values and has a deadline (the creation
// timeout), though not its cancellation.
func CallerGivesUp(t testing.TB, get func(context.Context, Creator) (string, error), waiting func() func() bool) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	creatorCtx := make(chan context.Context, 1)
	creator := func(ctx context.Context) (string, error) {
		creatorCtx <- ctx
		close(entered)
		<-release
		return "made", ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), giveUpKey{}, "kept"))
	defer cancel()
	first := make(chan error)
	go func() { _, err := get(ctx, creator); first <- err }()
	<-entered
	otherWaits := waiting()
	other := make(chan string)
	go func() {
		v, _ := get(context.Background(), creator)
		other <- v
	}()
	Eventually(t, "the other caller to wait for the creation", otherWaits)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v; want context.Canceled at once", err)
	}
	close(release)
	if v := <-other; v != "made" {
		t.Fatalf("the other caller got %q; the creation must go on", v)
	}
	cctx := <-creatorCtx
	if cctx.Value(giveUpKey{}) != "kept" {
		t.Fatal("the creator's context lost the caller's values")
	}
	if _, ok := cctx.Deadline(); !ok {
		t.Fatal("the creator's context is not bounded by the creation timeout")
	}
}
