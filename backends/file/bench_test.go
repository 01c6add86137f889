package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

var errNoCreate = errors.New("the benchmark key was missing")

func noCreate(context.Context) (string, error) { return "", errNoCreate }

func benchRegion(b *testing.B, fb *file.Backend) *dogpile.Region {
	r, err := dogpile.NewRegion().ConfigureBackend(fb, dogpile.WithExpiration(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Set(context.Background(), "hit", strings.Repeat("v", 100)); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGetOrCreateHit is the latency of a hit through a region on the
// file backend: one indexed SELECT and decoding a 100-byte string.
func BenchmarkGetOrCreateHit(b *testing.B) {
	r := benchRegion(b, open(b, file.Options{}))
	ctx := context.Background()
	for b.Loop() {
		if _, err := dogpile.GetOrCreate(ctx, r, "hit", noCreate); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetOrCreateHitParallel is the same hit from many goroutines of
// one process.
func BenchmarkGetOrCreateHitParallel(b *testing.B) {
	r := benchRegion(b, open(b, file.Options{}))
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := dogpile.GetOrCreate(ctx, r, "hit", noCreate); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSet is one write transaction of a 100-byte value.
func BenchmarkSet(b *testing.B) {
	fb := open(b, file.Options{})
	ctx := context.Background()
	v := []byte(strings.Repeat("v", 100))
	i := 0
	for b.Loop() {
		if err := fb.Set(ctx, "k"+strconv.Itoa(i%1000), v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetMulti10 reads 10 keys in one statement.
func BenchmarkGetMulti10(b *testing.B) {
	fb := open(b, file.Options{})
	ctx := context.Background()
	items := map[string][]byte{}
	var keys []string
	for i := range 10 {
		k := "k" + strconv.Itoa(i)
		items[k] = []byte(strings.Repeat("v", 100))
		keys = append(keys, k)
	}
	if err := fb.SetMulti(ctx, items); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := fb.GetMulti(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// childReader answers "go N" with N region hits and "done".
func childReader() error {
	fb, err := openChildBackend(file.Options{})
	if err != nil {
		return err
	}
	defer fb.Close()
	r, err := dogpile.NewRegion().ConfigureBackend(fb, dogpile.WithExpiration(time.Hour))
	if err != nil {
		return err
	}
	ctx := context.Background()
	say("ready")
	for {
		line, err := testutil.ReadLine()
		if err != nil {
			return nil // the parent closed stdin: done
		}
		n, err := strconv.Atoi(strings.TrimPrefix(line, "go "))
		if err != nil {
			return fmt.Errorf("bad command %q", line)
		}
		for range n {
			if _, err := dogpile.GetOrCreate(ctx, r, "hit", noCreate); err != nil {
				return err
			}
		}
		say("done")
	}
}

// BenchmarkConcurrentRead4Processes is the read throughput of four processes
// hitting one key of one file at once, b.N hits in all; ops/s is the total
// across the processes. Starting the processes is not timed.
func BenchmarkConcurrentRead4Processes(b *testing.B) {
	const procs = 4
	db := filepath.Join(b.TempDir(), "c.db")
	fb := open(b, file.Options{Filename: db})
	benchRegion(b, fb)
	kids := make([]*testutil.Child, procs)
	for i := range procs {
		kids[i] = testutil.StartChild(b, "reader", dbEnv+"="+db)
	}
	for _, c := range kids {
		c.Expect("ready", wait)
	}
	per := (b.N + procs - 1) / procs
	b.ResetTimer()
	start := time.Now()
	for _, c := range kids {
		c.Send("go " + strconv.Itoa(per))
	}
	for _, c := range kids {
		c.Expect("done", 5*time.Minute)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(per*procs)/elapsed.Seconds(), "ops/s")
}

// The cold stampede of the distributed lock: coldProcs processes ×
// coldGoroutines goroutines ask for one key nobody has, whose creator takes
// coldCreator.
const (
	coldProcs      = 4
	coldGoroutines = 50
	coldCreator    = 50 * time.Millisecond
)

// childColdStampede answers each "go <key>" with a stampede of
// coldGoroutines callers on key and the line "lat" followed by each caller's
// latency in microseconds. The creator counts its runs in the side file.
func childColdStampede() error {
	b, err := openChildBackend(file.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	r, err := dogpile.NewRegion().ConfigureBackend(b)
	if err != nil {
		return err
	}
	ctx := context.Background()
	count := os.Getenv(countEnv)
	create := func(context.Context) (string, error) {
		if _, err := appendCount(count); err != nil {
			return "", err
		}
		time.Sleep(coldCreator)
		return "value", nil
	}
	// Warm: the connections are open and the paths hot before the first run.
	if _, err := dogpile.GetOrCreate(ctx, r, fmt.Sprint("warm-", os.Getpid()), func(context.Context) (string, error) { return "warm", nil }); err != nil {
		return err
	}
	say("ready")
	for {
		line, err := testutil.ReadLine()
		if err != nil {
			return nil // the parent closed stdin: done
		}
		key, ok := strings.CutPrefix(line, "go ")
		if !ok {
			return fmt.Errorf("bad command %q", line)
		}
		lat := make([]string, coldGoroutines)
		errs := make([]error, coldGoroutines)
		startgate.Run(coldGoroutines, func(g int) {
			t0 := time.Now()
			_, errs[g] = dogpile.GetOrCreate(ctx, r, key, create)
			lat[g] = strconv.FormatInt(time.Since(t0).Microseconds(), 10)
		})
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		say("lat %s", strings.Join(lat, " "))
	}
}

// BenchmarkDL7ColdStampede is the cold stampede across processes on the
// file lock: 4 processes × 50 goroutines, one cold key per op, a creator of
// 50 ms. It reports the creator's runs per op (1: one creator in all) and
// the callers' latency quantiles; a waiting process learns of the release by
// polling (no push), so p99 is the creator plus the poll interval around it.
func BenchmarkDL7ColdStampede(b *testing.B) {
	dir := b.TempDir()
	db, count := filepath.Join(dir, "c.db"), filepath.Join(dir, "creators")
	open(b, file.Options{Filename: db}) // created before the processes race to
	kids := make([]*testutil.Child, coldProcs)
	for i := range kids {
		kids[i] = testutil.StartChild(b, "cold", dbEnv+"="+db, countEnv+"="+count)
	}
	for _, c := range kids {
		c.Expect("ready", wait)
	}
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("cold-%d", i)
		for _, c := range kids {
			c.Send("go " + key)
		}
		for _, c := range kids {
			fields := strings.Fields(c.Next(wait))
			if len(fields) != coldGoroutines+1 || fields[0] != "lat" {
				b.Fatalf("a process answered %q", fields)
			}
			for _, f := range fields[1:] {
				us, err := strconv.ParseInt(f, 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	b.StopTimer()
	calls, err := countLines(count)
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(float64(calls)/float64(b.N), "creator-calls/op")
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(1), "max-µs")
}
