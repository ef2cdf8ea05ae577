package main

import (
	"fmt"
	"io"

	"github.com/rwkvgo/rwkvgo/weights"
)

func init() {
	register(&command{name: "convert", summary: "convert a model file to another layout: --to hf (Hugging Face RWKV-7 directory)", run: runConvert})
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", stderr)
	model := fs.String("model", "", "RWKV-7 model file: .pth, .safetensors/.st (official keys) or rwkv.cpp .bin (required)")
	to := fs.String("to", "", "target layout: hf (config.json and model.safetensors with the Hugging Face tensor names) (required)")
	out := fs.String("out", "", "output directory (required)")
	dtype := fs.String("dtype", "F32", "tensor type of the output: F32, F16 or BF16 (quantized sources are dequantized)")
	worldVocab := fs.String("world-vocab", "", "World vocabulary file copied into the directory as "+weights.HFWorldVocabName)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usagef("--model is required")
	case *out == "":
		return usagef("--out is required")
	case *to != "hf":
		return usagef("--to: unknown layout %q (want hf)", *to)
	}
	dt, err := weights.ParseDType(*dtype)
	if err != nil {
		return usageError{err}
	}
	if dt != weights.F32 && dt != weights.F16 && dt != weights.BF16 {
		return usagef("--dtype: the Hugging Face layout holds F32, F16 or BF16, not %s", dt)
	}
	f, err := weights.Open(*model)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeHFDir(*out, f, dt, *worldVocab); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s in the Hugging Face layout, %s\n", *out, *model, dt)
	return nil
}
