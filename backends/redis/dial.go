package redis

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// defaultDialTimeout is go-redis's DialTimeout when none is set.
const defaultDialTimeout = 5 * time.Second

// keepAlive is go-redis's TCP keep-alive policy for its default dialers:
// probing after 30s idle, the peer dead after 3 unanswered probes 5s apart.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialError is a failed dial as go-redis sees it from the dialers failFast
// makes. It hides the *net.OpError inside from go-redis's command retries,
// which would dial again MaxRetries times, each bounded by the dial timeout,
// and log each failure: a call to a server that can't be reached fails after
// one attempt. Backend.wrap takes the error out again (ErrUnreachable, with
// the *net.OpError in the chain). Retries after other failures — a
// connection that broke, a server loading or failing over — are go-redis's
// as before.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }

// failFast returns the go-redis options' DialerRetries and Dialer for one
// dial attempt per call: DialerRetries 1 unless one was chosen, and the
// dialer (go-redis's own behaviour when nil: TCP with keep-alive, TLS when
// configured, bounded by timeout) with its failures hidden from the
// command retries.
func failFast(retries int, dial dialFunc, timeout time.Duration, tlsConf *tls.Config) (int, dialFunc) {
	if retries <= 0 {
		retries = 1
	}
	if dial == nil {
		if timeout <= 0 {
			timeout = defaultDialTimeout
		}
		nd := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
		if tlsConf == nil {
			dial = nd.DialContext
		} else {
			td := &tls.Dialer{NetDialer: nd, Config: tlsConf}
			dial = td.DialContext
		}
	}
	return retries, func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err: err}
		}
		return c, nil
	}
}
