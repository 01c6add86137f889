package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/startgate"
)

// demoResult is one scenario's outcome.
type demoResult struct {
	scenario     string
	requests     int
	creatorCalls int64
	staleServed  int64
	waited       int64 // requests that took at least half the creator's time
	latencies    []time.Duration
}

func (d *demoResult) quantile(q float64) time.Duration {
	return d.latencies[int(q*float64(len(d.latencies)-1))]
}

// runDemo shows what the library is for: a crowd of concurrent requests for
// one slow value, through a region and through a cache without coordination,
// side by side.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", `Usage: dogpile demo [-n requests] [--delay duration] [--config file --region name]

Runs a cache stampede and shows what the dogpile lock does about it: n
concurrent requests ask for one key whose value takes --delay to compute,
first when the cached value has expired, then when there is none. Each runs
through a dogpile region and through the same backend used without any
coordination (get; on a miss compute and set).

With no --config, it uses the embedded default backend (a file store in your
user cache directory). Its keys are its own and deleted afterwards; its
invalidation stays in its own process, whatever the region's
shared_invalidation.

Examples:
  dogpile demo
  dogpile demo -n 2000 --delay 250ms
  dogpile demo --config dogpile.toml --region shared -n 200
`)
	n := fs.Int("n", 500, "concurrent requests per scenario")
	delay := fs.Duration("delay", 100*time.Millisecond, "how long computing the value takes")
	rf := addRegionFlags(fs)
	if _, err := parseArgs(fs, args, stdout, 0, ""); err != nil {
		return err
	}
	if *n < 1 || *delay <= 0 {
		return usageErrorf("demo: -n must be at least 1 and --delay positive")
	}
	ch, err := rf.choose()
	if err != nil {
		return err
	}
	// The demo expires its value by a soft invalidation, which must stay in
	// this process: recorded in a shared store it would make every value
	// there stale.
	rc := *ch.cfg
	rc.SharedInvalidation = false
	ch.cfg = &rc
	t, err := ch.open()
	if err != nil {
		return err
	}
	region, where := t.region, t.describe()
	defer region.Close()

	fmt.Fprintf(stdout, "dogpile demo: %d concurrent requests for one key whose value takes %v to compute\nbackend: %s\n\n", *n, *delay, where)
	var results []*demoResult
	for _, expiredCase := range []bool{true, false} {
		for _, coordinated := range []bool{true, false} {
			r, err := demoScenario(ctx, region, *n, *delay, expiredCase, coordinated)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests\tcreator calls\tserved stale\twaited\tp50\tp99\tmax\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", r.scenario, r.requests, r.creatorCalls, r.staleServed, r.waited,
			round(r.quantile(0.5)), round(r.quantile(0.99)), round(r.latencies[len(r.latencies)-1]))
	}
	tw.Flush()
	fmt.Fprintf(stdout, `
With dogpile, one request computes the value. When a stale value exists, every
other request gets it at once; when none exists, they wait for that one
computation instead of repeating it. Without coordination, every request that
misses computes the value itself: %d computations for one value.
`, *n)
	return nil
}

func round(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func demoScenario(ctx context.Context, region *dogpile.Region, n int, delay time.Duration, expired, coordinated bool) (*demoResult, error) {
	key := fmt.Sprintf("dogpile-demo:%d", time.Now().UnixNano())
	res := &demoResult{requests: n, latencies: make([]time.Duration, n)}
	res.scenario = map[bool]string{true: "expired", false: "cold"}[expired] + ", " + map[bool]string{true: "dogpile", false: "no coordination"}[coordinated]
	defer func() {
		// Best effort, interrupted or not: demo keys are unique anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interruptGrace)
		defer cancel()
		region.Delete(dctx, key) //nolint:errcheck // see above
	}()

	// As in bench: after an interrupt the creators return and every caller
	// waits for the creation it is part of, so no lock is left behind.
	calls, stop := graceContext(ctx, interruptGrace)
	defer stop()
	var version, created, stale, waited atomic.Int64
	create := func(context.Context) (int64, error) {
		created.Add(1)
		if err := sleep(ctx, delay); err != nil {
			return 0, err
		}
		return version.Add(1), nil
	}
	if expired {
		// A value from before a soft invalidation: expired, still there to
		// be served stale.
		if err := region.Set(ctx, key, int64(0)); err != nil {
			return nil, err
		}
		if err := region.Invalidate(ctx, dogpile.Soft); err != nil {
			return nil, err
		}
	}

	errs := make(chan error, n)
	startgate.Run(n, func(i int) {
		t0 := time.Now()
		var v int64
		var err error
		if coordinated {
			v, err = dogpile.GetOrCreate(calls, region, key, create)
		} else {
			v, err = uncoordinated(calls, region, key, create)
		}
		res.latencies[i] = time.Since(t0)
		if err != nil {
			errs <- err
			return
		}
		if v == 0 {
			stale.Add(1)
		}
		if res.latencies[i] >= delay/2 {
			waited.Add(1)
		}
	})
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	slices.Sort(res.latencies)
	res.creatorCalls, res.staleServed, res.waited = created.Load(), stale.Load(), waited.Load()
	return res, nil
}

// uncoordinated is the cache-aside code most programs start with: read, and
// on a miss (or an expired value) compute and write.
func uncoordinated(ctx context.Context, region *dogpile.Region, key string, create func(context.Context) (int64, error)) (int64, error) {
	if v, ok, err := dogpile.Get[int64](ctx, region, key); err != nil || ok {
		return v, err
	}
	v, err := create(ctx)
	if err != nil {
		return 0, err
	}
	return v, region.Set(ctx, key, v)
}
