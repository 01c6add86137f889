package redis_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// coldProcs is the number of processes of a cold stampede.
const coldProcs = 4

// startCold starts the processes of a cold stampede on addr, with lock_sleep.
func startCold(t testing.TB, addr string, lockSleep time.Duration) []*testutil.Child {
	t.Helper()
	kids := make([]*testutil.Child, coldProcs)
	for i := range kids {
		kids[i] = testutil.StartChild(t, "cold", childAddrEnv+"="+addr, childSleepEnv+"="+lockSleep.String())
	}
	for _, k := range kids {
		k.Expect("ready", 30*time.Second)
	}
	return kids
}

// coldRound lets every process's callers loose on key at once and returns
// their reports.
func coldRound(t testing.TB, kids []*testutil.Child, key string) []coldReport {
	t.Helper()
	for _, k := range kids {
		k.Send(key)
	}
	reps := make([]coldReport, len(kids))
	for i, k := range kids {
		if err := json.Unmarshal([]byte(k.Next(60*time.Second)), &reps[i]); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		for _, e := range reps[i].Errors {
			t.Errorf("process %d: a caller failed: %s", i, e)
		}
	}
	return reps
}

// TestDL7WaitersWokenByRelease: 4 processes × 50 goroutines on one cold key,
// the creator 50ms, lock_sleep 10s. The creator runs once (counted on the
// server), and every caller returns long before a waiter's first retry by
// polling could happen: the waiting processes were woken by the release.
func TestDL7WaitersWokenByRelease(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	const lockSleep = 10 * time.Second
	kids := startCold(t, addr, lockSleep)
	key := testutil.Unique("dl7")
	reps := coldRound(t, kids, key)
	if n, err := raw.Get(testutil.Context(t), key+":creators").Int(); err != nil || n != 1 {
		t.Fatalf("the creator ran %d times (err %v); want once", n, err)
	}
	var slowest time.Duration
	for i, rep := range reps {
		if len(rep.Latencies) != goroutinesPerChild {
			t.Fatalf("process %d reported %d callers", i, len(rep.Latencies))
		}
		slowest = max(slowest, slices.Max(rep.Latencies))
		// At most: the first try, one after the subscription is confirmed,
		// and one per release it hears (each waiting process may win the
		// lock in turn, find the value and release it again).
		if rep.LockAttempts > coldProcs+2 {
			t.Errorf("process %d tried the lock %d times; want at most %d", i, rep.LockAttempts, coldProcs+2)
		}
		t.Logf("process %d: %d lock attempts, slowest caller %v", i, rep.LockAttempts, slices.Max(rep.Latencies))
	}
	if slowest >= lockSleep/2 {
		t.Fatalf("the slowest caller took %v with lock_sleep %v: the waiters were not woken by the release", slowest, lockSleep)
	}
}

// BenchmarkDL7ColdStampede: rounds of 4 processes × 50 goroutines on one
// cold key each, the creator 50ms, default settings (lock_sleep
// DefaultLockSleep). Metrics: the callers' p50 and p99 latency in ms, over
// every caller of every round (the goal: p99 ≤ the creator + 15ms), and the
// creator's runs per round (the goal: 1).
//
//	go test -run '^$' -bench BenchmarkDL7ColdStampede -benchtime 20x ./backends/redis/
func BenchmarkDL7ColdStampede(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	raw := rawClient(b, addr)
	kids := startCold(b, addr, redis.DefaultLockSleep)
	var (
		all      []time.Duration
		creators int
		rounds   int
	)
	for b.Loop() {
		key := testutil.Unique(fmt.Sprintf("dl7-bench-%d", rounds))
		for _, rep := range coldRound(b, kids, key) {
			all = append(all, rep.Latencies...)
		}
		n, err := raw.Get(testutil.Context(b), key+":creators").Int()
		if err != nil {
			b.Fatal(err)
		}
		creators += n
		rounds++
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(creators)/float64(rounds), "creators/op")
}
