package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	goredis "github.com/redis/go-redis/v9"
)

// TestClientLogToRegionLogger: go-redis's log lines about a Redis server
// that was killed reach the logger of the region whose backend uses that
// server, and not the logger of another region on a server still up, nor
// standard error.
func TestClientLogToRegionLogger(t *testing.T) {
	redis.RouteClientLogs(slog.LevelDebug) // the factories' default, whatever ran before
	ctx := context.Background()
	killed, alive := testserver.StartRedis(t), testserver.StartRedis(t)
	region := func(addr string, rec *testutil.LogRecorder) *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithLogger(rec.Logger())).Configure("redis", dogpile.WithArguments(dogpile.Args{"url": "redis://" + addr}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		return r
	}
	killedLog, aliveLog := testutil.NewLogRecorder(), testutil.NewLogRecorder()
	r := region(killed.Addr(), killedLog)
	region(alive.Addr(), aliveLog)
	killed.Kill()
	printed := captureStderr(t, func() {
		if _, _, err := dogpile.Get[string](ctx, r, "k"); err == nil {
			t.Fatal("Get on a killed server succeeded")
		}
	})
	if lines := killedLog.Lines("source=go-redis", killed.Addr()); len(lines) == 0 {
		t.Fatalf("no go-redis line about %s in the region's logger; it has %q", killed.Addr(), killedLog.Lines())
	}
	if lines := aliveLog.Lines("source=go-redis"); len(lines) != 0 {
		t.Fatalf("the other region's logger has the killed server's lines: %q", lines)
	}
	if printed != "" {
		t.Fatalf("printed to standard error:\n%s", printed)
	}
}

// TestClientLogQuiet: client_log = false drops go-redis's lines about the
// backend's server.
func TestClientLogQuiet(t *testing.T) {
	redis.RouteClientLogs(slog.LevelDebug)
	rec := testutil.NewLogRecorder()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
	r, err := dogpile.NewRegion(dogpile.WithLogger(rec.Logger())).Configure("redis", dogpile.WithArguments(dogpile.Args{"url": "redis://" + addr, "client_log": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	printed := captureStderr(t, func() {
		if _, _, err := dogpile.Get[string](context.Background(), r, "k"); !errors.Is(err, redis.ErrUnreachable) {
			t.Fatalf("Get = %v; want ErrUnreachable", err)
		}
	})
	if lines := rec.Lines("source=go-redis"); len(lines) != 0 || printed != "" {
		t.Fatalf("with client_log = false: logged %q, printed %q", lines, printed)
	}
}

// TestClientLogBackendLoggerBeatsRegion: the backend's own logger —
// Options.ClientLogger, or else Options.Logger — takes go-redis's lines
// about the backend's server, in place of the logger of the region the
// backend is configured in.
func TestClientLogBackendLoggerBeatsRegion(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(own *slog.Logger) redis.Options
	}{
		{"Options.ClientLogger", func(own *slog.Logger) redis.Options { return redis.Options{ClientLogger: own} }},
		{"Options.Logger", func(own *slog.Logger) redis.Options { return redis.Options{Logger: own} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redis.RouteClientLogs(slog.LevelDebug)
			own, regionLog := testutil.NewLogRecorder(), testutil.NewLogRecorder()
			addr := refusedAddr(t)
			b := newTestBackend(t, addr, tc.opts(own.Logger()))
			r, err := dogpile.NewRegion(dogpile.WithLogger(regionLog.Logger())).ConfigureBackend(b)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, _, err := dogpile.Get[string](context.Background(), r, "k"); !errors.Is(err, redis.ErrUnreachable) {
				t.Fatalf("Get = %v; want ErrUnreachable", err)
			}
			if len(own.Lines("source=go-redis", addr)) == 0 || len(regionLog.Lines("source=go-redis")) != 0 {
				t.Fatalf("%s has %q, the region's logger %q", tc.name, own.Lines(), regionLog.Lines())
			}
		})
	}
}

// TestClientLogLevelAndText: RouteClientLogs(level) logs go-redis's lines at
// that level, without the "redis: " go-redis begins them with.
func TestClientLogLevelAndText(t *testing.T) {
	redis.RouteClientLogs(slog.LevelWarn)
	defer redis.RouteClientLogs(slog.LevelDebug)
	rec := testutil.NewLogRecorder()
	addr := refusedAddr(t)
	b := newTestBackend(t, addr, redis.Options{ClientLogger: rec.Logger()})
	if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, redis.ErrUnreachable) {
		t.Fatalf("Get = %v; want ErrUnreachable", err)
	}
	lines := rec.Lines("source=go-redis", addr)
	if len(lines) == 0 {
		t.Fatalf("no go-redis line about %s; the logger has %q", addr, rec.Lines())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "WARN ") || strings.HasPrefix(l, "WARN redis:") {
			t.Errorf("line %q; want it at WARN, without go-redis's \"redis: \"", l)
		}
	}
}

// TestSetClientLoggerNil: SetClientLogger with a nil logger discards
// go-redis's lines: none reaches standard error or a backend's logger.
func TestSetClientLoggerNil(t *testing.T) {
	redis.SetClientLogger(nil, slog.LevelError)
	defer redis.RouteClientLogs(slog.LevelDebug)
	rec := testutil.NewLogRecorder()
	b := newTestBackend(t, refusedAddr(t), redis.Options{ClientLogger: rec.Logger()})
	printed := captureStderr(t, func() {
		if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, redis.ErrUnreachable) {
			t.Errorf("Get = %v; want ErrUnreachable", err)
		}
	})
	if lines := rec.Lines(); len(lines) != 0 || printed != "" {
		t.Fatalf("with a nil client logger: logged %q, printed %q", lines, printed)
	}
}

// TestClientLogWithoutBackends: with no backend alive, go-redis's routed
// lines go to slog.Default().
func TestClientLogWithoutBackends(t *testing.T) {
	if n := redis.LiveLogSinks(); n != 0 {
		t.Fatalf("%d backends of earlier tests are still alive (not closed): this test needs none", n)
	}
	redis.RouteClientLogs(slog.LevelDebug)
	rec := testutil.NewLogRecorder()
	saved := slog.Default()
	slog.SetDefault(rec.Logger())
	defer slog.SetDefault(saved)
	addr := refusedAddr(t)
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("a GET to nothing listening succeeded")
	}
	if len(rec.Lines("source=go-redis", addr)) == 0 {
		t.Fatalf("no go-redis line about %s in slog.Default(); it has %q", addr, rec.Lines())
	}
}

// TestClientLogOncePerLogger: a logger that several live backends on the
// server a line names share gets that line once, as the logger of one
// backend does; a closed backend gets no more lines.
func TestClientLogOncePerLogger(t *testing.T) {
	redis.RouteClientLogs(slog.LevelDebug)
	addr := refusedAddr(t)
	shared, single, closed := testutil.NewLogRecorder(), testutil.NewLogRecorder(), testutil.NewLogRecorder()
	sharedLogger := shared.Logger()
	newTestBackend(t, addr, redis.Options{ClientLogger: sharedLogger})
	newTestBackend(t, addr, redis.Options{ClientLogger: sharedLogger})
	newTestBackend(t, addr, redis.Options{ClientLogger: single.Logger()})
	gone, err := redis.New(redis.Options{Client: &goredis.Options{Addr: addr}, ClientLogger: closed.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	// A client of the application's, whose lines name the same server.
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("a GET to nothing listening succeeded")
	}
	n := len(single.Lines("source=go-redis", addr))
	if n == 0 {
		t.Fatalf("no go-redis line about %s; the logger has %q", addr, single.Lines())
	}
	if s := len(shared.Lines("source=go-redis", addr)); s != n {
		t.Errorf("the logger of two backends got %d lines, that of one %d", s, n)
	}
	if lines := closed.Lines(); len(lines) != 0 {
		t.Errorf("a closed backend's logger got %q", lines)
	}
}
