package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// The partitioned role is registered here rather than in child_test.go's
// table, which other tests extend.
func init() { childRoles["partitioned"] = childPartitioned }

// partitionedWait bounds how long a partitioned child waits for its
// creation's context to end before it gives up and says so.
const partitionedWait = 20 * time.Second

// childPartitioned: creationChild (lock_timeout, key and value from the
// environment) whose creator says "creating", then waits until its context
// ends and says "lost" (or, after partitionedWait, "still held"), then
// returns the environment's value — whatever its context says, as a creator
// that does not stop for it would — when the parent writes "finish". The
// report's Cause is the context's cause at that point.
func childPartitioned() error {
	return creationChild(func(ctx context.Context, rep *creationReport) error {
		fmt.Println("creating")
		select {
		case <-ctx.Done():
			fmt.Println("lost")
		case <-time.After(partitionedWait):
			fmt.Println("still held")
		}
		if c := context.Cause(ctx); c != nil {
			rep.Cause = c.Error()
		}
		_, err := testutil.ReadLine()
		return err
	})
}

// TestDL6PartitionedHolderDoesNotOverwrite: the lock holder is cut off from
// Redis while the other processes still reach it. A creator child process
// (role "partitioned") reaches the server only through a FaultProxy, with
// lock_timeout 300ms; once it is creating, the proxy is blackholed, so its
// renewals (every 100ms) go nowhere. The lease lapses on the server (polled
// through a direct client until the lock key is gone); a region connected
// directly takes the lock over and stores "newer". The partitioned holder's
// watchdog, having renewed nothing for a whole lock_timeout, must end the
// creation's context with lock.ErrLockLost as its cause — the child says
// "lost" when it has. Then the proxy is healed and the child's creator
// returns "older". The server must still hold "newer", the child must have
// counted the lost lock (Stats.LocksLost ≥ 1) and got a value without an
// error (its own, if its write was tried and refused by the fence, or the
// newer holder's, if the retry after the loss loaded it), and the creator
// must have run exactly twice across processes: the holder's and the
// takeover's (the retry loads the newer value instead of creating a third
// time).
//
// What this pins is the renewal's loss detection when the holder cannot
// reach the server at all (a failed renewal is not a lost lock until no
// renewal has succeeded for a whole lock_timeout; then it is — the hold has
// surely lapsed on the server). Broken that way (failed renewals never end
// the hold), the child never says "lost" and the test fails there; the
// context would end only at the first renewal after the heal, and a creator
// that finishes first would write "older" through the fence — with the
// fence broken as well (an unconditional write), over "newer". The fence
// alone is not what this test attacks: by the time the child's creator
// returns its context has ended, so the write is never sent (checked: the
// test passes with the fenced write made unconditional). The fence, with
// the lease still looking held, is what TestDL6LockEvictedUnderMemoryPressure
// attacks.
func TestDL6PartitionedHolderDoesNotOverwrite(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	ctx := testutil.Context(t)
	proxy := testserver.StartFaultProxy(t, addr)
	key := testutil.Unique("dl6-partition")
	const lockTimeout = 300 * time.Millisecond

	holder := testutil.StartChild(t, "partitioned", childAddrEnv+"="+proxy.Addr(), childKeyEnv+"="+key, childLockEnv+"="+lockTimeout.String(), childValueEnv+"=older")
	holder.Expect("creating", 30*time.Second)
	if raw.Exists(ctx, redis.LockKey(key)).Val() != 1 {
		t.Fatal("the creating child holds no lock on the server")
	}
	proxy.Blackhole()
	waitGone(t, raw, redis.LockKey(key))

	newer := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true})
	v, err := dogpile.GetOrCreate(ctx, newer, key, func(ctx context.Context) (string, error) {
		if err := raw.Incr(ctx, key+":creators").Err(); err != nil {
			return "", err
		}
		return "newer", nil
	})
	if err != nil || v != "newer" {
		t.Fatalf("the next holder got %q, %v; want its own value", v, err)
	}

	holder.Expect("lost", partitionedWait+10*time.Second)
	if err := proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	holder.Send("finish")
	rep := readCreation(t, holder)

	checkNewer(t, newer, key)
	if !rep.Created {
		t.Fatalf("the partitioned child's creator did not run (report %+v)", rep)
	}
	if !strings.Contains(rep.Cause, lock.ErrLockLost.Error()) {
		t.Fatalf("the partitioned creation's context ended with cause %q; want lock.ErrLockLost", rep.Cause)
	}
	if rep.LocksLost < 1 {
		t.Fatalf("the partitioned child counted no lost lock (report %+v)", rep)
	}
	if rep.Err != "" || rep.Value != "older" && rep.Value != "newer" {
		t.Fatalf("the partitioned child's caller got %q, %q; want a created value", rep.Value, rep.Err)
	}
	if n, _ := raw.Get(ctx, key+":creators").Int(); n != 2 {
		t.Fatalf("the creator ran %d times across processes; want 2 (the partitioned holder, then the next holder)", n)
	}
	t.Logf("the partitioned child's caller got %q", rep.Value)
}
