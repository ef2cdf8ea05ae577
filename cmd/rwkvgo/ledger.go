package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rwkvgo/rwkvgo/bench"
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// runBenchLedger is `rwkvgo bench ledger`: the device runtime's counters per
// steady-state decode step at each batch size, and a roofline projection.
func runBenchLedger(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench ledger", stderr)
	be := fs.String("backend", "cuda", "backend with runtime counters: cuda (available in this binary: "+strings.Join(backend.Names(), ", ")+")")
	model := fs.String("model", "", "model file (rwkv.cpp .bin, .safetensors/.st or .pth)")
	synthetic := fs.String("synthetic", "", "synthetic model (F32 weights): "+strings.Join(bench.PresetNames(), ", "))
	batch := fs.String("batch", "1,8,64", "batch sizes, comma-separated")
	steps := fs.Int("steps", 4, "counted decode steps per batch size")
	warmup := fs.Int("warmup", 2, "uncounted decode steps per batch size (after a one-token prefill)")
	jsonOut := fs.Bool("json", false, "print one JSON object instead of Markdown")
	seed := fs.Uint64("seed", 1, "random seed (synthetic weights and token ids)")
	eng := fs.Bool("engine", false, "count the steps of an engine serving batch requests (Submit, as rwkvgo serve) instead of the decode loop directly")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*model == "") == (*synthetic == "") {
		return usagef("exactly one of --model and --synthetic is required")
	}
	batches, err := parseInts("batch", *batch)
	if err != nil {
		return err
	}
	if *steps < 1 {
		return usagef("--steps must be at least 1")
	}
	if *warmup < 0 {
		return usagef("--warmup must not be negative")
	}
	if isCPU(*be) {
		return usageError{fmt.Errorf("bench ledger: backend %q has no runtime counters; use --backend cuda (a GPU or the emulated library)", *be)}
	}
	var preset bench.Preset
	if *synthetic != "" {
		if preset, err = bench.LookupPreset(*synthetic); err != nil {
			return usageError{err}
		}
	}
	b, err := backend.Open(*be, 0)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, ok := b.(backend.StatsReporter); !ok {
		return fmt.Errorf("bench ledger: %w", bench.ErrNoCounters)
	}
	source := *model
	var m *engine.Model
	if *synthetic != "" {
		source = "synthetic:" + preset.Name
		m, err = bench.SyntheticModel(preset.SynthConfig(*seed), b, 0)
	} else {
		m, err = engine.Load(*model, engine.Options{Backend: b})
	}
	if err != nil {
		return err
	}
	defer m.Close()
	l, err := bench.RunLedger(m, source, bench.LedgerConfig{Batches: batches, Steps: *steps, Warmup: *warmup, Seed: *seed, Engine: *eng})
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	l.Markdown(stdout)
	return nil
}
