package redis_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// blackhole returns a loopback address whose connection attempts hang: a
// listening socket with a backlog of 0 whose one queue place is taken, so
// that the kernel drops every further SYN (as a firewall or a dead host
// would) until the dialer gives up.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	filler, err := net.DialTimeout("tcp", addr, time.Second) // takes the one place
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("this kernel accepts connections beyond a full backlog")
	}
	return addr
}

// TestUnreachableFailsFast: a server that can't be reached — nothing
// listening, or a host that drops the connection attempt — fails a call
// after one dial attempt bounded by socket_connect_timeout (go-redis alone
// dials five times per command and retries the command three times), and
// prints no go-redis log line to standard error.
func TestUnreachableFailsFast(t *testing.T) {
	const connectTimeout = 500 * time.Millisecond
	const margin = 400 * time.Millisecond
	refused := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
	for name, addr := range map[string]string{"refused": refused, "blackhole": blackhole(t)} {
		t.Run(name, func(t *testing.T) {
			var (
				err     error
				elapsed time.Duration
			)
			printed := captureStderr(t, func() {
				r, cerr := dogpile.NewRegion().Configure("redis", dogpile.WithArguments(dogpile.Args{
					"url": "redis://" + addr, "socket_connect_timeout": connectTimeout.Seconds(), "distributed_lock": true,
				}))
				if cerr != nil {
					t.Fatal(cerr)
				}
				defer r.Close()
				start := time.Now()
				_, err = dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "v", nil })
				elapsed = time.Since(start)
			})
			if !errors.Is(err, redis.ErrUnreachable) {
				t.Fatalf("GetOrCreate on %s = %v; want ErrUnreachable", addr, err)
			}
			if elapsed > connectTimeout+margin {
				t.Fatalf("the call failed after %v; want within socket_connect_timeout %v + %v", elapsed, connectTimeout, margin)
			}
			if printed != "" {
				t.Fatalf("go-redis printed to standard error:\n%s", printed)
			}
		})
	}

	t.Run("SetClientLogger", func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		redis.SetClientLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)), slog.LevelWarn)
		defer redis.RouteClientLogs(slog.LevelDebug) // the factories' default
		b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + refused})
		if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, redis.ErrUnreachable) {
			t.Fatalf("Get = %v; want ErrUnreachable", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !bytes.Contains(buf.Bytes(), []byte("source=go-redis")) || !bytes.Contains(buf.Bytes(), []byte("level=WARN")) {
			t.Fatalf("go-redis's log line did not reach the logger: %q", buf.String())
		}
	})
}

// captureStderr runs f with file descriptor 2 on a pipe and returns
// what was written to it (go-redis's default logger writes there).
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	var out string
	func() {
		saved, err := syscall.Dup(2)
		if err != nil {
			t.Fatal(err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			done <- string(b)
		}()
		if err := syscall.Dup2(int(w.Fd()), 2); err != nil {
			t.Fatal(err)
		}
		f()
		syscall.Dup2(saved, 2) //nolint:errcheck // restoring stderr
		syscall.Close(saved)
		w.Close()
		out = <-done
		r.Close()
	}()
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
