package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
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
	fb, err := file.New(file.Options{Filename: os.Getenv(dbEnv), DistributedLock: true})
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
