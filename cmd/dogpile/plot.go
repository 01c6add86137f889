package main

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// maxPlotPoints bounds the points of the curve: a million requests need not
// be a million points to look right.
const maxPlotPoints = 2000

// writePlot draws the run's latency distribution: for each latency (x, in
// milliseconds on a log scale, since a stampede's latencies span from
// microseconds for a stale value to the creator's delay for a waiter), the
// share of requests that completed within it (y, in percent). Dashed lines
// mark the median and the 99th percentile.
func writePlot(path string, res *benchResult) error {
	if len(res.latencies) == 0 {
		return fmt.Errorf("no requests completed: nothing to plot")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("dogpile bench: %s load, region %q (%s backend)\n%s",
		res.params.load, res.regionName, res.backend, res.describeLoad())
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = "latency (milliseconds, log scale)"
	p.Y.Label.Text = "requests completed within that latency (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
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
	step := max(1, n/maxPlotPoints)
	pts := make(plotter.XYs, 0, n/step+2)
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: toMs(res.latencies[i]), Y: 100 * float64(i+1) / float64(n)})
	}
	pts = append(pts, plotter.XY{X: toMs(res.latencies[n-1]), Y: 100})
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	line.Width = vg.Points(2)
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("%d requests", n), line)

	lo, hi := toMs(res.latencies[0]), toMs(res.latencies[n-1])
	if hi <= lo {
		hi = lo * 10 // one latency: give the axis a width
	}
	// Room on the right, past the slowest request, for the legend.
	p.X.Min, p.X.Max = lo/1.5, hi*6
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
			return err
		}
		mark.Color, mark.Dashes, mark.Width = q.c, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1.2)
		p.Add(mark)
		p.Legend.Add(fmt.Sprintf("%s = %s", q.label, ms(res.quantile(q.q))), mark)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
	p.Legend.Padding = vg.Points(2)
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}
