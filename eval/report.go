package eval

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Markdown returns the report's table: a heading naming the model (its
// base name) and the settings, then one row per strategy with its flags and
// mean metrics. This is report.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	n := 0
	if len(r.Strategies) > 0 {
		n = len(r.Strategies[0].Samples)
	}
	fmt.Fprintf(&b, "#### `%s` (%d prompts, %d tokens each)\n\n", filepath.Base(r.Model), n, r.MaxTokens)
	b.WriteString("| strategy | flags | seq-rep-2 | seq-rep-3 | seq-rep-4 | uniq-seq | rep | wrep | diversity | self-ppl | tok/s |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Strategies {
		flags := "(defaults)"
		if len(s.Args) > 0 {
			flags = "`" + strings.Join(s.Args, " ") + "`"
		}
		m := s.Metrics
		ppl := "-"
		if !math.IsNaN(m.SelfPPL) {
			ppl = fmt.Sprintf("%.2f", m.SelfPPL)
		}
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.3f | %.1f | %.3f | %.3f | %.3f | %s | %.0f |\n",
			s.Name, flags, m.SeqRep2, m.SeqRep3, m.SeqRep4, m.UniqSeq, m.Rep, m.WRep, m.Diversity, ppl, s.TokensPerSecond)
	}
	return b.String()
}

// WriteDir writes report.json, report.md and repetition.png (rep against
// diversity, one labelled point per strategy) into dir, creating it.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return r.Plot(filepath.Join(dir, "repetition.png"))
}

// Plot saves a scatter plot of each strategy's repetition (rep) against its
// diversity, each point labelled with the strategy's name, to path (the
// format follows the extension: .png, .svg, .pdf).
func (r *Report) Plot(path string) error {
	p := plot.New()
	p.Title.Text = "Repetition against diversity: " + filepath.Base(r.Model)
	p.X.Label.Text = "diversity = (1-seq-rep-2)(1-seq-rep-3)(1-seq-rep-4)"
	p.Y.Label.Text = fmt.Sprintf("rep/%d", RepWindow)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	// Strategies at (nearly) the same point share one label.
	var xys plotter.XYs
	var labels []string
	for _, s := range r.Strategies {
		pt := plotter.XY{X: s.Metrics.Diversity, Y: s.Metrics.Rep}
		merged := false
		for i, q := range xys {
			if math.Abs(q.X-pt.X) < 0.01 && math.Abs(q.Y-pt.Y) < 0.01 {
				labels[i] += ", " + s.Name
				merged = true
				break
			}
		}
		if !merged {
			xys = append(xys, pt)
			labels = append(labels, s.Name)
		}
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	sc.GlyphStyle.Radius = vg.Points(3)
	// Labels start just right of their point, or end just left of it near
	// the right edge.
	right := make([]bool, len(xys))
	for i := range labels {
		if right[i] = xys[i].X > 0.6; right[i] {
			labels[i] += "   "
		} else {
			labels[i] = "   " + labels[i]
		}
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(7)
		lb.TextStyle[i].YAlign = -0.5
		if right[i] {
			lb.TextStyle[i].XAlign = -1
		}
	}
	p.Add(sc, lb)
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}
