// Command report turns the raw output of bench/run — go test -bench text,
// the Python script's JSON and the raw stampede latencies — into
// bench/RESULTS.md and the PNG plots beside it.
//
//	go run ./cmd/report -results results -out RESULTS.md -plots plots -command "bench/run"
//
// Every figure is the median over the runs (-count), computed as benchstat
// does (golang.org/x/perf/benchmath, no assumption about the distribution).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/bench"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func main() {
	results := flag.String("results", "results", "directory with go-*.txt, python.json and latency/")
	out := flag.String("out", "RESULTS.md", "the report to write")
	plots := flag.String("plots", "plots", "directory for the PNG plots")
	command := flag.String("command", "bench/run", "the command that produced the results, for the report")
	elapsed := flag.Duration("elapsed", 0, "how long the run took, for the report")
	loadBefore := flag.String("load", "", "load average when the run started, for the report")
	flag.Parse()
	if err := run(*results, *out, *plots, *command, *elapsed, *loadBefore); err != nil {
		log.Fatal(err)
	}
}

// key names one benchmark row: the benchmark (without "Benchmark") and its
// name=value parts.
type key struct {
	bench string
	lib   string
	mode  string
}

// data holds every sample: key → unit → values (one per run).
type data map[key]map[string][]float64

func readGo(paths []string) (data, string, error) {
	d := data{}
	cpu := ""
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, "", err
		}
		r := benchfmt.NewReader(f, p)
		for r.Scan() {
			res, ok := r.Result().(*benchfmt.Result)
			if !ok {
				continue
			}
			for _, c := range res.Config {
				if c.Key == "cpu" {
					cpu = string(c.Value)
				}
			}
			base, parts := res.Name.Parts()
			k := key{bench: "Benchmark" + string(base)} // benchfmt drops the prefix
			for _, part := range parts {
				s := strings.TrimPrefix(string(part), "/")
				if name, val, ok := strings.Cut(s, "="); ok {
					switch name {
					case "lib":
						k.lib = val
					case "mode":
						k.mode = val
					}
				}
			}
			if d[k] == nil {
				d[k] = map[string][]float64{}
			}
			for _, v := range res.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				d[k][unit] = append(d[k][unit], val)
			}
		}
		f.Close()
		if err := r.Err(); err != nil {
			return nil, "", err
		}
	}
	return d, cpu, nil
}

// median is benchstat's summary: the median.
func median(vals []float64) (benchmath.Summary, bool) {
	if len(vals) == 0 {
		return benchmath.Summary{}, false
	}
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(vals, &benchmath.DefaultThresholds), 0.95), true
}

type pyResult struct {
	Python  string `json:"python"`
	Dogpile string `json:"dogpile"`
	Runs    int    `json:"runs"`
	Rows    []struct {
		Workload string             `json:"workload"`
		Lib      string             `json:"lib"`
		Metrics  map[string]float64 `json:"metrics"`
	} `json:"rows"`
}

func (p *pyResult) metric(workload, unit string) (float64, bool) {
	if p == nil {
		return 0, false
	}
	for _, r := range p.Rows {
		if r.Workload == workload {
			v, ok := r.Metrics[unit]
			return v, ok
		}
	}
	return 0, false
}

// display names for the row names that must avoid "/" in benchmark names.
var display = map[string]string{
	"go-redis-cache":    "go-redis/cache",
	"map-rwmutex-sf":    "map+RWMutex+singleflight",
	"syncmap-sf":        "sync.Map+singleflight",
	"redis-sf":          "go-redis+singleflight",
	"go-redis":          "go-redis (plain GET/MGET)",
	"gomemcache":        "gomemcache (plain Get)",
	"python-dogpile":    "Python dogpile.cache",
	"dogpile-async":     "dogpile (async runner)",
	"dogpile-arg":       "dogpile (GetOrCreateArg)",
	"dogpile-cached":    "dogpile (Cached)",
	"dogpile-static":    "dogpile (constant key, no closure)",
	"otter-strkey":      "otter (string key built per call)",
	"dogpile-sleep10ms": "dogpile (lock_sleep 10ms)",
	"dogpile-memcached": "dogpile (Memcached)",
	"dogpile-file":      "dogpile (file backend)",
	"gocache-memcached": "gocache (Memcached)",
	"sturdyc-early":     "sturdyc (early refreshes)",
}

func name(lib string) string {
	if n, ok := display[lib]; ok {
		return n
	}
	return lib
}

// floors are the hand-written baselines: shown, but never "the best peer".
var floors = map[string]bool{"map-rwmutex-sf": true, "syncmap-sf": true, "redis-sf": true, "go-redis": true, "gomemcache": true}

// family groups the variants of one library: a row's peers are the other
// families.
func family(lib string) string {
	switch {
	case lib == "python-dogpile":
		return "python"
	case strings.HasPrefix(lib, "dogpile"):
		return "dogpile"
	case strings.HasPrefix(lib, "otter"):
		return "otter"
	case strings.HasPrefix(lib, "sturdyc"):
		return "sturdyc"
	case strings.HasPrefix(lib, "gocache"):
		return "gocache"
	}
	return lib
}

// column is one figure of a table.
type column struct {
	title  string
	bench  string // benchmark base name, e.g. "BenchmarkMemoryHit"
	mode   string
	unit   string // as reported
	py     string // the Python workload with this figure, if any
	format func(float64) string
	higher bool // higher is better (hit ratio)
	ratio  bool // add "vs best peer" for this column
}

type table struct {
	id, title, intro string
	libs             []string
	cols             []column
	notes            []string
	notBest          map[string]bool // rows never taken as the best peer (unbounded caches in 6)
}

// cell is one figure.
type cell struct {
	v  float64
	ci string
	ok bool
}

func (t *table) cell(d data, py *pyResult, lib string, c column) cell {
	if lib == "python-dogpile" {
		if c.py == "" {
			return cell{}
		}
		v, ok := py.metric(c.py, c.unit)
		return cell{v: v, ok: ok}
	}
	vals := d[key{bench: c.bench, lib: lib, mode: c.mode}][c.unit]
	s, ok := median(vals)
	if !ok {
		return cell{}
	}
	return cell{v: s.Center, ci: spread(vals, s.Center), ok: true}
}

// spread is the largest deviation of one run from the median, in percent of
// it ("" when under 0.5%). (With 5 runs benchstat has no 95% confidence
// interval for the median: it needs 6.)
func spread(vals []float64, center float64) string {
	if center == 0 || len(vals) < 2 {
		return ""
	}
	r := math.Max(slices.Max(vals)-center, center-slices.Min(vals)) / math.Abs(center) * 100
	switch {
	case r < 0.5:
		return ""
	case r > 100:
		return "±>100%" // an outlier run: the median is the figure to read
	}
	return fmt.Sprintf("±%.0f%%", r)
}

// best returns the best figure among lib's peers for column c, and whose.
// The peers are the other libraries; where there are none (memcached, the
// multi-get), the hand-written floor.
func (t *table) best(d data, py *pyResult, lib string, c column) (float64, string, bool) {
	if v, l, ok := t.bestOf(d, py, lib, c, false); ok {
		return v, l, ok
	}
	return t.bestOf(d, py, lib, c, true)
}

func (t *table) bestOf(d data, py *pyResult, lib string, c column, withFloors bool) (float64, string, bool) {
	var bv float64
	var bl string
	found := false
	for _, other := range t.libs {
		if family(other) == family(lib) || floors[other] != withFloors || other == "python-dogpile" || t.notBest[other] {
			continue
		}
		x := t.cell(d, py, other, c)
		if !x.ok {
			continue
		}
		if !found || (c.higher && x.v > bv) || (!c.higher && x.v < bv) {
			bv, bl, found = x.v, other, true
		}
	}
	return bv, bl, found
}

// behind is one figure where dogpile trails its best peer.
type behind struct {
	table, row, col, peer string
	v, best, ratio        float64
	format                func(float64) string
}

func (t *table) write(w io.Writer, d data, py *pyResult, lag *[]behind) {
	fmt.Fprintf(w, "\n### %s\n\n%s\n\n", t.title, t.intro)
	fmt.Fprint(w, "| library |")
	for _, c := range t.cols {
		fmt.Fprintf(w, " %s |", c.title)
		if c.ratio {
			fmt.Fprint(w, " vs best peer |")
		}
	}
	fmt.Fprint(w, "\n|---|")
	for _, c := range t.cols {
		fmt.Fprint(w, "---:|")
		if c.ratio {
			fmt.Fprint(w, "---:|")
		}
	}
	fmt.Fprintln(w)
	for _, lib := range t.libs {
		any := false
		var row strings.Builder
		fmt.Fprintf(&row, "| %s |", name(lib))
		for _, c := range t.cols {
			x := t.cell(d, py, lib, c)
			if !x.ok {
				fmt.Fprint(&row, " — |")
				if c.ratio {
					fmt.Fprint(&row, " |")
				}
				continue
			}
			any = true
			s := c.format(x.v)
			if x.ci != "" {
				s += " " + x.ci
			}
			fmt.Fprintf(&row, " %s |", s)
			if c.ratio {
				bv, bl, ok := t.best(d, py, lib, c)
				switch {
				case !ok || bv == 0 && x.v == 0:
					fmt.Fprint(&row, " |")
				case bv == 0:
					fmt.Fprint(&row, " ∞ |")
				default:
					r := x.v / bv
					fmt.Fprintf(&row, " %s |", ratioString(r))
					worse := (!c.higher && r > 1.10) || (c.higher && r < 0.98)
					if family(lib) == "dogpile" && worse && lag != nil {
						*lag = append(*lag, behind{table: t.title, row: name(lib), col: c.title, peer: name(bl), v: x.v, best: bv, ratio: r, format: c.format})
					}
				}
			}
		}
		if any {
			fmt.Fprintln(w, row.String())
		}
	}
	for _, n := range t.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func ratioString(r float64) string {
	switch {
	case r < 0.1:
		return fmt.Sprintf("%.2g×", r) // 0.002×: far better, but not zero
	case r < 1:
		return fmt.Sprintf("%.2f×", r)
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

func ns(v float64) string {
	switch {
	case v >= 1e9:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", v/1e9), ".00") + " s"
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f ns", v)
	}
	return fmt.Sprintf("%.1f ns", v)
}

func us(v float64) string { return ns(v * 1e3) }

func count(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func percent(v float64) string { return fmt.Sprintf("%.1f%%", v) }

func rate(v float64) string { return fmt.Sprintf("%.0f", v) }

var memoryLibs = func() []string {
	var out []string
	for _, l := range bench.MemoryLibs {
		out = append(out, l.Name)
	}
	return out
}()

// hitLibs are the rows of workload 1.
var hitLibs = func() []string {
	var out []string
	for _, l := range bench.HitLibs {
		out = append(out, l.Name)
	}
	return out
}()

func unbounded() map[string]bool {
	out := map[string]bool{}
	for _, l := range bench.MemoryLibs {
		if !l.Bounded {
			out[l.Name] = true
		}
	}
	return out
}

func distributedLibs() []string {
	var out []string
	for _, l := range bench.DistributedLibs {
		out = append(out, l.Name)
	}
	return append(out, "python-dogpile")
}

func tables() []*table {
	stampedeCols := func(b, py string) []column {
		return []column{
			{title: "creator calls", bench: b, unit: "creator-calls/op", py: py, format: count, ratio: true},
			{title: "p50", bench: b, unit: "p50-µs", py: py, format: us},
			{title: "p99", bench: b, unit: "p99-µs", py: py, format: us, ratio: true},
			{title: "max", bench: b, unit: "max-µs", py: py, format: us},
		}
	}
	// remoteCols are a remote read's columns: its latency (against Python's
	// row py, if any) and its allocations.
	remoteCols := func(b, py string) []column {
		return []column{
			{title: "latency", bench: b, unit: "ns/op", py: py, format: ns, ratio: true},
			{title: "allocs", bench: b, unit: "allocs/op", format: count},
		}
	}
	return []*table{
		{
			id: "1", title: "1. Memory hit",
			intro: "One hot key, present and fresh; `BenchmarkMemoryHit`. The dogpile rows are four ways to write the call, the natural one first: `GetOrCreate` with a key built per call (`\"user:\"+strconv.Itoa(id)`) and a creator closure over the ID; `GetOrCreateArg` with the same key and the loader itself; `Cached(r, LoadUser).Call(ctx, id)`; a constant key with a creator that captures nothing. otter is keyed by the ID (`Cache[int, string].Get(ctx, id, loader)`), and in a second row by the dogpile rows' string key; the other libraries by a constant string. Serial: one goroutine; parallel: `b.RunParallel` on GOMAXPROCS goroutines (ns/op is wall time per call over all of them).",
			libs:  append(slices.Clone(hitLibs), "python-dogpile"),
			cols: []column{
				{title: "serial", bench: "BenchmarkMemoryHit", mode: "serial", unit: "ns/op", py: "memory-hit-serial", format: ns, ratio: true},
				{title: "allocs", bench: "BenchmarkMemoryHit", mode: "serial", unit: "allocs/op", format: count},
				{title: "parallel", bench: "BenchmarkMemoryHit", mode: "parallel", unit: "ns/op", format: ns, ratio: true},
			},
			notes: []string{"The baselines check no expiry at all (the floor); every library has a one-hour expiry. Python runs serially only: the GIL serialises threads.",
				"`strconv.Itoa` allocates its result (8 B) for an ID of 100 or more: that is the one allocation of the `GetOrCreateArg` row, and one of the two of the natural call (the other is the closure). The key built from it does not escape."},
		},
		{
			id: "2", title: "2. Cold-key stampede",
			intro: "1,000 goroutines ask at once for a key nobody has; the creator takes 50 ms. `BenchmarkStampedeCold`; latency is each caller's, over every run. Plot: `plots/stampede-cold.png`.",
			libs:  append(slices.Clone(memoryLibs), "python-dogpile"),
			cols:  stampedeCols("BenchmarkStampedeCold", "stampede-cold"),
		},
		{
			id: "3", title: "3. Expired-key stampede (a stale value is there)",
			intro: "The same, on a key whose value expired (TTL 100 ms, waited out before the start). The dogpile promise: one creator, and every other caller gets the stale value at hit latency. `BenchmarkStampedeExpired`. Plot: `plots/stampede-expired.png`.",
			libs:  append(slices.Clone(memoryLibs), "python-dogpile"),
			cols:  stampedeCols("BenchmarkStampedeExpired", "stampede-expired"),
			notes: []string{
				"sturdyc (no early refreshes), eko/gocache, go-redis/cache and the baselines have no stale-while-revalidate: an expired key is a miss, so every caller waits for the creator, as when cold.",
				"dogpile without an async runner: the caller that wins the lock regenerates in its own call (50 ms: the max column); the other 999 get the stale value. With `WithAsyncRunner` that caller gets it too.",
				"Python: 1,000 threads take longer than 100 ms to all run once under the GIL, so there the value is made stale by a soft invalidation (`region.invalidate(hard=False)`) instead of a 100 ms expiry; the effect is the same.",
				"Python's latencies in 2 and 3 start when each thread gets the GIL after the barrier, which for many is after the value was made: its p50 in 2 is therefore below the creator's 50 ms.",
			},
		},
		{
			id: "4a", title: "4a. Redis hit",
			intro: "One key, present in Redis, read serially on loopback: one round trip per call. `BenchmarkRedisHit`.",
			libs:  []string{"dogpile", "go-redis-cache", "gocache", "go-redis", "python-dogpile"},
			cols:  remoteCols("BenchmarkRedisHit", "redis-hit"),
			notes: []string{"go-redis/cache runs without its local TinyLFU here (with it, a hit is a memory hit). sturdyc and otter are left out: their hits come from process memory; sturdyc's Redis tier is an adapter the user writes over go-redis (ours is plain GET/MGET)."},
		},
		{
			id: "4b", title: "4b. Redis 100-key multi-get",
			intro: "100 keys, all present, in one call. `BenchmarkRedisMulti100`: dogpile's `GetOrCreateMulti` (one MGET) against a plain go-redis MGET.",
			libs:  []string{"dogpile", "go-redis"},
			cols:  remoteCols("BenchmarkRedisMulti100", ""),
			notes: []string{"eko/gocache and go-redis/cache have no multi-key get: 100 keys are 100 round trips (not run). sturdyc's `GetOrFetchBatch` reads its process memory first; its Redis tier is the user's own MGET."},
		},
		{
			id: "4c", title: "4c. Memcached hit",
			intro: "One key, present in memcached, read serially. `BenchmarkMemcachedHit`.",
			libs:  []string{"dogpile", "gocache", "gomemcache", "python-dogpile"},
			cols:  remoteCols("BenchmarkMemcachedHit", "memcached-hit"),
			notes: []string{"eko/gocache: its loadable cache over its memcache store (`store/memcache/v4` v4.2.4). otter, sturdyc and go-redis/cache have no memcached tier. gomemcache is the floor. Python: the `dogpile.cache.pymemcache` backend."},
		},
		{
			id: "4d", title: "4d. Memcached 100-key multi-get",
			intro: "100 keys, all present, in one call. `BenchmarkMemcachedMulti100`: dogpile's `GetOrCreateMulti` (one get-multi round trip) against gomemcache's `GetMulti` of the same keys.",
			libs:  []string{"dogpile", "gomemcache"},
			cols:  remoteCols("BenchmarkMemcachedMulti100", ""),
			notes: []string{"The dogpile backend reads through gomemcache's `GetMulti`, whose three allocations a key (the item, its key, its value) both rows pay."},
		},
		{
			id: "5", title: "5. Distributed stampede (4 processes × 50 goroutines, one shared store)",
			intro: "Four processes (this bench binary re-executed) each start 50 goroutines on the same cold key in one shared store — Redis unless the row names Memcached or the file backend (one SQLite cache file opened by the 4 processes); the creator takes 50 ms and counts its calls with INCR on the Redis server. `BenchmarkDistributedStampede`. Plot: `plots/distributed.png`.",
			libs:  distributedLibs(),
			cols:  stampedeCols("BenchmarkDistributedStampede", "distributed"),
			notes: []string{
				"Only dogpile (and the Python original) hold the lock across processes: the others coalesce per process (singleflight or the like), so each process runs the creator once.",
				"dogpile on Redis (default settings, the first row): the waiting processes subscribe to the lock's release and, when it comes, read the value the holder stored instead of taking the lock in turn; `lock_sleep` is only the poll when no release is heard, so the 10 ms row changes little. On Memcached, which cannot push, waiters poll the lock with a back-off from 1 ms up to `lock_sleep` (50 ms) and then take it in turn. The file backend's waiters sleep in the kernel on the holder's OS lock and are woken at its release.",
				"Python threads each take the Redis lock themselves (no in-process coalescing), polling it every `lock_sleep` (0.1 s).",
				"otter can't express it: it has no shared tier (a Loader that reads Redis first is the go-redis+singleflight row).",
			},
		},
		{
			id: "6", title: "6. Zipf read/write mix",
			intro:   "Keys drawn from Zipf(s=1.01) over 100,000 keys, 90% reads (get-or-load, the loader takes 100 µs) and 10% writes, at a fixed 40,000 ops/s (open loop, 32 goroutines, 1 s per run after a 200,000-op warm-up); caches bounded to 10,000 entries. `BenchmarkZipf`. Latency is per operation, from its start.",
			libs:    memoryLibs,
			notBest: unbounded(),
			cols: []column{
				{title: "hit ratio", bench: "BenchmarkZipf", unit: "hit-%", format: percent, higher: true, ratio: true},
				{title: "p50", bench: "BenchmarkZipf", unit: "p50-µs", format: us},
				{title: "p99", bench: "BenchmarkZipf", unit: "p99-µs", format: us, ratio: true},
				{title: "ops/s", bench: "BenchmarkZipf", unit: "ops/s", format: rate},
			},
			notes: []string{"eko/gocache's go_cache store (patrickmn/go-cache) and the two baselines have no size bound: they keep every key, so their hit ratio is the ceiling, not a comparable figure (they are not counted as best peers). dogpile's bounded memory backend is otter's W-TinyLFU; sturdyc evicts by expiry time; go-redis/cache uses its TinyLFU.",
				"go-redis/cache's hit ratio suffers from the writes: its TinyLFU's `Set` (github.com/vmihailenco/go-tinylfu) always inserts into the window, without updating a key it already holds, so a write leaves a dead copy that takes room from live entries. On reads alone it matches otter (79.7% against 78.2% in a check with the same keys).",
			},
		},
	}
}

// reasons explains, per table, why dogpile trails there when it does.
var reasons = map[string]string{
	"1. Memory hit":               "The natural call allocates its closure: the creator may run after the call returns (the creation is detached from the caller), so Go puts every closure passed to `GetOrCreate` on the heap, hit or not; `GetOrCreateArg` passes the ID beside a static loader instead. Building the key (`strconv.Itoa` and the concatenation) is about half of the `GetOrCreateArg` row's time; otter, keyed by the int, builds none. Of the region's own time (the constant-key row), two thirds are the memory backend's map read (xsync.Map: hashing the key, the bucket probe); the rest is the configured state, the key check and the expiry and invalidation checks.",
	"4a. Redis hit":               "A dogpile value carries a small envelope (format version, creation time, type tag, codec) that is opened, and the payload is decoded (a string points into go-redis's reply, which the backend hands over without a copy); the region then checks expiry and invalidation. The row's two allocations over a plain GET are the key's copy, which the region keeps for a miss, and the caller's creator closure. go-redis/cache and eko/gocache return the bytes or string as they are.",
	"4b. Redis 100-key multi-get": "The go-redis row reads plain values; dogpile's entries carry the envelope, so the two read different bytes. The backend sends the MGET with its keys unboxed and returns the values go-redis read without copying them; the region decodes each value in place into the result, a string pointing into its reply, so that the call allocates fewer times than the plain MGET. What remains is the work per value: the envelope opened, expiry and invalidation checked.",
	"4c. Memcached hit":           "As for Redis: envelope and codec on each value, on top of gomemcache's Get.",
	"5. Distributed stampede (4 processes × 50 goroutines, one shared store)": "The creator runs once instead of once per process; the gap in latency to the per-process peers is at the start. Every one of the 200 callers reads the key before it joins its process's creation (200 GETs, against about one per process for eko/gocache, whose singleflight covers the read), and the lock holder's read under the lock queues behind them on the 2 cores, so the creator starts about 10 ms after the first read, against under 1 ms for the peers (a Redis MONITOR timeline of one run); the release then costs each waiting process one more read. Plan: concurrent reads of one key in a process share one backend read (a prototype cut the Redis row's p99 from 65.9 to 56.4 ms in an interleaved A/B run). On Memcached, which cannot push a release, waiters poll the lock with back-off and take it in turn.",
	"6. Zipf read/write mix":                           "dogpile's bounded memory backend is otter itself; a gap in hit ratio or p99 to otter is noise or the region's per-call overhead (see 1).",
	"2. Cold-key stampede":                             "All libraries coalesce callers in-process; the gap is scheduling noise of waking 1,000 goroutines.",
	"3. Expired-key stampede (a stale value is there)": "Without an async runner the caller that wins the lock regenerates in its own call (50 ms), which is dogpile's documented default (Python dogpile.cache's too); `WithAsyncRunner` hands it to the background.",

	"4d. Memcached 100-key multi-get": "Both rows pay gomemcache's three allocations a key; dogpile adds the string each value is decoded into (the codec copies: its bytes are not kept), the envelope opened and the expiry and invalidation checks.",
}

func run(resultsDir, out, plotsDir, command string, elapsed time.Duration, load string) error {
	goFiles, err := filepath.Glob(filepath.Join(resultsDir, "go-*.txt"))
	if err != nil {
		return err
	}
	if len(goFiles) == 0 {
		return fmt.Errorf("no %s/go-*.txt: run bench/run first", resultsDir)
	}
	d, cpu, err := readGo(goFiles)
	if err != nil {
		return err
	}
	var py *pyResult
	if b, err := os.ReadFile(filepath.Join(resultsDir, "python.json")); err == nil {
		py = &pyResult{}
		if err := json.Unmarshal(b, py); err != nil {
			return fmt.Errorf("python.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	runs := 0
	for _, units := range d {
		runs = max(runs, len(units["ns/op"]))
	}

	if err := os.MkdirAll(plotsDir, 0o755); err != nil {
		return err
	}
	var plotsMade []string
	for _, w := range []struct{ dir, title string }{
		{"stampede-cold", "Cold-key stampede: 1,000 callers, creator 50 ms"},
		{"stampede-expired", "Expired-key stampede: 1,000 callers, a stale value present"},
		{"distributed", "Distributed stampede: 4 processes × 50 goroutines, one shared store"},
	} {
		p, err := plotCDF(filepath.Join(resultsDir, "latency", w.dir), filepath.Join(plotsDir, w.dir+".png"), w.title)
		if err != nil {
			return fmt.Errorf("plot %s: %w", w.dir, err)
		}
		if p != "" {
			plotsMade = append(plotsMade, p)
		}
	}

	var buf bytes.Buffer
	w := &buf
	fmt.Fprintln(w, "# Benchmarks: dogpile side by side with Go caching libraries")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated by `bench/run` (bench/cmd/report); do not edit by hand.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Command: `%s`\n", command)
	fmt.Fprintf(w, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %s\n", machine(cpu))
	if load != "" {
		fmt.Fprintf(w, "- Load average at the start (1, 5, 15 min): %s — other work on the machine shows up as noise\n", load)
	}
	if elapsed > 0 {
		fmt.Fprintf(w, "- Whole run: %s\n", elapsed.Round(time.Second))
	}
	fmt.Fprintf(w, "- Go rows: median of %d runs (`-count %d`) as benchstat computes it, with ±: the largest deviation of one run from it, where over 0.5%%; benchstat's own tables are at the end; the raw output is left in `bench/results/` (not committed).\n", runs, runs)
	if py != nil {
		fmt.Fprintf(w, "- Python rows: dogpile.cache %s on Python %s (the OS packages), median of %d runs, `bench/python/dogpile_bench.py`.\n", py.Dogpile, py.Python, py.Runs)
	}
	fmt.Fprintln(w, "- \"vs best peer\": the row's figure ÷ the best figure among the *other* libraries (other variants of the same library, the hand-written baselines and Python excluded). Below 1× is better for times and creator calls; for the hit ratio, above 1× is better.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Libraries")
	fmt.Fprintln(w)
	for _, l := range bench.MemoryLibs {
		fmt.Fprintf(w, "- **%s** (memory): %s\n", name(l.Name), l.Note)
	}
	for _, l := range bench.HitLibs {
		if family(l.Name) == "dogpile" || family(l.Name) == "otter" { // set up for workload 1 alone
			fmt.Fprintf(w, "- **%s** (memory, workload 1): %s\n", name(l.Name), l.Note)
		}
	}
	for _, l := range bench.DistributedLibs {
		fmt.Fprintf(w, "- **%s** (%s, workload 5): %s\n", name(l.Name), l.Store, l.Note)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Results")
	var lag []behind
	for _, t := range tables() {
		t.write(w, d, py, &lag)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Where dogpile is behind, and why")
	fmt.Fprintln(w)
	if len(lag) == 0 {
		fmt.Fprintln(w, "Nowhere by more than 10% in this run.")
	} else {
		fmt.Fprintln(w, "Every figure where a dogpile row trails the best other library by more than 10% (2% for the hit ratio) in this run:")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| workload | row | figure | dogpile | best peer | ratio |")
		fmt.Fprintln(w, "|---|---|---|---:|---|---:|")
		seen := map[string]bool{}
		var order []string
		for _, l := range lag {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s: %s | %s |\n", l.table, l.row, l.col, l.format(l.v), l.peer, l.format(l.best), ratioString(l.ratio))
			if !seen[l.table] {
				seen[l.table] = true
				order = append(order, l.table)
			}
		}
		fmt.Fprintln(w)
		for _, t := range order {
			if r, ok := reasons[t]; ok {
				fmt.Fprintf(w, "- **%s**: %s\n", t, r)
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## What some libraries cannot express")
	fmt.Fprintln(w)
	for _, s := range cannot {
		fmt.Fprintf(w, "- %s\n", s)
	}
	if len(plotsMade) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## Plots")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Cumulative distribution of caller latency per library (log scale), over every run:")
		fmt.Fprintln(w)
		for _, p := range plotsMade {
			rel, _ := filepath.Rel(filepath.Dir(out), p)
			fmt.Fprintf(w, "![%s](%s)\n\n", filepath.Base(p), filepath.ToSlash(rel))
		}
	}
	if b, err := os.ReadFile(filepath.Join(resultsDir, "benchstat.txt")); err == nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## benchstat")
		fmt.Fprintln(w)
		summary := "benchstat's tables for every Go benchmark: median ± 95% confidence interval"
		if runs < 6 {
			summary = fmt.Sprintf("benchstat's tables for every Go benchmark (%d runs: benchstat needs 6 for a confidence interval)", runs)
		}
		fmt.Fprintf(w, "<details><summary>%s</summary>\n", summary)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```text")
		w.Write(bytes.TrimSpace(b))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "</details>")
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

var cannot = []string{
	"**Stale-while-revalidate (workload 3)**: sturdyc without early refreshes, eko/gocache, go-redis/cache and the baselines drop an expired value, so every caller waits for the creator. otter (refresh-after-write), sturdyc (early refreshes) and dogpile serve the old value.",
	"**Cross-process lock (workload 5)**: only dogpile and the Python original hold the dogpile across processes; sturdyc, eko/gocache, go-redis/cache and the baseline run the creator once per process. otter has no shared tier at all.",
	"**Redis hit / multi-get (workload 4)**: otter is in-process only. sturdyc's distributed tier is an interface the user implements (its hits are served from memory); our adapter is plain GET/MGET, so it is the go-redis row. eko/gocache and go-redis/cache have no multi-key get.",
	"**Memcached (workload 4c)**: otter, sturdyc (short of a user-written adapter) and go-redis/cache have no memcached tier; eko/gocache has one.",
	"**Bounded memory (workload 6)**: eko/gocache's go_cache store and the baselines cannot bound their size; their hit ratio is that of keeping everything.",
	"**Python**: parallel memory hits (the GIL) and the Zipf mix (a fixed 40,000 ops/s is beyond one interpreter) are not run.",
}

func machine(cpu string) string {
	var parts []string
	if cpu == "" {
		cpu = cpuModel()
	}
	parts = append(parts, fmt.Sprintf("%s, %d cores", strings.TrimSpace(cpu), runtime.NumCPU()))
	if m := memTotal(); m != "" {
		parts = append(parts, m+" RAM")
	}
	parts = append(parts, kernel())
	parts = append(parts, runtime.Version())
	return strings.Join(parts, ", ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	var kb float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%f", &kb)
		}
	}
	if kb == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f GiB", kb/(1<<20))
}

// plotCDF draws the cumulative latency distribution of every library whose
// latencies are in dir; it returns the PNG's path, or "" if dir is absent.
func plotCDF(dir, png, title string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		return "", err
	}
	slices.Sort(files)
	// dogpile first, so it gets the first colour.
	slices.SortStableFunc(files, func(a, b string) int {
		da, db := strings.HasPrefix(filepath.Base(a), "dogpile"), strings.HasPrefix(filepath.Base(b), "dogpile")
		switch {
		case da && !db:
			return -1
		case db && !da:
			return 1
		}
		return 0
	})
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "caller latency (log scale)"
	p.Y.Label.Text = "fraction of callers"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = latencyTicks{}
	p.Y.Min, p.Y.Max = 0, 1
	// The legend goes in a column of its own, right of the plot: inside,
	// it would hide some library's line whatever corner it took.
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, f := range files {
		lat, err := bench.ReadLatencies(f)
		if err != nil {
			return "", err
		}
		if len(lat) == 0 {
			continue
		}
		// At most 500 points per line: enough for the shape.
		step := max(1, len(lat)/500)
		var xy plotter.XYs
		for j := 0; j < len(lat); j += step {
			xy = append(xy, plotter.XY{X: math.Max(lat[j], 0.1), Y: float64(j+1) / float64(len(lat))})
		}
		xy = append(xy, plotter.XY{X: math.Max(lat[len(lat)-1], 0.1), Y: 1})
		line, err := plotter.NewLine(xy)
		if err != nil {
			return "", err
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		line.Width = vg.Points(1.5)
		if strings.HasPrefix(filepath.Base(f), "dogpile") {
			line.Width = vg.Points(2.5)
		}
		p.Add(line)
		lib := strings.TrimSuffix(filepath.Base(f), ".txt")
		legend.Add(name(unFileName(lib)), line)
	}
	const width, height, legendWidth = 10 * vg.Inch, 5 * vg.Inch, 2.4 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legend.Draw(draw.Crop(dc, width-legendWidth+0.1*vg.Inch, 0, 0, -0.3*vg.Inch))
	f, err := os.Create(png)
	if err != nil {
		return "", err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return "", err
	}
	return png, f.Close()
}

// unFileName maps a latency file's name back to the row name.
func unFileName(f string) string {
	for _, l := range append(memoryLibs, distributedLibs()...) {
		if bench.FileName(l) == f {
			return l
		}
	}
	return f
}

// latencyTicks marks powers of ten of microseconds with readable labels.
type latencyTicks struct{}

func (latencyTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v >= lo && v <= hi {
			ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
		}
		for m := 2.0; m < 10; m++ {
			if w := m * v; w >= lo && w <= hi {
				ticks = append(ticks, plot.Tick{Value: w}) // minor
			}
		}
	}
	return ticks
}

// tickLabel writes a power of ten of microseconds: 100 ns, 1 µs, … 1 s.
func tickLabel(v float64) string {
	n := v * 1e3 // ns
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%g s", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%g ms", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%g µs", n/1e3)
	}
	return fmt.Sprintf("%g ns", n)
}
