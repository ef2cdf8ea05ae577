package main

import (
	"errors"

	_ "github.com/rwkvgo/rwkvgo/bindings" // registers the "cuda" backend
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// modelFlags are the flags shared by commands that load a model.
type modelFlags struct {
	model   string
	threads int
	v5eps   float64
	backend string
	lora    string
	alpha   float64
	// quantize is --quantize (engine.ParseQuantization).
	quantize string
	// stateSlots is engine.Options.StateSlots (serve's --state-slots).
	stateSlots int
}

// quantizeUsage documents --quantize.
const quantizeUsage = "store the large weight matrices (time and channel mix, head) of an F32/F16/BF16 model in a lower-precision type, quantized at load: int8 or fp8 (e4m3; CUDA on compute capability 8.9+), one scale per row; or none"

func (f *modelFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.StringVar(&f.model, "model", "", "model file: rwkv.cpp .bin, .safetensors/.st or PyTorch .pth (required)")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads for the pure-Go backend (0: all cores)")
	fs.StringVar(&f.backend, "backend", "cpu", "backend running the model: cpu (pure Go; \"ref\" is the same) or cuda")
	fs.Float64Var(&f.v5eps, "v5-groupnorm-eps", 0, "GroupNorm epsilon for v5.x models (0: 1e-5 for rwkv.cpp files, 64e-5 otherwise)")
	fs.StringVar(&f.lora, "lora", "", "LoRA adapter (RWKV trainer's lora_A/lora_B keys, .pth or safetensors) merged into the weights at load")
	fs.Float64Var(&f.alpha, "lora-alpha", 0, "LoRA alpha: the adapter is scaled by alpha / rank (required with --lora)")
	fs.StringVar(&f.quantize, "quantize", "", quantizeUsage)
}

func (f *modelFlags) load() (*engine.Model, error) {
	if f.model == "" {
		return nil, usagef("--model is required")
	}
	if f.v5eps < 0 {
		return nil, usagef("--v5-groupnorm-eps must be positive")
	}
	if f.lora != "" && !(f.alpha > 0) {
		return nil, usagef("--lora needs --lora-alpha > 0 (the alpha it was trained with)")
	}
	if f.lora == "" && f.alpha != 0 {
		return nil, usagef("--lora-alpha needs --lora")
	}
	quant, err := engine.ParseQuantization(f.quantize)
	if err != nil {
		return nil, usagef("--quantize: %v", err)
	}
	opts := engine.Options{Threads: f.threads, V5GroupNormEps: float32(f.v5eps), Quantize: quant, StateSlots: f.stateSlots}
	if !isCPU(f.backend) {
		// The model does not own a backend it is given; a CLI process ends
		// with the model, so the backend is left to the process exit.
		be, err := backend.Open(f.backend, f.threads)
		if err != nil {
			if errors.Is(err, backend.ErrNotBuilt) {
				return nil, err
			}
			return nil, usagef("--backend: %v", err)
		}
		opts.Backend = be
	}
	if f.lora != "" {
		return engine.LoadWithLoRA(f.model, f.lora, f.alpha, opts)
	}
	return engine.Load(f.model, opts)
}

// isCPU reports whether name selects the pure-Go CPU backend, which
// engine.Load opens by default (with the model's thread count).
func isCPU(name string) bool { return name == "" || name == "cpu" || name == "ref" }
