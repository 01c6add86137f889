package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// latencies makes n latencies around each of the given centres, spread by
// jitter, sorted.
func latencies(seed uint64, groups map[time.Duration]int, jitter float64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed))
	var out []time.Duration
	for c, n := range groups {
		for range n {
			out = append(out, time.Duration(float64(c)*(1+jitter*rng.Float64())))
		}
	}
	slices.Sort(out)
	return out
}

// Every load's plot is readable: its x axis has at least three labelled
// ticks within the axis, and the data spans a good part of it — not one
// vertical line at the creator's delay, as a log axis drew a cold stampede.
func TestPlotsReadableForEveryLoad(t *testing.T) {
	for _, c := range []struct {
		load string
		lat  []time.Duration
	}{
		{loadHit, latencies(1, map[time.Duration]int{20 * time.Microsecond: 5000, 300 * time.Microsecond: 50}, 0.8)},
		// Everyone waits about the creator's delay: a narrow band.
		{loadCold, latencies(2, map[time.Duration]int{50 * time.Millisecond: 2000}, 0.03)},
		{loadCold + " (one latency)", latencies(3, map[time.Duration]int{50 * time.Millisecond: 100}, 0)},
		// The stale values in microseconds, the regenerating caller at the delay.
		{loadExpired, latencies(4, map[time.Duration]int{4 * time.Microsecond: 1900, 50 * time.Millisecond: 100}, 0.5)},
	} {
		t.Run(c.load, func(t *testing.T) {
			res := &benchResult{params: benchParams{load: c.load, concurrency: 100, rounds: 20, delay: 50 * time.Millisecond},
				latencies: c.lat, regionName: "r", backend: "file"}
			p, err := newPlot(res)
			if err != nil {
				t.Fatal(err)
			}
			labelled := 0
			for _, tk := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
				if tk.Label != "" && tk.Value >= p.X.Min && tk.Value <= p.X.Max {
					labelled++
				}
			}
			if labelled < 3 {
				t.Errorf("%d labelled ticks on the x axis [%v, %v]; want at least 3", labelled, p.X.Min, p.X.Max)
			}
			ms := func(d time.Duration) float64 { return max(float64(d)/float64(time.Millisecond), 0.001) }
			lo := p.X.Scale.Normalize(p.X.Min, p.X.Max, ms(c.lat[0]))
			hi := p.X.Scale.Normalize(p.X.Min, p.X.Max, ms(c.lat[len(c.lat)-1]))
			if c.lat[0] != c.lat[len(c.lat)-1] && hi-lo < 0.3 {
				t.Errorf("the data spans %.0f%% of the x axis [%v, %v]: a near-vertical line", 100*(hi-lo), p.X.Min, p.X.Max)
			}
			if lo < 0 || hi > 1 {
				t.Errorf("the data [%v, %v] is outside the axis [%v, %v]", ms(c.lat[0]), ms(c.lat[len(c.lat)-1]), p.X.Min, p.X.Max)
			}
		})
	}
}
