package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rwkvgo/rwkvgo/bench/telemetry"
)

// Schema identifies the report format; SchemaVersion changes when a field
// changes meaning or disappears (new fields may be added within a version).
const (
	Schema        = "rwkvgo.bench"
	SchemaVersion = 1
)

// Report kinds.
const (
	KindE2E     = "e2e"
	KindScaling = "scaling"
	KindKernels = "kernels"
)

// Report is the result of one benchmark run, in the single JSON schema shared
// by every kind of run. Fields that do not apply to a kind are omitted.
type Report struct {
	Schema        string    `json:"schema"`
	SchemaVersion int       `json:"schema_version"`
	Kind          string    `json:"kind"`
	CreatedAt     time.Time `json:"created_at"`
	Host          Host      `json:"host"`
	Device        Device    `json:"device"`
	// Command is the command line that produced the report.
	Command string     `json:"command,omitempty"`
	Model   *ModelInfo `json:"model,omitempty"`

	// Headline figures of an e2e run: those of its first configuration.
	*Headline

	Runs    []E2ERun       `json:"runs,omitempty"`
	Scaling *ScalingResult `json:"scaling,omitempty"`
	Kernels []KernelResult `json:"kernels,omitempty"`
	// OpTimes is the per-operation time breakdown (with --kernel-profile).
	OpTimes []OpTime `json:"op_times,omitempty"`

	// Telemetry: the source, its interval, per-phase summaries and samples.
	TelemetrySource   string                 `json:"telemetry_source"`
	TelemetryInterval time.Duration          `json:"telemetry_interval_ns"`
	Phases            []telemetry.PhaseStats `json:"phases,omitempty"`
	Samples           []telemetry.Sample     `json:"samples,omitempty"`
	// PeakRSSBytes is the process's peak resident set size.
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// Files lists the files written beside report.json (relative names).
	Files []string `json:"files,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

// Headline holds the e2e fields other tools read.
type Headline struct {
	Batch        int     `json:"batch"`
	PromptTokens int     `json:"prompt_tokens"`
	PrefillTokS  float64 `json:"prefill_tok_s"`
	DecodeTokS   float64 `json:"decode_tok_s"`
	DecodeMsP50  float64 `json:"decode_ms_p50"`
	DecodeMsP90  float64 `json:"decode_ms_p90"`
}

// Host describes the machine and build.
type Host struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Hostname   string `json:"hostname,omitempty"`
}

// NewReport returns an empty report of the kind, with the host filled in.
func NewReport(kind string) *Report {
	h, _ := os.Hostname()
	return &Report{Schema: Schema, SchemaVersion: SchemaVersion, Kind: kind, CreatedAt: time.Now().UTC(),
		Host: Host{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
			GOMAXPROCS: runtime.GOMAXPROCS(0), Hostname: h}}
}

// SetRuns stores e2e runs and fills the headline from the first.
func (r *Report) SetRuns(runs []E2ERun) {
	r.Runs = runs
	if len(runs) == 0 {
		return
	}
	f := runs[0]
	r.Headline = &Headline{Batch: f.Batch, PromptTokens: f.PromptTokens, PrefillTokS: f.PrefillTokS, DecodeTokS: f.DecodeTokS,
		DecodeMsP50: f.DecodeMs.P50, DecodeMsP90: f.DecodeMs.P90}
}

// SetTelemetry stores the samples of s (nil: none) and their per-phase summary.
func (r *Report) SetTelemetry(s *telemetry.Sampler) {
	r.PeakRSSBytes = telemetry.PeakRSS()
	if s == nil {
		return
	}
	r.TelemetrySource, r.TelemetryInterval = s.Device(), s.Interval()
	r.Samples = s.Stop()
	r.Phases = telemetry.Summarize(r.Samples)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport decodes a report, checking its schema and version.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: decoding report: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("bench: not an %s report (schema %q)", Schema, r.Schema)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("bench: report schema version %d, this build reads %d", r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// WriteFiles writes dir/report.json, dir/report.md and the plots of the
// report's kind, creating dir; the names written are recorded in r.Files.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plots, err := r.Plot(dir)
	if err != nil {
		return err
	}
	r.Files = append([]string{"report.json", "report.md"}, plots...)
	var md strings.Builder
	r.Markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.json"))
	if err != nil {
		return err
	}
	err = r.WriteJSON(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func bytesStr(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// Markdown writes a human-readable summary of the report.
func (r *Report) Markdown(w io.Writer) {
	title := map[string]string{KindE2E: "End-to-end throughput", KindScaling: "Scaling study: RWKV-7 vs transformer baseline",
		KindKernels: "Kernel microbenchmarks"}[r.Kind]
	fmt.Fprintf(w, "# rwkvgo benchmark: %s\n\n", title)
	fmt.Fprintf(w, "- created: %s\n", r.CreatedAt.Format(time.RFC3339))
	if r.Command != "" {
		fmt.Fprintf(w, "- command: `%s`\n", r.Command)
	}
	fmt.Fprintf(w, "- host: %s/%s, %d CPUs (GOMAXPROCS %d), %s\n", r.Host.OS, r.Host.Arch, r.Host.CPUs, r.Host.GOMAXPROCS, r.Host.GoVersion)
	d := r.Device
	fmt.Fprintf(w, "- backend: %s on %s", d.Backend, d.Name)
	if d.Threads > 0 {
		fmt.Fprintf(w, ", %d threads", d.Threads)
	}
	fmt.Fprintln(w)
	if d.PeakBytesPerSec > 0 || d.PeakFLOPs > 0 {
		fmt.Fprintf(w, "- device peaks: %.1f GB/s, %.1f GFLOP/s (%s)\n", d.PeakBytesPerSec/1e9, d.PeakFLOPs/1e9, d.PeakSource)
	}
	if m := r.Model; m != nil {
		fmt.Fprintf(w, "- model: %s, RWKV %s, %d layers, width %d, vocab %d, ~%.1fM parameters, state %s per sequence\n",
			m.Source, m.Version, m.Layers, m.Width, m.Vocab, float64(m.Params)/1e6, bytesStr(m.StateBytes))
	}
	fmt.Fprintf(w, "- peak RSS: %s\n", mib(r.PeakRSSBytes))
	if r.TelemetrySource != "" {
		fmt.Fprintf(w, "- telemetry: %s every %s\n", r.TelemetrySource, r.TelemetryInterval)
	}
	fmt.Fprintln(w)
	switch r.Kind {
	case KindE2E:
		r.markdownE2E(w)
	case KindScaling:
		r.markdownScaling(w)
	case KindKernels:
		r.markdownKernels(w)
	}
	if len(r.OpTimes) > 0 {
		fmt.Fprintf(w, "\n## Time by operation\n\n| phase | op | shape | calls | total ms | share |\n|---|---|---|---:|---:|---:|\n")
		var total time.Duration
		for _, t := range r.OpTimes {
			total += t.Total
		}
		for i, t := range r.OpTimes {
			if i == 20 {
				fmt.Fprintf(w, "| … | %d more | | | | |\n", len(r.OpTimes)-20)
				break
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %.2f | %.1f%% |\n", t.Phase, t.Op, t.Shape, t.Calls, float64(t.Total)/1e6,
				100*float64(t.Total)/float64(max(total, 1)))
		}
	}
	if len(r.Phases) > 0 && r.Phases[0].GPU {
		fmt.Fprintf(w, "\nGPU utilization is NVML's: the percentage of the last sample period (1/6 s to 1 s depending on the product) during which at least one kernel was running. It is not occupancy: one small kernel running all the time reads 100%%.\n")
	}
	if len(r.Files) > 0 {
		fmt.Fprintf(w, "\n## Files\n\n")
		for _, f := range r.Files {
			if strings.HasSuffix(f, ".png") {
				fmt.Fprintf(w, "![%s](%s)\n\n", f, f)
			} else {
				fmt.Fprintf(w, "- [%s](%s)\n", f, f)
			}
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func (r *Report) markdownE2E(w io.Writer) {
	if h := r.Headline; h != nil {
		fmt.Fprintf(w, "**Batch %d, prompt %d tokens: prefill %.1f tok/s, decode %.1f tok/s (p50 %.2f ms, p90 %.2f ms per step).**\n\n",
			h.Batch, h.PromptTokens, h.PrefillTokS, h.DecodeTokS, h.DecodeMsP50, h.DecodeMsP90)
	}
	fmt.Fprintf(w, "| batch | prompt | prefill tok/s | decode tok/s | step p50 ms | step p90 ms | steps | state |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Runs {
		fmt.Fprintf(w, "| %d | %d | %.1f | %.1f | %.2f | %.2f | %d | %s |\n", x.Batch, x.PromptTokens, x.PrefillTokS, x.DecodeTokS,
			x.DecodeMs.P50, x.DecodeMs.P90, x.DecodeSteps, bytesStr(x.StateBytes))
	}
	fmt.Fprintf(w, "\nPrefill runs every sequence's prompt in one batched step; decode tok/s is the batch size divided by the median step time. Token ids are random; sampling is not timed.\n")
}

func (r *Report) markdownScaling(w io.Writer) {
	s := r.Scaling
	if s == nil {
		return
	}
	c := s.Config
	fmt.Fprintf(w, "Shape shared by both models: %d layers, width %d, vocab %d, %d heads of %d. RWKV-7 ~%.1fM parameters",
		c.Layers, c.Embd, c.Vocab, c.Embd/c.HeadSize, c.HeadSize, float64(s.RWKV.Params)/1e6)
	if s.TransformerShape != nil {
		fmt.Fprintf(w, "; transformer baseline ~%.1fM parameters (pre-LN, fused QKV, causal softmax attention over a KV cache, squared-ReLU MLP of width %d)",
			float64(s.TransformerParams)/1e6, s.TransformerShape.FFN)
	}
	fmt.Fprintf(w, ". %d timed decode steps per point after %d warm-up steps.\n\n", c.DecodeTokens, c.WarmupSteps)
	fmt.Fprintf(w, "## Summary\n\n")
	for _, q := range s.Ratios {
		fmt.Fprintf(w, "- **%s**: from context %d to %d, per-token latency x%.2f, %s x%.2f, process memory (RSS) x%.2f\n",
			q.Model, q.From, q.To, q.Latency, map[string]string{ModelRWKV: "state bytes", ModelTransformer: "KV-cache bytes"}[q.Model], q.StateBytes, q.RSS)
	}
	fmt.Fprintf(w, "\n## Points\n\n| model | context | p50 ms/token | p90 ms/token | tok/s | state / KV cache | RSS | Go heap |")
	gpu := false
	for _, p := range s.Points {
		gpu = gpu || p.GPUMemUsedBytes > 0
	}
	if gpu {
		fmt.Fprintf(w, " GPU proc mem | GPU util |")
	}
	fmt.Fprintf(w, " fill |\n|---|---:|---:|---:|---:|---:|---:|---:|")
	if gpu {
		fmt.Fprintf(w, "---:|---:|")
	}
	fmt.Fprintf(w, "---|\n")
	for _, p := range s.Points {
		fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.1f | %s | %s | %s |", p.Model, p.Context, p.DecodeMs.P50, p.DecodeMs.P90, p.DecodeTokS,
			bytesStr(p.StateBytes), mib(p.RSSBytes), mib(p.GoHeapBytes))
		if gpu {
			fmt.Fprintf(w, " %s | %.0f%% |", mib(p.GPUProcMemBytes), p.GPUUtilPct)
		}
		fmt.Fprintf(w, " %s %.1fs |\n", p.Fill, p.FillSeconds)
	}
	fmt.Fprintf(w, "\nRWKV reaches each context by real prefill (\"prefill\") unless configured otherwise; the transformer's KV cache is filled with random keys and values (\"synthetic\") instead of running its quadratic prefill, which does not change the cost of the decode steps measured. Memory is read after a garbage collection that returns freed memory to the system; RWKV runs first, so the baseline's caches never count against it.\n")
}

func (r *Report) markdownKernels(w io.Writer) {
	fmt.Fprintf(w, "Median of the timed calls; rates at the median; fractions of the device's peaks. Minimum traffic counts every operand read or written once. \"vs vendor\" is the median time over the vendor library's (cuBLAS) for the same product, in the same run: below 1 is faster; n/a: the baseline is unavailable (see the notes).\n\n")
	fmt.Fprintf(w, "| shape | rows | op | operands | median µs | p90 µs | GB/s | GFLOP/s | %% peak BW | %% peak FLOP | vs vendor |\n|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range r.Kernels {
		vendor := "–"
		if k.VendorUnavailable != "" {
			vendor = "n/a"
		}
		if k.VendorRatio > 0 {
			vendor = fmt.Sprintf("x%.2f", k.VendorRatio)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.1f | %.1f | %.2f | %.2f | %.1f | %.1f | %s |\n", k.Shape, k.Rows, k.Op, k.Dims,
			k.Us.P50, k.Us.P90, k.GBs, k.GFLOPs, 100*k.PeakBWFrac, 100*k.PeakFLOPFrac, vendor)
	}
}
