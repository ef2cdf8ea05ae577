package bench

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colorRWKV  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorTrans = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colorOther = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
)

// Plot draws the report's plots into dir and returns their file names:
// for a scaling study, latency and memory against context length (RWKV vs the
// transformer); for an e2e run, tokens/s against batch size and the decode
// step times; for kernels, achieved bandwidth per operation.
func (r *Report) Plot(dir string) ([]string, error) {
	var files []string
	save := func(p *plot.Plot, name string, w, h vg.Length) (err error) {
		widenLogAxis(&p.X)
		widenLogAxis(&p.Y)
		// The plotting library panics on degenerate input; report it as an error.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("bench: plot %s: %v", name, r)
			}
		}()
		if err := p.Save(w, h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("bench: plot %s: %w", name, err)
		}
		files = append(files, name)
		return nil
	}
	switch r.Kind {
	case KindScaling:
		if r.Scaling == nil {
			break
		}
		lat, mem, err := scalingPlots(r.Scaling)
		if err != nil {
			return nil, err
		}
		if err := save(lat, "scaling_latency.png", 7*vg.Inch, 4.5*vg.Inch); err != nil {
			return nil, err
		}
		if err := save(mem, "scaling_memory.png", 7*vg.Inch, 4.5*vg.Inch); err != nil {
			return nil, err
		}
	case KindE2E:
		if len(r.Runs) == 0 {
			break
		}
		tp, err := throughputPlot(r.Runs)
		if err != nil {
			return nil, err
		}
		if err := save(tp, "throughput_batch.png", 7*vg.Inch, 4.5*vg.Inch); err != nil {
			return nil, err
		}
		sp, err := stepsPlot(r.Runs)
		if err != nil {
			return nil, err
		}
		if err := save(sp, "decode_steps.png", 7*vg.Inch, 4.5*vg.Inch); err != nil {
			return nil, err
		}
	case KindKernels:
		if len(r.Kernels) == 0 {
			break
		}
		kp, err := kernelPlot(r.Kernels)
		if err != nil {
			return nil, err
		}
		if err := save(kp, "kernels_bandwidth.png", 8*vg.Inch, vg.Length(2+0.18*float64(len(r.Kernels)))*vg.Inch); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func line(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, pts.Color = c, c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	pts.Shape = draw.CircleGlyph{}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// widenLogAxis gives a log-scaled axis a positive, non-empty range (a single
// data point, or values at zero, would otherwise be undrawable).
func widenLogAxis(a *plot.Axis) {
	if _, ok := a.Scale.(plot.LogScale); !ok {
		return
	}
	if a.Max <= 0 {
		a.Max = 1
	}
	if a.Min <= 0 {
		a.Min = a.Max / 1024
	}
	if a.Min >= a.Max {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

func log2Axis(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = pow2Ticks{}
}

// pow2Ticks labels powers of two.
type pow2Ticks struct{}

func (pow2Ticks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= max*1.0001; v *= 2 {
		if v >= min*0.9999 {
			label := fmt.Sprintf("%g", v)
			if v >= 1024 {
				label = fmt.Sprintf("%gK", v/1024)
			}
			ts = append(ts, plot.Tick{Value: v, Label: label})
		}
	}
	return ts
}

func scalingPlots(s *ScalingResult) (*plot.Plot, *plot.Plot, error) {
	lat := plot.New()
	lat.Title.Text = "Per-token decode latency vs context length"
	lat.X.Label.Text = "context length (tokens)"
	lat.Y.Label.Text = "ms per token (median)"
	log2Axis(lat)
	mem := plot.New()
	mem.Title.Text = "Memory vs context length"
	mem.X.Label.Text = "context length (tokens)"
	mem.Y.Label.Text = "MiB (log scale)"
	log2Axis(mem)
	for _, model := range []string{ModelRWKV, ModelTransformer} {
		var l, st, rss, gpu plotter.XYs
		for _, p := range s.Points {
			if p.Model != model {
				continue
			}
			x := float64(p.Context)
			l = append(l, plotter.XY{X: x, Y: p.DecodeMs.P50})
			st = append(st, plotter.XY{X: x, Y: float64(p.StateBytes) / (1 << 20)})
			rss = append(rss, plotter.XY{X: x, Y: float64(p.RSSBytes) / (1 << 20)})
			if p.GPUProcMemBytes > 0 {
				gpu = append(gpu, plotter.XY{X: x, Y: float64(p.GPUProcMemBytes) / (1 << 20)})
			}
		}
		if len(l) == 0 {
			continue
		}
		c, name, what := colorRWKV, "RWKV-7", "state"
		if model == ModelTransformer {
			c, name, what = colorTrans, "transformer", "KV cache"
		}
		if err := line(lat, name, l, c, false); err != nil {
			return nil, nil, err
		}
		if err := line(mem, name+" "+what, st, c, false); err != nil {
			return nil, nil, err
		}
		if err := line(mem, name+" process RSS", rss, c, true); err != nil {
			return nil, nil, err
		}
		if len(gpu) > 0 {
			if err := line(mem, name+" process GPU memory", gpu, colorOther, true); err != nil {
				return nil, nil, err
			}
		}
	}
	// Headroom above the data for the legend.
	lat.Legend.Top, lat.Legend.Left = true, true
	lat.Y.Min, lat.Y.Max = 0, lat.Y.Max*1.45
	mem.Legend.Top, mem.Legend.Left = true, true
	mem.Y.Scale = plot.LogScale{}
	mem.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	mem.Y.Max *= 40
	lat.Add(plotter.NewGrid())
	mem.Add(plotter.NewGrid())
	return lat, mem, nil
}

func throughputPlot(runs []E2ERun) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput vs batch size"
	p.X.Label.Text = "batch size (sequences)"
	p.Y.Label.Text = "tokens/s"
	log2Axis(p)
	prompts := []int{}
	seen := map[int]bool{}
	for _, r := range runs {
		if !seen[r.PromptTokens] {
			seen[r.PromptTokens] = true
			prompts = append(prompts, r.PromptTokens)
		}
	}
	for _, pr := range prompts {
		var pre, dec plotter.XYs
		for _, r := range runs {
			if r.PromptTokens == pr {
				pre = append(pre, plotter.XY{X: float64(r.Batch), Y: r.PrefillTokS})
				dec = append(dec, plotter.XY{X: float64(r.Batch), Y: r.DecodeTokS})
			}
		}
		if err := line(p, fmt.Sprintf("prefill (prompt %d)", pr), pre, colorTrans, true); err != nil {
			return nil, err
		}
		if err := line(p, fmt.Sprintf("decode (prompt %d)", pr), dec, colorRWKV, false); err != nil {
			return nil, err
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p, nil
}

func stepsPlot(runs []E2ERun) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Decode step times"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "ms per step"
	palette := []color.Color{colorRWKV, colorTrans, colorOther, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}}
	for i, r := range runs {
		xys := make(plotter.XYs, len(r.StepMs))
		for j, v := range r.StepMs {
			xys[j] = plotter.XY{X: float64(j + 1), Y: v}
		}
		if len(xys) == 0 {
			continue
		}
		if err := line(p, fmt.Sprintf("batch %d, prompt %d", r.Batch, r.PromptTokens), xys, palette[i%len(palette)], false); err != nil {
			return nil, err
		}
	}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

func kernelPlot(ks []KernelResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Achieved bandwidth per operation (median)"
	p.X.Label.Text = "GB/s"
	vals := make(plotter.Values, len(ks))
	names := make([]string, len(ks))
	for i, k := range ks {
		vals[len(ks)-1-i] = k.GBs
		names[len(ks)-1-i] = fmt.Sprintf("%s %s rows=%d %s", k.Shape, k.Op, k.Rows, k.Dims)
		if len(names[len(ks)-1-i]) > 60 {
			names[len(ks)-1-i] = names[len(ks)-1-i][:60]
		}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(8))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = colorRWKV
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(names...)
	p.Y.Tick.Label.Font.Size = vg.Points(7)
	return p, nil
}
