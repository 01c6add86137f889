package tiered_test

// TestTierAcrossProcesses runs the test binary again as a child process
// with a tier and a region of its own (testutil.StartChild; TestMain runs
// its role, childTier, instead of the tests). The child talks to its parent
// through stdin and stdout, line by line, and to the parent's tier only
// through Redis.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

// childWait bounds each wait for the child's answer.
const childWait = 15 * time.Second

const (
	childAddrEnv    = "DOGPILE_TIERED_ADDR"
	childChannelEnv = "DOGPILE_TIERED_CHANNEL"
	childRegionEnv  = "DOGPILE_TIERED_REGION"
)

// upNotifier tells when the child's tier is first subscribed, and when it
// has handled a message.
type upNotifier struct {
	tiered.Notifier
	up   chan struct{}
	msgs chan struct{}
}

func (u *upNotifier) Subscribe(ctx context.Context, deliver func([]byte), subscribed func(bool)) error {
	return u.Notifier.Subscribe(ctx, func(m []byte) {
		deliver(m)
		select {
		case u.msgs <- struct{}{}:
		default:
		}
	}, func(ok bool) {
		subscribed(ok)
		if ok {
			select {
			case u.up <- struct{}{}:
			default:
			}
		}
	})
}

// childTier serves commands, one per line:
//
//	goc K V     GetOrCreate(K) with a creator returning V; prints the value
//	watch K V   prints "watching", then reads K (by Get) after every message
//	            its tier handles until it is V, and prints "seen <unix
//	            nanoseconds>", or "timeout" after 5s
//	until K V   GetOrCreate(K) creating V, again after every message its tier
//	            handles, until that returns V; prints "ok", or "timeout"
//	            after 5s
func childTier(in io.Reader, out io.Writer) error {
	rb, err := redis.New(redis.Options{Client: &goredis.Options{Addr: os.Getenv(childAddrEnv)}})
	if err != nil {
		return err
	}
	rn, err := redis.NewNotifier(rb.Client(), os.Getenv(childChannelEnv), redis.NotifierOptions{})
	if err != nil {
		return err
	}
	un := &upNotifier{Notifier: rn, up: make(chan struct{}, 1), msgs: make(chan struct{}, 1024)}
	tb, err := tiered.New(rb, tiered.Options{Notifier: un, TTL: time.Minute})
	if err != nil {
		return err
	}
	defer tb.Close()
	r, err := dogpile.NewRegion(dogpile.WithName(os.Getenv(childRegionEnv))).
		ConfigureBackend(tb, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		return err
	}
	select {
	case <-un.up:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("tier not subscribed within 10s")
	}
	ctx := context.Background()
	fmt.Fprintln(out, "ready")
	s := bufio.NewScanner(in)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) != 3 {
			return fmt.Errorf("bad command %q", s.Text())
		}
		k, want := f[1], f[2]
		create := func(context.Context) (string, error) { return want, nil }
		deadline := time.Now().Add(5 * time.Second)
		switch f[0] {
		case "goc":
			v, err := dogpile.GetOrCreate(ctx, r, k, create)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, v)
		case "watch":
			for len(un.msgs) > 0 {
				<-un.msgs
			}
			fmt.Fprintln(out, "watching")
			seen, err := untilValue(un.msgs, deadline, want, func() (string, bool, error) {
				return dogpile.Get[string](ctx, r, k)
			})
			if err != nil {
				return err
			}
			if seen {
				fmt.Fprintln(out, "seen", time.Now().UnixNano())
			} else {
				fmt.Fprintln(out, "timeout")
			}
		case "until":
			got, err := untilValue(un.msgs, deadline, want, func() (string, bool, error) {
				v, err := dogpile.GetOrCreate(ctx, r, k, create)
				return v, true, err
			})
			if err != nil {
				return err
			}
			if got {
				fmt.Fprintln(out, "ok")
			} else {
				fmt.Fprintln(out, "timeout")
			}
		default:
			return fmt.Errorf("bad command %q", s.Text())
		}
	}
	return s.Err()
}

// untilValue reads until read returns want, reading again each time the
// tier has handled a message, and reports whether it did before deadline.
func untilValue(msgs <-chan struct{}, deadline time.Time, want string, read func() (string, bool, error)) (bool, error) {
	for {
		v, ok, err := read()
		if err != nil || ok && v == want {
			return err == nil, err
		}
		select {
		case <-msgs:
		case <-time.After(time.Until(deadline)):
			return false, nil
		}
	}
}

// TestTierAcrossProcesses: a tier in another process sees this process's
// changes (by Set) and invalidations (I6) — it would otherwise serve its
// local copy for its whole TTL, a minute here. Logs the propagation latency
// from the end of Set to the other process reading the new value.
func TestTierAcrossProcesses(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch, name := testserver.SharedRedis(t).Addr(), testutil.Unique("procs"), testutil.Unique("region")
	c := testutil.StartChild(t, "tier", childAddrEnv+"="+addr, childChannelEnv+"="+ch, childRegionEnv+"="+name)
	n := newNode(t, addr, ch, nodeConfig{})
	r := mustRegion(t, n.tier, name)
	c.Expect("ready", childWait)
	k := testutil.Unique("k")

	if v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) { return "p0", nil }); err != nil || v != "p0" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	c.Send("goc " + k + " c0")
	c.Expect("p0", childWait) // from Redis, now a local copy in the child

	const trials = 30
	lat := make([]time.Duration, 0, trials)
	for i := 1; i <= trials; i++ {
		v := "p" + strconv.Itoa(i)
		c.Send("watch " + k + " " + v)
		c.Expect("watching", childWait)
		if err := r.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		f := strings.Fields(c.Next(childWait))
		if len(f) != 2 || f[0] != "seen" {
			t.Fatalf("trial %d: the child did not see %q within 5s (%v)", i, v, f)
		}
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		lat = append(lat, max(0, time.Unix(0, ns).Sub(done)))
	}
	slices.Sort(lat)
	t.Logf("propagation to another process, %d trials, from Set's return: p50 %v, p90 %v, max %v",
		trials, lat[trials/2], lat[trials*9/10], lat[trials-1])

	// I6: the child's next call after this process's hard invalidation
	// regenerates (once the message is there; until then it may serve its
	// local copy).
	c.Send("goc " + k + " never")
	c.Expect("p30", childWait)
	if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	c.Send("until " + k + " c1")
	c.Expect("ok", childWait)
}
