package redis_test

// The cross-process tests run the test binary again as child processes
// (internal/testutil's harness): each plays a role below, talks to its parent
// line by line through stdin and stdout, and to the others only through the
// Redis server, as separate programs would.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/xproctest"
)

const (
	childAddrEnv      = "DOGPILE_REDIS_ADDR"       // the shared server
	childSentinelsEnv = "DOGPILE_REDIS_SENTINELS"  // or: the sentinels (comma-separated) of testserver.SentinelMasterName
	childKeyEnv       = "DOGPILE_REDIS_KEY"        // the contested key; counters are key + ":…"
	childNEnv         = "DOGPILE_REDIS_TOTAL"      // stampede: callers in all processes together
	childModeEnv      = "DOGPILE_REDIS_MODE"       // stampede: "cold" or "stale"
	childExpEnv       = "DOGPILE_REDIS_EXPIRE"     // the region's expiration (a Go duration)
	childLockEnv      = "DOGPILE_REDIS_LOCK_TIME"  // lock_timeout (a Go duration)
	childSleepEnv     = "DOGPILE_REDIS_LOCK_SLEEP" // lock_sleep (a Go duration)
	childValueEnv     = "DOGPILE_REDIS_VALUE"      // creator, caller, waiter: the value the creator returns
	childKeysEnv      = "DOGPILE_REDIS_KEYS"       // panicker: its keys (comma-separated; several: GetOrCreateMulti)
	childFailEnv      = "DOGPILE_REDIS_FAIL"       // panicker: how its creator fails, "panic" or "error"
)

// childRoles are the roles a re-executed test binary can play.
var childRoles = map[string]func() error{
	"stampede": childStampede,
	"holder":   childHolder,
	"creator":  childCreator,
	"caller":   childCaller,
	"cold":     childCold,
	"panicker": childPanicker,
	"waiter":   childWaiter,
}

// goroutinesPerChild is the number of concurrent callers in each stampede
// child.
const goroutinesPerChild = 50

// stampedeReport is what a stampede child prints when it is done.
type stampedeReport struct {
	Values map[string]int // value returned → number of callers
	Errors []string
}

// childRegion is a region with the distributed lock on the server named by
// the environment: a standalone server or a Sentinel master. lock_sleep is
// 10ms unless the environment sets it.
func childRegion(expiration time.Duration, lockTimeout string) (*dogpile.Region, error) {
	args := dogpile.Args{"distributed_lock": true, "lock_sleep": "10ms"}
	backend := "redis"
	if s := os.Getenv(childSentinelsEnv); s != "" {
		backend = "redis_sentinel"
		args["sentinels"] = s
	} else {
		args["url"] = "redis://" + os.Getenv(childAddrEnv)
	}
	if lockTimeout != "" {
		args["lock_timeout"] = lockTimeout
	}
	if s := os.Getenv(childSleepEnv); s != "" {
		args["lock_sleep"] = s
	}
	return dogpile.NewRegion(dogpile.WithMetrics()).Configure(backend, dogpile.WithArguments(args), dogpile.WithExpiration(expiration))
}

// childRaw is a plain client of the server the child's region uses, for
// counters.
func childRaw() goredis.UniversalClient {
	if s := os.Getenv(childSentinelsEnv); s != "" {
		return goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "mymaster", SentinelAddrs: strings.Split(s, ",")})
	}
	return goredis.NewClient(&goredis.Options{Addr: os.Getenv(childAddrEnv)})
}

// childStore is a child's region (childRegion) and plain client of the
// server (childRaw); done closes both.
func childStore(expiration time.Duration, lockTimeout string) (*dogpile.Region, goredis.UniversalClient, func(), error) {
	r, err := childRegion(expiration, lockTimeout)
	if err != nil {
		return nil, nil, nil, err
	}
	raw := childRaw()
	return r, raw, func() { raw.Close(); r.Close() }, nil
}

// childStampede: goroutinesPerChild callers of GetOrCreate on one key, let
// loose when the parent writes a line to stdin. The creator counts itself
// on the server and holds on until every caller of every process is in
// (cold: all have arrived; stale: all others have been served), so that the
// callers really overlap the creation.
func childStampede() error {
	exp, err := time.ParseDuration(os.Getenv(childExpEnv))
	if err != nil {
		return err
	}
	r, raw, done, err := childStore(exp, "")
	if err != nil {
		return err
	}
	defer done()
	key := os.Getenv(childKeyEnv)
	total, err := strconv.Atoi(os.Getenv(childNEnv))
	if err != nil {
		return err
	}
	mode := os.Getenv(childModeEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	create := func(ctx context.Context) (string, error) {
		if err := raw.Incr(ctx, key+":creators").Err(); err != nil {
			return "", err
		}
		counter, want := key+":arrived", total
		if mode == "stale" {
			counter, want = key+":served", total-1
		}
		// Wait for the other callers (an event in other processes, so by
		// polling), bounded: if they never come, the parent's checks fail.
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if n, _ := raw.Get(ctx, counter).Int(); n >= want {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		return "new", nil
	}

	var (
		mu  sync.Mutex
		rep = stampedeReport{Values: map[string]int{}}
	)
	gate := startgate.New(goroutinesPerChild, func(int) {
		if err := raw.Incr(ctx, key+":arrived").Err(); err != nil {
			mu.Lock()
			rep.Errors = append(rep.Errors, err.Error())
			mu.Unlock()
			return
		}
		v, err := dogpile.GetOrCreate(ctx, r, key, create)
		raw.Incr(ctx, key+":served") //nolint:errcheck // a lost count fails the parent's checks
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			return
		}
		rep.Values[v]++
	})
	fmt.Println("ready")
	if _, err := testutil.ReadLine(); err != nil {
		return fmt.Errorf("waiting for the go: %w", err)
	}
	gate.Open()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// childHolder: GetOrCreate whose creator says "creating" and never returns,
// so that the parent can kill the process while it holds the lock.
func childHolder() error {
	r, err := childRegion(0, os.Getenv(childLockEnv))
	if err != nil {
		return err
	}
	_, err = dogpile.GetOrCreate(context.Background(), r, os.Getenv(childKeyEnv), func(context.Context) (string, error) {
		fmt.Println("creating")
		select {} // until killed
	})
	return err
}

// creationReport is what a creator or caller child prints when its
// GetOrCreate has returned.
type creationReport struct {
	Value     string // what GetOrCreate returned
	Err       string // its error, if any
	Created   bool   // this process's creator ran
	Cause     string // context.Cause of the creation's context when the creator returned ("" if none)
	LocksLost uint64 // the region's Stats.LocksLost
}

// childCreator: GetOrCreate with lock_timeout from the environment, whose
// creator says "creating" and returns the environment's value (whatever its
// context says, as a creator that does not watch its context would) when
// the parent writes "finish".
func childCreator() error {
	return creationChild(func(ctx context.Context, rep *creationReport) error {
		fmt.Println("creating")
		if _, err := testutil.ReadLine(); err != nil {
			return err
		}
		if c := context.Cause(ctx); c != nil {
			rep.Cause = c.Error()
		}
		return nil
	})
}

// childCaller: says "calling", then GetOrCreate of the key, whose creator
// returns the environment's value at once.
func childCaller() error {
	fmt.Println("calling")
	return creationChild(func(context.Context, *creationReport) error { return nil })
}

// creationChild runs one GetOrCreate of the environment's key with
// lock_timeout from the environment; its creator counts itself on the
// server, runs work and returns the environment's value. It prints a
// creationReport.
func creationChild(work func(ctx context.Context, rep *creationReport) error) error {
	r, raw, done, err := childStore(0, os.Getenv(childLockEnv))
	if err != nil {
		return err
	}
	defer done()
	key := os.Getenv(childKeyEnv)
	var rep creationReport
	v, err := dogpile.GetOrCreate(context.Background(), r, key, func(ctx context.Context) (string, error) {
		raw.Incr(context.Background(), key+":creators") //nolint:errcheck // a lost count fails the parent's checks
		rep.Created = true
		if err := work(ctx, &rep); err != nil {
			return "", err
		}
		return os.Getenv(childValueEnv), nil
	})
	rep.Value = v
	if err != nil {
		rep.Err = err.Error()
	}
	rep.LocksLost = r.Stats().LocksLost
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// coldReport is what a cold child prints after each round.
type coldReport struct {
	Latencies    []time.Duration // of each caller's GetOrCreate
	Errors       []string
	LockAttempts int64 // SET NX commands on lock keys this round
}

// coldCreatorTime is how long the creator of a cold round runs.
const coldCreatorTime = 50 * time.Millisecond

// childCold: rounds of a cold stampede. For each line the parent writes (a
// key), goroutinesPerChild callers call GetOrCreate of that key at once;
// the creator counts itself on the server and runs coldCreatorTime. The
// child prints a coldReport per round, and exits at EOF.
func childCold() error {
	r, raw, done, err := childStore(0, "")
	if err != nil {
		return err
	}
	defer done()
	var attempts atomic.Int64
	r.Backend().(*redis.Backend).Client().AddHook(lockAttemptHook{n: &attempts})
	fmt.Println("ready")
	for {
		key, err := testutil.ReadLine()
		if err != nil {
			return nil // EOF: done
		}
		attempts.Store(0)
		var (
			mu  sync.Mutex
			rep coldReport
		)
		startgate.Run(goroutinesPerChild, func(int) {
			t0 := time.Now()
			_, err := dogpile.GetOrCreate(context.Background(), r, key, func(ctx context.Context) (string, error) {
				if err := raw.Incr(ctx, key+":creators").Err(); err != nil {
					return "", err
				}
				time.Sleep(coldCreatorTime) // the creator's work
				return "v", nil
			})
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Errors = append(rep.Errors, err.Error())
			}
			rep.Latencies = append(rep.Latencies, d)
		})
		rep.LockAttempts = attempts.Load()
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			return err
		}
	}
}

// lockAttemptHook counts the SET commands a client sends to lock keys (the
// lock attempts) and, when after is set, calls it with an attempt's number
// (from 1) once the server has answered the attempt.
type lockAttemptHook struct {
	n     *atomic.Int64
	after func(ctx context.Context, n int64)
}

func (h lockAttemptHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h lockAttemptHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		a := cmd.Args()
		if len(a) < 2 || !strings.EqualFold(fmt.Sprint(a[0]), "set") || !strings.HasPrefix(fmt.Sprint(a[1]), redis.DefaultLockPrefix) {
			return next(ctx, cmd)
		}
		n := h.n.Add(1)
		err := next(ctx, cmd)
		if h.after != nil {
			h.after(ctx, n)
		}
		return err
	}
}

func (h lockAttemptHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// childPanicker is the panicker of xproctest on the environment's keys
// (comma-separated) with lock_timeout and the failure from the environment,
// counting on the server.
func childPanicker() error {
	r, raw, done, err := childStore(0, os.Getenv(childLockEnv))
	if err != nil {
		return err
	}
	defer done()
	return xproctest.Panicker(r, strings.Split(os.Getenv(childKeysEnv), ","), os.Getenv(childFailEnv), func(counter string) error {
		return raw.Incr(context.Background(), counter).Err()
	})
}

// childWaiter: GetOrCreate of the environment's key, whose creator counts
// itself on the server (xproctest.CreatorsCounter) and returns the environment's value
// at once. The child says "waiting" once its second attempt at the key's
// lock has found it held — the first one made it subscribe to the lock's
// release, the second follows the subscription's confirmation — so that,
// with a long lock_sleep, only a release's message can wake it. It prints a
// creationReport.
func childWaiter() error {
	r, raw, done, err := childStore(0, os.Getenv(childLockEnv))
	if err != nil {
		return err
	}
	defer done()
	var attempts atomic.Int64
	r.Backend().(*redis.Backend).Client().AddHook(lockAttemptHook{n: &attempts, after: func(_ context.Context, n int64) {
		if n == 2 {
			fmt.Println("waiting")
		}
	}})
	key := os.Getenv(childKeyEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rep creationReport
	v, err := dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) {
		raw.Incr(context.Background(), xproctest.CreatorsCounter(key)) //nolint:errcheck // a lost count fails the parent's checks
		rep.Created = true
		return os.Getenv(childValueEnv), nil
	})
	rep.Value = v
	if err != nil {
		rep.Err = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}
