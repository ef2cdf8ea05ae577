package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/rwkvgo/rwkvgo/weights"
)

func init() {
	register(&command{name: "inspect", summary: "print a model file's format, version, hyperparameters and tensors", run: runInspect})
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	model := fs.String("model", "", "model file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usagef("--model is required")
	}
	f, err := weights.Open(*model)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := weights.Canonicalize(f, weights.Options{})
	if err != nil {
		return err
	}
	c := m.Config
	fmt.Fprintf(stdout, "file:        %s\n", *model)
	fmt.Fprintf(stdout, "format:      %s\n", f.Format)
	if v, ok := f.Header["version"]; ok {
		fmt.Fprintf(stdout, "file version: %d\n", v)
	}
	fmt.Fprintf(stdout, "version:     %s\n", c.Version)
	fmt.Fprintf(stdout, "layers:      %d\n", c.Layers)
	fmt.Fprintf(stdout, "width:       %d\n", c.Embd)
	fmt.Fprintf(stdout, "vocab:       %d\n", c.Vocab)
	fmt.Fprintf(stdout, "ffn:         %d\n", c.FFN)
	if c.Heads > 0 {
		fmt.Fprintf(stdout, "heads:       %d x %d\n", c.Heads, c.HeadSize)
	}
	switch c.Version {
	case weights.V6:
		fmt.Fprintf(stdout, "lora:        mix %d, decay %d\n", c.MixLoRA, c.DecayLoRA)
	case weights.V7:
		fmt.Fprintf(stdout, "lora:        w %d, a %d, v %d, g %d\n", c.DecayLoRA, c.AaaLoRA, c.ValueLoRA, c.GateLoRA)
	}
	if c.Version != weights.V4 {
		fmt.Fprintf(stdout, "groupnorm eps: %g\n", c.GroupNormEps)
	}
	fmt.Fprintf(stdout, "state:       %d float32 per sequence\n", c.StateSize())
	params, bytes := 0, 0
	counts := map[weights.DType]int{}
	for _, t := range f.Tensors {
		params += t.Len()
		bytes += len(t.Data)
		counts[t.DType]++
	}
	var types []string
	for dt, n := range counts {
		types = append(types, fmt.Sprintf("%s x%d", dt, n))
	}
	sort.Strings(types)
	fmt.Fprintf(stdout, "parameters:  %d (%.1f MB stored; tensors %v)\n", params, float64(bytes)/1e6, types)
	fmt.Fprintf(stdout, "tensors:     %d\n", len(f.Tensors))
	for _, t := range f.Tensors {
		fmt.Fprintf(stdout, "  %-40s %-18s %s\n", t.Name, t.ShapeString(), t.DType)
	}
	return nil
}
