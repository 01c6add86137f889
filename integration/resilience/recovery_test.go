package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

const (
	// recoveryCooldown is process A's breaker cooldown: the bound on how long
	// after Redis is back A's queue is replayed.
	recoveryCooldown = time.Second
	// replaySlack is what the bound allows beyond the cooldown: the replay's
	// round trips, and the reader's polling.
	replaySlack = 300 * time.Millisecond
	addrEnv     = "DOGPILE_RESILIENCE_ADDR"
)

// redisArgs are the arguments of a region on the Redis at addr: short
// timeouts, so that a dead server fails a call quickly.
func redisArgs(addr string) dogpile.Args {
	return dogpile.Args{"url": "redis://" + addr, "socket_timeout": "200ms", "socket_connect_timeout": "200ms"}
}

// sharedRegion is a region of the test's name on the Redis at addr, under
// shared invalidation, as every process of the test makes it.
func sharedRegion(addr string, ropts ...dogpile.RegionOption) (*dogpile.Region, error) {
	ropts = append([]dogpile.RegionOption{dogpile.WithName("resilience")}, ropts...)
	return dogpile.NewRegion(ropts...).Configure("redis", dogpile.WithArguments(redisArgs(addr)),
		dogpile.WithExpiration(time.Hour), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
}

// reader is process B: a region on the same Redis that answers its
// parent's questions, line by line:
//
//	get K    → "K=value", "K miss" or "K error …"
//	watch K  → "honoured" once K reads as a miss (errors while Redis
//	           comes back are ignored)
func reader() error {
	r, err := sharedRegion(os.Getenv(addrEnv))
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Println("ready")
	for {
		line, err := testutil.ReadLine()
		if err != nil {
			return nil // the parent is done
		}
		cmd, key, _ := strings.Cut(line, " ")
		switch cmd {
		case "get":
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			v, ok, err := dogpile.Get[string](ctx, r, key)
			cancel()
			switch {
			case err != nil:
				fmt.Printf("%s error %v\n", key, err)
			case !ok:
				fmt.Printf("%s miss\n", key)
			default:
				fmt.Printf("%s=%s\n", key, v)
			}
		case "watch":
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, ok, err := dogpile.Get[string](ctx, r, key)
				cancel()
				if err == nil && !ok {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Println("honoured")
		default:
			return fmt.Errorf("unknown command %q", line)
		}
	}
}

// Issue 17, auto-recovery: Redis is killed; process A writes and
// invalidates the region; Redis restarts (with its data: append-only file
// synced at every write). Within one breaker cooldown of the restart,
// process B honours the invalidation, and A's writes were replayed in the
// order they were made: the write before the invalidation is invalidated,
// the one after it is not.
func TestAutoRecoveryRedisRestartAnotherProcessHonoursTheInvalidation(t *testing.T) {
	ctx := context.Background()
	srv := testserver.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	a, err := sharedRegion(srv.Addr(), dogpile.WithFailOpen(recoveryCooldown), dogpile.WithAutoRecovery(0), dogpile.WithMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for k, v := range map[string]string{"k": "before the outage", "a": "before the outage"} {
		if err := a.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	b := testutil.StartChild(t, "reader", addrEnv+"="+srv.Addr())
	b.Expect("ready", 10*time.Second)
	b.Send("get k")
	b.Expect("k=before the outage", 5*time.Second)

	srv.Kill()
	for i, step := range []func() error{
		func() error { return a.Set(ctx, "a", "during the outage") },
		func() error { return a.Invalidate(ctx, dogpile.Hard) },
		func() error { return a.Set(ctx, "b", "after the invalidation") },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d with Redis down: %v; want it queued", i, err)
		}
	}
	if st := a.Stats(); st.RecoveryQueued != 3 || st.BreakerTrips != 1 {
		t.Fatalf("RecoveryQueued = %d, BreakerTrips = %d; want 3 and 1", st.RecoveryQueued, st.BreakerTrips)
	}

	srv.Restart(t)
	back := time.Now()
	b.Send("watch k")
	b.Expect("honoured", recoveryCooldown+10*time.Second)
	took := time.Since(back)
	t.Logf("B honoured the invalidation %v after Redis restarted (cooldown %v)", took.Round(time.Millisecond), recoveryCooldown)
	if took > recoveryCooldown+replaySlack {
		t.Fatalf("B honoured the invalidation %v after the restart; want within the cooldown of %v (+%v)", took, recoveryCooldown, replaySlack)
	}
	b.Send("get a")
	b.Expect("a miss", 5*time.Second)
	b.Send("get b")
	b.Expect("b=after the invalidation", 5*time.Second)
	// B has seen the last replayed write; A counts it once the write has
	// returned, a moment later.
	if err := testserver.WaitFor(5*time.Second, "the replay counted", func(context.Context) error {
		if n := a.Stats().RecoveryReplayed; n != 3 {
			return fmt.Errorf("RecoveryReplayed = %d; want 3", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "c", "x"); err != nil || errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("A's Set after the recovery: %v", err)
	}
}
