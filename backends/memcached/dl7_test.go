package memcached

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestDL7LockPause: a waiter's pauses start at about a millisecond, grow
// with the time it has waited (an eighth of it, give or take a quarter) and
// never exceed lock_sleep, so a waiter learns of a release soon after it:
// after a 48ms wait, within 7.5ms.
func TestDL7LockPause(t *testing.T) {
	const sleep = 50 * time.Millisecond
	for _, c := range []struct {
		waited, sleep, lo, hi time.Duration
	}{
		{0, sleep, 750 * time.Microsecond, 1250 * time.Microsecond},
		{8 * time.Millisecond, sleep, 750 * time.Microsecond, 1250 * time.Microsecond},
		{48 * time.Millisecond, sleep, 4500 * time.Microsecond, 7500 * time.Microsecond},
		{10 * time.Second, sleep, sleep * 3 / 4, sleep},
		{0, 100 * time.Microsecond, 75 * time.Microsecond, 100 * time.Microsecond},
	} {
		seen := map[time.Duration]bool{}
		for range 1000 {
			p := lockPause(c.waited, c.sleep)
			if p < c.lo || p > c.hi {
				t.Fatalf("lockPause(%v, lock_sleep %v) = %v; want %v to %v", c.waited, c.sleep, p, c.lo, c.hi)
			}
			seen[p] = true
		}
		if len(seen) < 10 {
			t.Errorf("lockPause(%v, %v): %d distinct pauses in 1000; want jitter", c.waited, c.sleep, len(seen))
		}
	}
}

// dl7Procs is the number of processes in DL7.
const dl7Procs = 4

// startDL7 starts DL7's processes on srv, with the backend's defaults.
func startDL7(t testing.TB, srv string) []*testutil.Child {
	t.Helper()
	var children []*testutil.Child
	for range dl7Procs {
		children = append(children, testutil.StartChild(t, "dl7", "MC_SERVERS="+srv))
	}
	for _, c := range children {
		c.Expect("ready", time.Minute)
	}
	return children
}

// dl7Round lets every child's callers loose on the cold key and returns
// every caller's latency, and the creator's runs as counted on the server.
func dl7Round(t testing.TB, b *Backend, children []*testutil.Child, key string) (lat []time.Duration, creators uint64) {
	t.Helper()
	zeroCounters(t, b, key+"-creators")
	for _, c := range children {
		c.Send("go " + key)
	}
	for _, c := range children {
		line := c.Next(time.Minute)
		us, ok := strings.CutPrefix(line, "lat ")
		if !ok {
			t.Fatalf("a DL7 child said %q", line)
		}
		for _, f := range strings.Split(us, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Duration(n)*time.Microsecond)
		}
	}
	return lat, counter(t, b, key+"-creators")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// TestDL7ColdStampede: 4 processes × 50 goroutines on one cold key, a 50ms
// creator, the backend's default settings: the creator runs once in all
// (counted on the server), and every caller gets its value. (How soon the
// waiters have it is BenchmarkDL7ColdStampede's.)
func TestDL7ColdStampede(t *testing.T) {
	srv := servers(t, 1)
	b := newBackend(t, dogpile.Args{"url": srv})
	lat, creators := dl7Round(t, b, startDL7(t, srv[0]), testutil.Unique("dl7"))
	if creators != 1 {
		t.Fatalf("the creator ran %d times for %d × %d callers; want 1", creators, dl7Procs, stampedeGoroutines)
	}
	if len(lat) != dl7Procs*stampedeGoroutines {
		t.Fatalf("%d callers answered; want %d", len(lat), dl7Procs*stampedeGoroutines)
	}
	slices.Sort(lat)
	t.Logf("callers: p50 %v, p99 %v, slowest %v (creator %v)", percentile(lat, .5), percentile(lat, .99), lat[len(lat)-1], dl7Creation)
}

// BenchmarkDL7ColdStampede: DL7's stampede, once per iteration on a new
// cold key: 4 processes × 50 goroutines, a 50ms creator, the backend's
// default settings. It reports the callers' latency (p50, p99, slowest, in
// ms) over every iteration, and the creator's runs per iteration.
//
//	go test -run '^$' -bench DL7 -benchtime 30x ./backends/memcached/
func BenchmarkDL7ColdStampede(b *testing.B) {
	srv := servers(b, 1)
	be := newBackend(b, dogpile.Args{"url": srv})
	children := startDL7(b, srv[0])
	var all []time.Duration
	var creators uint64
	i := 0
	for b.Loop() {
		lat, n := dl7Round(b, be, children, fmt.Sprintf("dl7-bench-%d-%d", time.Now().UnixNano(), i))
		all, creators = append(all, lat...), creators+n
		i++
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, .5)), "p50-ms")
	b.ReportMetric(ms(percentile(all, .99)), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	b.ReportMetric(float64(creators)/float64(i), "creators/op")
}
