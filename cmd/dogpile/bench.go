package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/dogpile-go/dogpile"
)

// The loads bench can run.
const (
	loadHit     = "hit"
	loadCold    = "cold-stampede"
	loadExpired = "expired-stampede"
)

type benchParams struct {
	load        string
	concurrency int
	requests    int
	rounds      int
	delay       time.Duration
	keys        int
	valueSize   int
}

// benchResult is one run's outcome.
type benchResult struct {
	params        benchParams
	requests      int
	errors        int64
	firstErr      error
	elapsed       time.Duration
	latencies     []time.Duration // sorted
	creatorCalls  int64
	maxPerRound   int64 // stampedes: the most creator calls in one round
	stats         dogpile.Stats
	regionDesc    string
	regionName    string
	backend       string
	configuration string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", `Usage: dogpile bench [--load hit|cold-stampede|expired-stampede] [flags]

Runs a load against a configured region, from this process, and prints a
latency table and the region's counters for the run (hits, misses, values
served stale, regenerations, lock waits). A progress line is written to
standard error while it runs (when it is a terminal, or with --progress).

Loads:
  hit               -c callers read -n times from --keys keys stored first:
                    every request is a hit (the cost of a read through the region)
  cold-stampede     --rounds times, -c callers ask at once for a key that has no
                    value; the creator takes --delay. With the dogpile lock one
                    caller creates it and the others wait for that value.
  expired-stampede  --rounds times, -c callers ask at once for a key whose value
                    has just expired; the creator takes --delay. One caller
                    regenerates it; the others are served the stale value at once.

The keys are new ones (dogpile-bench:<random>:…) and are deleted afterwards.
The expired load expires its values with soft invalidations that stay in this
process (it opens the region without shared_invalidation), so no other key or
process is touched.

--plot FILE writes the latency distribution as a PNG: the share of requests
(%) completed within each latency (milliseconds: on a log scale when the
latencies span orders of magnitude, on a linear one around them when they
do not, as in a cold stampede).

Ctrl-C stops the run: the creators return, every caller waits for the
creation it is part of (so its lock is released), the run's keys are
deleted, and the command exits with status 130.
`+regionHelp+`
Examples:
  dogpile bench
  dogpile bench --config dogpile.toml --region shared --load hit -c 32 -n 100000
  dogpile bench --load cold-stampede -c 200 --rounds 10 --delay 100ms --plot cold.png
  dogpile bench --load expired-stampede --json
`)
	rf := addRegionFlags(fs)
	var p benchParams
	fs.StringVar(&p.load, "load", loadHit, "the load: hit, cold-stampede or expired-stampede")
	fs.IntVar(&p.concurrency, "c", 0, "concurrent callers (default 16 for hit, 100 for the stampedes)")
	fs.IntVar(&p.requests, "n", 20000, "hit: requests in all")
	fs.IntVar(&p.rounds, "rounds", 20, "stampedes: how many stampedes, each on a new key")
	fs.DurationVar(&p.delay, "delay", 50*time.Millisecond, "stampedes: how long the creator takes")
	fs.IntVar(&p.keys, "keys", 1000, "hit: distinct keys")
	fs.IntVar(&p.valueSize, "value-size", 100, "bytes per value")
	plotPath := fs.String("plot", "", "write a latency plot to `file` (PNG)")
	asJSON := fs.Bool("json", false, "print the results as a JSON object")
	progress := fs.Bool("progress", terminal(stderr), "write a progress line to standard error")
	if _, err := parseArgs(fs, args, stdout, 0, " (the load is chosen with --load)"); err != nil {
		return err
	}
	switch p.load {
	case loadHit:
		if p.concurrency == 0 {
			p.concurrency = 16
		}
	case loadCold, loadExpired:
		if p.concurrency == 0 {
			p.concurrency = 100
		}
	default:
		return usageErrorf("bench: --load %q: want hit, cold-stampede or expired-stampede", p.load)
	}
	if p.concurrency < 1 || p.requests < 1 || p.rounds < 1 || p.keys < 1 || p.valueSize < 0 || p.delay < 0 {
		return usageErrorf("bench: -c, -n, --rounds and --keys must be at least 1, --value-size and --delay not negative")
	}
	if *plotPath != "" && !strings.HasSuffix(strings.ToLower(*plotPath), ".png") {
		return usageErrorf("bench: --plot %s: the plot is a PNG; name the file .png", *plotPath)
	}
	ch, err := rf.choose()
	if err != nil {
		return err
	}
	if p.load == loadExpired && ch.cfg.SharedInvalidation {
		// The expired load expires its values by soft invalidations, which
		// must stay in this process: recorded in the store, they would make
		// every value of the region stale for every process.
		rc := *ch.cfg
		rc.SharedInvalidation = false
		ch.cfg = &rc
	}
	// The run's counters are what bench can show that stats cannot.
	t, err := ch.open(dogpile.WithMetrics())
	if err != nil {
		return err
	}
	defer t.region.Close()

	var pr *progressLine
	if *progress {
		pr = newProgress(stderr, p.load)
	}
	res, err := bench(ctx, t, p, pr)
	if err != nil {
		return err
	}
	if *plotPath != "" {
		if err := writePlot(*plotPath, res); err != nil {
			return fmt.Errorf("bench: --plot: %w", err)
		}
	}
	if *asJSON {
		err = writeJSON(stdout, res.jsonValue())
	} else {
		err = res.print(stdout)
		if *plotPath != "" {
			fmt.Fprintf(stdout, "\nlatency plot: %s\n", *plotPath)
		}
	}
	if err != nil {
		return err
	}
	if res.errors > 0 {
		return fmt.Errorf("bench: %d of %d requests failed; the first: %w", res.errors, res.requests, res.firstErr)
	}
	return nil
}

// bench runs the load until it is done or ctx (the user's interrupt) ends.
// The calls run under calls, which outlives ctx by a grace period: after an
// interrupt each creator returns at once (it waits on ctx), and each caller
// waits for the creation it is part of to finish — and so for its lock to be
// released — instead of leaving it behind in a process about to exit.
func bench(ctx context.Context, t *target, p benchParams, pr *progressLine) (*benchResult, error) {
	calls, stop := graceContext(ctx, interruptGrace)
	defer stop()
	r := t.region
	var rnd [6]byte
	rand.Read(rnd[:]) //nolint:errcheck // crypto/rand.Read does not fail
	ns := "dogpile-bench:" + hex.EncodeToString(rnd[:]) + ":"
	value := strings.Repeat("x", p.valueSize)
	res := &benchResult{params: p, regionName: t.cfg.Name, regionDesc: t.describe(), backend: t.cfg.Backend, configuration: t.source}

	var used []string
	defer func() {
		// Best effort, on a context of its own: the run's may be cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for c := range slices.Chunk(used, 500) {
			r.DeleteMulti(cctx, c) //nolint:errcheck // leftover bench keys are harmless and namespaced
		}
	}()

	var created atomic.Int64
	var errs atomic.Int64
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errs.Add(1)
		errOnce.Do(func() { firstErr = err })
	}

	switch p.load {
	case loadHit:
		keys := make([]string, p.keys)
		for i := range keys {
			keys[i] = fmt.Sprintf("%shit:%d", ns, i)
		}
		used = keys
		for c := range slices.Chunk(keys, 500) {
			batch := make(map[string]any, len(c))
			for _, k := range c {
				batch[k] = value
			}
			if err := r.SetMulti(ctx, batch); err != nil {
				return nil, fmt.Errorf("bench: store the %d keys: %w", len(keys), err)
			}
		}
		before := r.Stats()
		res.requests = p.requests
		lat := make([]time.Duration, p.requests)
		create := func(context.Context) (string, error) { created.Add(1); return value, nil }
		var next atomic.Int64
		pr.start(int64(p.requests))
		start := time.Now()
		var wg sync.WaitGroup
		for range p.concurrency {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(p.requests) || ctx.Err() != nil {
						return
					}
					t0 := time.Now()
					if _, err := dogpile.GetOrCreate(calls, r, keys[i%int64(len(keys))], create); err != nil {
						fail(err)
					}
					lat[i] = time.Since(t0)
					pr.add(1)
				}
			})
		}
		wg.Wait()
		res.elapsed = time.Since(start)
		pr.stop()
		res.latencies = lat
		res.stats = diffStats(r.Stats(), before)
	case loadCold, loadExpired:
		res.requests = p.rounds * p.concurrency
		lat := make([]time.Duration, 0, res.requests)
		before := r.Stats()
		pr.start(int64(res.requests))
		var elapsed time.Duration
		for round := range p.rounds {
			if ctx.Err() != nil {
				break
			}
			key := fmt.Sprintf("%s%s:%d", ns, p.load, round)
			used = append(used, key)
			if p.load == loadExpired {
				// A value, then a soft invalidation: the value is expired,
				// and every value created from now on is fresh. The region
				// keeps this invalidation in this process (see runBench).
				if err := r.Set(ctx, key, value); err != nil {
					return nil, fmt.Errorf("bench: store %q: %w", key, err)
				}
				if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
					return nil, fmt.Errorf("bench: expire %q: %w", key, err)
				}
			}
			var roundCalls atomic.Int64
			create := func(context.Context) (string, error) {
				created.Add(1)
				roundCalls.Add(1)
				if err := sleep(ctx, p.delay); err != nil {
					return "", err
				}
				return value, nil
			}
			roundLat := make([]time.Duration, p.concurrency)
			gate := make(chan struct{})
			var ready, wg sync.WaitGroup
			for i := range p.concurrency {
				ready.Add(1)
				wg.Go(func() {
					ready.Done()
					<-gate
					t0 := time.Now()
					if _, err := dogpile.GetOrCreate(calls, r, key, create); err != nil {
						fail(err)
					}
					roundLat[i] = time.Since(t0)
					pr.add(1)
				})
			}
			ready.Wait() // every caller is started: they ask at once
			t0 := time.Now()
			close(gate)
			wg.Wait()
			elapsed += time.Since(t0)
			lat = append(lat, roundLat...)
			res.maxPerRound = max(res.maxPerRound, roundCalls.Load())
		}
		pr.stop()
		res.elapsed = elapsed
		res.latencies = lat
		res.stats = diffStats(r.Stats(), before)
	}
	slices.Sort(res.latencies)
	res.creatorCalls = created.Load()
	res.errors = errs.Load()
	res.firstErr = firstErr
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: interrupted: %w", err)
	}
	return res, nil
}

// interruptGrace bounds how long a command's calls go on after an interrupt:
// long enough for a creation to see the interrupt and release its lock, not
// so long that a lock held by another process keeps the command waiting.
const interruptGrace = 5 * time.Second

// graceContext returns a context for a command's calls to the region that
// ends grace after ctx does (or when stop is called).
func graceContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	calls, cancel := context.WithCancel(context.WithoutCancel(ctx))
	after := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return calls, func() { after(); cancel() }
}

// sleep is a creator's work: d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func diffStats(a, b dogpile.Stats) dogpile.Stats {
	return dogpile.Stats{
		Hits: a.Hits - b.Hits, Misses: a.Misses - b.Misses, StaleServed: a.StaleServed - b.StaleServed,
		Regenerations: a.Regenerations - b.Regenerations, RegenerationTime: a.RegenerationTime - b.RegenerationTime,
		LockWaits: a.LockWaits - b.LockWaits, LockWaitTime: a.LockWaitTime - b.LockWaitTime,
		CreatorErrors: a.CreatorErrors - b.CreatorErrors, BackendErrors: a.BackendErrors - b.BackendErrors,
		DecodeFailures: a.DecodeFailures - b.DecodeFailures,
	}
}

// quantile is the nearest-rank q-quantile of the sorted latencies.
func (res *benchResult) quantile(q float64) time.Duration {
	n := len(res.latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return res.latencies[min(max(i, 0), n-1)]
}

func (res *benchResult) mean() time.Duration {
	if len(res.latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range res.latencies {
		sum += d
	}
	return sum / time.Duration(len(res.latencies))
}

func (res *benchResult) throughput() float64 {
	if res.elapsed <= 0 {
		return 0
	}
	return float64(len(res.latencies)) / res.elapsed.Seconds()
}

// describeLoad says what was run, in a line.
func (res *benchResult) describeLoad() string {
	p := res.params
	switch p.load {
	case loadHit:
		return fmt.Sprintf("%d concurrent callers, %d requests over %d keys of %d bytes", p.concurrency, p.requests, p.keys, p.valueSize)
	case loadCold:
		return fmt.Sprintf("%d rounds of %d concurrent callers asking for a key with no value; the creator takes %v", p.rounds, p.concurrency, p.delay)
	}
	return fmt.Sprintf("%d rounds of %d concurrent callers asking for a key whose value has expired; the creator takes %v", p.rounds, p.concurrency, p.delay)
}

func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 1:
		return fmt.Sprintf("%.3fms", f)
	case f < 100:
		return fmt.Sprintf("%.2fms", f)
	}
	return fmt.Sprintf("%.0fms", f)
}

func (res *benchResult) print(w io.Writer) error {
	fmt.Fprintf(w, "dogpile bench: %s load on %s\n%s\n\n", res.params.load, res.regionDesc, res.describeLoad())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\trequests\terrors\treq/s\tmean\tp50\tp90\tp99\tp99.9\tmax\tcreator calls\t")
	calls := fmt.Sprint(res.creatorCalls)
	if res.params.load != loadHit {
		calls = fmt.Sprintf("%d (at most %d a round)", res.creatorCalls, res.maxPerRound)
	}
	fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.params.load, len(res.latencies), res.errors, res.throughput(),
		ms(res.mean()), ms(res.quantile(0.5)), ms(res.quantile(0.9)), ms(res.quantile(0.99)), ms(res.quantile(0.999)),
		ms(res.quantile(1)), calls)
	if err := tw.Flush(); err != nil {
		return err
	}
	s := res.stats
	_, err := fmt.Fprintf(w, "\nregion counters for the run: %d hits, %d misses, %d served stale, %d regenerations (%v in creators), %d lock waits (%v waiting), %d creator errors, %d backend errors\n",
		s.Hits, s.Misses, s.StaleServed, s.Regenerations, s.RegenerationTime.Round(time.Millisecond), s.LockWaits,
		s.LockWaitTime.Round(time.Millisecond), s.CreatorErrors, s.BackendErrors)
	return err
}

func (res *benchResult) jsonValue() map[string]any {
	p := res.params
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := map[string]any{
		"load": p.load, "region": res.regionName, "backend": res.backend, "configuration": res.configuration,
		"concurrency": p.concurrency, "requests": len(res.latencies), "errors": res.errors,
		"value_size":       p.valueSize,
		"duration_seconds": res.elapsed.Seconds(), "throughput_per_second": res.throughput(),
		"latency_ms": map[string]float64{
			"mean": msf(res.mean()), "p50": msf(res.quantile(0.5)), "p90": msf(res.quantile(0.9)),
			"p99": msf(res.quantile(0.99)), "p999": msf(res.quantile(0.999)), "max": msf(res.quantile(1)),
		},
		"creator_calls": res.creatorCalls,
		"region_stats": map[string]any{
			"hits": res.stats.Hits, "misses": res.stats.Misses, "stale_served": res.stats.StaleServed,
			"regenerations": res.stats.Regenerations, "regeneration_seconds": res.stats.RegenerationTime.Seconds(),
			"lock_waits": res.stats.LockWaits, "lock_wait_seconds": res.stats.LockWaitTime.Seconds(),
			"creator_errors": res.stats.CreatorErrors, "backend_errors": res.stats.BackendErrors,
			"decode_failures": res.stats.DecodeFailures,
		},
	}
	if p.load == loadHit {
		out["keys"] = p.keys
	} else {
		out["rounds"], out["creator_delay_ms"], out["max_creator_calls_per_round"] = p.rounds, msf(p.delay), res.maxPerRound
	}
	if res.firstErr != nil {
		out["first_error"] = res.firstErr.Error()
	}
	return out
}

// progressLine rewrites one line on standard error while a run goes on.
// Its methods do nothing on a nil receiver, so a run without progress calls
// them all the same.
type progressLine struct {
	w     io.Writer
	label string
	total int64
	done  atomic.Int64
	begin time.Time
	quit  chan struct{}
	ended chan struct{}
}

func newProgress(w io.Writer, label string) *progressLine {
	return &progressLine{w: w, label: label}
}

func (p *progressLine) start(total int64) {
	if p == nil {
		return
	}
	p.total, p.begin = total, time.Now()
	p.quit, p.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.ended)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.draw()
			case <-p.quit:
				p.draw()
				fmt.Fprintln(p.w)
				return
			}
		}
	}()
}

func (p *progressLine) add(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

func (p *progressLine) stop() {
	if p == nil || p.quit == nil {
		return
	}
	close(p.quit)
	<-p.ended
}

func (p *progressLine) draw() {
	done := p.done.Load()
	const width = 30
	filled := int(width * done / max(p.total, 1))
	fmt.Fprintf(p.w, "\rbench %s [%s%s] %d/%d requests %5.1f%% %s ", p.label,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, p.total,
		100*float64(done)/float64(max(p.total, 1)), time.Since(p.begin).Round(100*time.Millisecond))
}
