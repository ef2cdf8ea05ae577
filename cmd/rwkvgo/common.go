package main

import (
	"github.com/rwkvgo/rwkvgo/engine"
)

// modelFlags are the flags shared by commands that load a model.
type modelFlags struct {
	model   string
	threads int
	v5eps   float64
}

func (f *modelFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.StringVar(&f.model, "model", "", "model file: rwkv.cpp .bin, .safetensors/.st or PyTorch .pth (required)")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads for the pure-Go backend (0: all cores)")
	fs.Float64Var(&f.v5eps, "v5-groupnorm-eps", 0, "GroupNorm epsilon for v5.x models (0: 1e-5 for rwkv.cpp files, 64e-5 otherwise)")
}

func (f *modelFlags) load() (*engine.Model, error) {
	if f.model == "" {
		return nil, usagef("--model is required")
	}
	if f.v5eps < 0 {
		return nil, usagef("--v5-groupnorm-eps must be positive")
	}
	return engine.Load(f.model, engine.Options{Threads: f.threads, V5GroupNormEps: float32(f.v5eps)})
}
