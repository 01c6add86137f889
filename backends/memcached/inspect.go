package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Lister        = (*Backend)(nil)
	_ backend.StatsReporter = (*Backend)(nil)
)

// gomemcache has no call for the commands below, so the backend speaks them
// itself, each on a connection of its own (made as the client makes its
// connections: same dialer, TLS and timeouts) that it closes afterwards.

// ListKeys lists the keys of every server, one server after the other, with
// the LRU crawler's metadump (backend.Lister): Memcached 1.5 and later, unless
// the server was started with the crawler off (then the error matches
// errors.ErrUnsupported). The order is the server's. The keys of a server
// that is down are missing: the listing ends with its error. The dogpile
// lock's keys are left out unless opts.Own. The crawler visits items while
// other clients write, so a key written or deleted meanwhile may or may not
// be listed.
func (b *Backend) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	keys := func(yield func(string, error) bool) {
		if b.sel == nil {
			yield("", fmt.Errorf("memcached: the client's own server selector cannot be asked for its servers: %w", errors.ErrUnsupported))
			return
		}
		for _, addr := range b.sel.addrs() {
			stop := false
			err := b.command(ctx, addr, "lru_crawler metadump all", func(line string) bool {
				raw, _, _ := strings.Cut(strings.TrimPrefix(line, "key="), " ")
				k, err := url.PathUnescape(raw)
				if err != nil {
					k = raw
				}
				stop = !yield(k, nil)
				return !stop
			})
			if stop {
				return
			}
			if err != nil {
				var reply *replyError
				if errors.As(err, &reply) && !strings.HasPrefix(reply.line, "BUSY") {
					err = fmt.Errorf("%w (a server started without the LRU crawler cannot list its keys): %w", err, errors.ErrUnsupported)
				}
				yield("", fmt.Errorf("memcached: list keys: %w", err))
				return
			}
		}
	}
	return backend.FilterKeys(keys, opts, func(k string) bool { return strings.HasPrefix(k, b.lockPrefix) })
}

// StoreStats reports each server's "stats" (backend.StatsReporter): Entries
// are curr_items, Bytes the bytes the items take (bytes), Hits, Misses and
// Evictions get_hits, get_misses and evictions, since the server started and
// for every client of it. A server that is down is a report with Err set.
func (b *Backend) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	if b.sel == nil {
		return nil, fmt.Errorf("memcached: the client's own server selector cannot be asked for its servers: %w", errors.ErrUnsupported)
	}
	var out []backend.Stats
	for _, addr := range b.sel.addrs() {
		st := backend.NewStats("memcached " + addr.String())
		fields := map[string]string{}
		err := b.command(ctx, addr, "stats", func(line string) bool {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
				fields[f[1]] = f[2]
			}
			return true
		})
		if err != nil {
			st.Err = err
			out = append(out, st)
			continue
		}
		num := func(name string) int64 {
			if n, err := strconv.ParseInt(fields[name], 10, 64); err == nil {
				return n
			}
			return backend.Unknown
		}
		st.Entries, st.Bytes = num("curr_items"), num("bytes")
		st.Hits, st.Misses, st.Evictions = num("get_hits"), num("get_misses"), num("evictions")
		if v, ok := fields["version"]; ok {
			st.Extra = append(st.Extra, backend.Stat{Name: "version", Value: v})
		}
		for _, name := range []string{"limit_maxbytes", "curr_connections", "total_items", "expired_unfetched", "uptime"} {
			if n := num(name); n != backend.Unknown {
				st.Extra = append(st.Extra, backend.Stat{Name: name, Value: n})
			}
		}
		out = append(out, st)
	}
	return out, ctx.Err()
}

// addrs returns the servers' addresses.
func (s *ServerSelector) addrs() []net.Addr {
	var out []net.Addr
	s.Each(func(a net.Addr) error { out = append(out, a); return nil }) //nolint:errcheck // the function returns nil
	return out
}

// replyError is a server's refusal of a command ("ERROR", "CLIENT_ERROR …",
// "BUSY …").
type replyError struct{ addr, cmd, line string }

func (e *replyError) Error() string { return fmt.Sprintf("%s: %s: %s", e.addr, e.cmd, e.line) }

// command sends cmd to the server at addr and calls each for every line of
// the reply until END (or until each returns false). Every read is bounded
// by the client's timeout, so a server that stops answering ends the
// command with an error instead of hanging it.
func (b *Backend) command(ctx context.Context, addr net.Addr, cmd string, each func(line string) bool) error {
	timeout := b.client.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := b.dialServer(ctx, addr.Network(), addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) }) //nolint:errcheck // the read fails either way
	defer stop()
	deadline := func() { c.SetDeadline(time.Now().Add(timeout)) } //nolint:errcheck // a failed deadline shows as a failed read
	deadline()
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return fmt.Errorf("%s: %s: %w", addr, cmd, err)
	}
	r := bufio.NewReader(c)
	for {
		deadline()
		line, err := r.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: %s: %w", addr, cmd, err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "END":
			return nil
		case line == "ERROR" || strings.HasPrefix(line, "CLIENT_ERROR") || strings.HasPrefix(line, "SERVER_ERROR") || strings.HasPrefix(line, "BUSY"):
			return &replyError{addr: addr.String(), cmd: cmd, line: line}
		}
		if !each(line) {
			return nil
		}
	}
}
