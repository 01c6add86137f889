package lock

import (
	"errors"
	"fmt"
)

// ErrPanicked is matched (errors.Is) by every *PanicError.
var ErrPanicked = errors.New("dogpile: creator panicked")

// PanicError is the error waiters get when a creator panics, and the value the
// caller that started the creation panics with. Stack is the creator's
// goroutine stack at the time of the panic.
//
// Its Error text ends with that stack, as golang.org/x/sync/singleflight's
// panic error does: the panic is raised again in another goroutine, whose
// own trace no longer shows where the creator failed. To log a waiter's
// error on one line, log Value instead (errors.As finds the *PanicError).
type PanicError struct {
	Value any    // what the creator panicked with
	Stack []byte // the creator's goroutine stack, as debug.Stack gives it
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("dogpile: creator panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error, so errors.Is and
// errors.As see through a panic(err).
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Is reports true for ErrPanicked.
func (p *PanicError) Is(target error) bool { return target == ErrPanicked }
