package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwkvgo/rwkvgo/weights"
)

func init() {
	register(&command{name: "synth", summary: "write a random-weight model of any version and size (safetensors, rwkv.cpp or Hugging Face format)", run: runSynth})
}

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("synth", stderr)
	version := fs.String("version", "7", "RWKV version: 4, 5.1, 5.2, 6 or 7")
	layers := fs.Int("layers", 12, "number of layers")
	width := fs.Int("width", 768, "model width (n_embd)")
	vocab := fs.Int("vocab", 65536, "vocabulary size")
	headSize := fs.Int("head-size", 64, "head size (v5 and later)")
	ffn := fs.Int("ffn", 0, "channel-mix width (0: 4*width, v6: 3.5*width)")
	dtype := fs.String("dtype", "F32", "tensor type: F32, F16, BF16 (safetensors); F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (rwkv.cpp)")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("out", "", "output file: .st/.safetensors (official keys) or .bin (rwkv.cpp format); with --format hf a directory (required)")
	format := fs.String("format", "", "output format: empty (from --out's extension) or hf (Hugging Face RWKV-7 directory: config.json and model.safetensors; F32, F16 or BF16)")
	worldVocab := fs.String("world-vocab", "", "with --format hf: World vocabulary file copied into the directory as "+weights.HFWorldVocabName)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	ver, err := weights.ParseVersion(*version)
	if err != nil {
		return usageError{err}
	}
	dt, err := weights.ParseDType(*dtype)
	if err != nil {
		return usageError{err}
	}
	cfg := weights.SynthConfig{Version: ver, Layers: *layers, Embd: *width, Vocab: *vocab, HeadSize: *headSize, FFN: *ffn, Seed: *seed}
	switch *format {
	case "":
		if *worldVocab != "" {
			return usagef("--world-vocab needs --format hf")
		}
	case "hf":
		if ver != weights.V7 {
			return usagef("--format hf writes RWKV-7 only, not %s", ver)
		}
		if dt != weights.F32 && dt != weights.F16 && dt != weights.BF16 {
			return usagef("--format hf holds F32, F16 or BF16, not %s", dt)
		}
		f, err := weights.Synthesize(cfg)
		if err != nil {
			return usageError{err}
		}
		if err := writeHFDir(*out, f, dt, *worldVocab); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: RWKV %s, %d layers, width %d, vocab %d, %s (Hugging Face layout)\n", *out, ver, *layers, *width, *vocab, dt)
		return nil
	default:
		return usagef("--format: unknown format %q (want hf, or empty for the extension's)", *format)
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".st" && ext != ".safetensors" && ext != ".bin" {
		return usagef("--out must end in .st, .safetensors or .bin, not %q", ext)
	}
	if ext != ".bin" && dt.Quantized() {
		return usagef("quantized types (%s) need rwkv.cpp format (.bin)", dt)
	}
	if ext == ".bin" && dt == weights.BF16 {
		return usagef("rwkv.cpp format has no BF16")
	}
	f, err := weights.Synthesize(cfg)
	if err != nil {
		return usageError{err}
	}
	fh, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	if ext == ".bin" {
		err = writeRWKVCpp(w, f, dt)
	} else {
		err = writeSafetensors(w, f, dt)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: RWKV %s, %d layers, width %d, vocab %d, %s\n", *out, ver, *layers, *width, *vocab, dt)
	return nil
}

// encodeAll re-encodes F32 tensors to the type chosen for each by pick.
func encodeAll(ts []*weights.Tensor, pick func(*weights.Tensor) weights.DType) error {
	for _, t := range ts {
		dt := pick(t)
		if dt == t.DType {
			continue
		}
		v, err := t.Float32()
		if err != nil {
			return err
		}
		if t.Data, err = weights.Encode(dt, v); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		t.DType = dt
	}
	return nil
}

func writeSafetensors(w io.Writer, f *weights.File, dt weights.DType) error {
	if err := encodeAll(f.Tensors, func(*weights.Tensor) weights.DType { return dt }); err != nil {
		return err
	}
	return weights.WriteSafetensors(w, f.Tensors, map[string]string{"format": "pt"})
}

func writeRWKVCpp(w io.Writer, f *weights.File, dt weights.DType) error {
	g, err := weights.ToRWKVCpp(f)
	if err != nil {
		return err
	}
	if err := encodeAll(g.Tensors, func(t *weights.Tensor) weights.DType { return weights.RWKVCppDType(t.Name, t.Shape, dt) }); err != nil {
		return err
	}
	version := uint32(weights.GGMLVersion101)
	return weights.WriteGGML(w, weights.GGMLHeader{Version: version, NVocab: uint32(g.Header["n_vocab"]),
		NEmbed: uint32(g.Header["n_embed"]), NLayer: uint32(g.Header["n_layer"]), DataType: dt}, g.Tensors)
}

// writeHFDir writes f as a Hugging Face RWKV-7 directory and, when vocab is
// set, copies the World vocabulary file into it.
func writeHFDir(dir string, f *weights.File, dt weights.DType, vocab string) error {
	if err := weights.WriteHF(dir, f, dt); err != nil {
		return err
	}
	if vocab == "" {
		return nil
	}
	b, err := os.ReadFile(vocab)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, weights.HFWorldVocabName), b, 0o644)
}
