package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// maxPlotPoints bounds the points of the curve: a million requests need not
// be a million points to look right.
const maxPlotPoints = 2000

// writePlot draws the run's latency distribution (see newPlot) into a PNG
// file.
func writePlot(path string, res *benchResult) error {
	p, err := newPlot(res)
	if err != nil {
		return err
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// newPlot draws the run's latency distribution: for each latency (x, in
// milliseconds), the share of requests that completed within it (y, in
// percent). Dashed lines mark the median and the 99th percentile.
//
// The x axis fits the data. Latencies that span orders of magnitude (a hit
// load; an expired stampede, microseconds for the stale values and the
// creator's delay for the one caller that regenerates) get a log scale with
// ticks at 1, 2 and 5 of each decade. Latencies within a narrow band (a cold
// stampede: everyone waits about the creator's delay) get a linear scale
// around the band, which a log scale would squeeze into one vertical line.
func newPlot(res *benchResult) (*plot.Plot, error) {
	if len(res.latencies) == 0 {
		return nil, fmt.Errorf("no requests completed: nothing to plot")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("dogpile bench: %s load, region %q (%s backend)\n%s",
		res.params.load, res.regionName, res.backend, res.describeLoad())
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = "requests completed within that latency (%)"
	p.Y.Min, p.Y.Max = 0, 100
	var yt []plot.Tick
	for v := 0; v <= 100; v += 10 {
		t := plot.Tick{Value: float64(v)}
		if v%20 == 0 {
			t.Label = fmt.Sprint(v)
		}
		yt = append(yt, t)
	}
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.Add(plotter.NewGrid())

	// A log scale has no zero: a latency below a microsecond is drawn at one.
	const floor = 0.001 // ms
	toMs := func(d time.Duration) float64 { return math.Max(float64(d)/float64(time.Millisecond), floor) }
	n := len(res.latencies)
	lo, hi := toMs(res.latencies[0]), toMs(res.latencies[n-1])
	if hi/lo >= logScaleRatio {
		p.X.Label.Text = "latency (milliseconds, log scale)"
		p.X.Scale = plot.LogScale{}
		// Room on the right, past the slowest request, for the legend.
		p.X.Min, p.X.Max = lo/1.5, hi*4
		p.X.Tick.Marker = logTicks{}
	} else {
		p.X.Label.Text = "latency (milliseconds)"
		pad := math.Max((hi-lo)*0.08, math.Max(lo*0.01, floor))
		p.X.Min, p.X.Max = math.Max(lo-pad, 0), hi+(hi-lo)*0.45+pad
		p.X.Tick.Marker = linearTicks{}
	}

	step := max(1, n/maxPlotPoints)
	pts := make(plotter.XYs, 0, n/step+2)
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: toMs(res.latencies[i]), Y: 100 * float64(i+1) / float64(n)})
	}
	pts = append(pts, plotter.XY{X: hi, Y: 100})
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	line.Width = vg.Points(2)
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("%d requests", n), line)

	for _, q := range []struct {
		label string
		q     float64
		c     color.RGBA
	}{
		{"p50", 0.5, color.RGBA{R: 44, G: 160, B: 44, A: 255}},
		{"p99", 0.99, color.RGBA{R: 214, G: 39, B: 40, A: 255}},
	} {
		x := toMs(res.quantile(q.q))
		mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 100}})
		if err != nil {
			return nil, err
		}
		mark.Color, mark.Dashes, mark.Width = q.c, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1.2)
		p.Add(mark)
		p.Legend.Add(fmt.Sprintf("%s = %s", q.label, ms(res.quantile(q.q))), mark)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
	p.Legend.Padding = vg.Points(2)
	return p, nil
}

// logScaleRatio is the spread of latencies (slowest over fastest) from which
// the x axis is logarithmic.
const logScaleRatio = 20

// logTicks marks a log axis at 1, 2 and 5 of every decade, labelled, with
// unlabelled minor ticks between: gonum's LogTicks labels only powers of
// ten, which leaves a narrow axis with one label or none.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); math.Pow(10, e) <= max; e++ {
		decade := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * decade
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// linearTicks labels a linear axis every 1, 2 or 5 × 10ⁿ, whichever gives
// five to ten labels, with an unlabelled tick between each two.
type linearTicks struct{}

func (linearTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10((max-min)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (max-min)/(step*m) <= 10 {
			step *= m
			break
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(min / (step / 2)); i*step/2 <= max; i++ {
		v := i * step / 2
		t := plot.Tick{Value: v}
		if int64(i)%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'f', max0(-int(math.Floor(math.Log10(step)))), 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func max0(n int) int { return max(n, 0) }
