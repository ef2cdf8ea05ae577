package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// backendModels are the shared models of TestGenerateSameTokensAcrossBackends:
// every model (RWKV 4, 5.1, 5.2, 6 in two sizes, 7), together in every
// weight type the CUDA backend loads (FP32, FP16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0) and every container (rwkv.cpp, .pth, safetensors); the types
// that need no particular model are on the 4-layer RWKV-4, the cheapest on
// the emulator. RWKVGO_GENERATE_ALL=1 runs every model file of the shared
// data instead.
var backendModels = []string{
	"pth/tiny-rwkv-4v0-660K-FP32.pth",
	"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-4v0-660K-FP32-to-Q4_0.bin",
	"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-4v0-660K-FP32-to-Q4_1.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v1-730K-FP16.bin",
	"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-5v2-730K-FP32-to-Q8_0.bin",
	"pth/tiny-rwkv-6v0-1m-BF16.safetensors",
	"rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_1.bin",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-Q5_0.bin",
}

// allBackendModels lists every model file of the shared data.
func allBackendModels(t *testing.T) []string {
	var files []string
	for _, pat := range []string{"rwkv.cpp/tests/*.bin", "rwkv.cpp/tests-history/*.bin", "rwkv.cpp/quantized-by-rwkv.cpp/*.bin",
		"pth/*.pth", "pth/*.safetensors", "pth/*.st"} {
		for _, f := range testdata.Glob(t, pat) {
			if !strings.HasPrefix(filepath.Base(f), "expected-") {
				rel, err := filepath.Rel(testdata.Root(), f)
				require.NoError(t, err)
				files = append(files, filepath.ToSlash(rel))
			}
		}
	}
	return files
}

// TestGenerateSameTokensAcrossBackends: `rwkvgo generate --backend cuda`
// prints exactly what `--backend ref` prints (the same token ids: the
// shared models have the byte vocabulary, one byte per id) for the same
// seed and settings, greedy and sampled (temperature, top-k and top-p with a
// fixed seed), on every shared model (see backendModels). It runs the
// command itself, on the CUDA backend of a GPU or of the emulated library
// (RWKVGO_CUDA_LIB, or -tags cuda,cuemu), and is skipped without one. (The
// command leaves its CUDA backend to the process exit: each run leaves one
// open in the test process, a few MB of device memory.)
//
// The emulator is slow (a decode step of a 12-layer tiny model takes about
// 0.3 s of CPU), so each run generates 16 tokens after a 22-token prompt;
// with RWKVGO_GENERATE_ALL=1, 32 on every model file.
func TestGenerateSameTokensAcrossBackends(t *testing.T) {
	be, err := backend.Open("cuda", 1)
	if err != nil {
		t.Skipf("no CUDA backend: %v", err)
	}
	be.Close()
	models, tokens := backendModels, 16
	if os.Getenv("RWKVGO_GENERATE_ALL") == "1" {
		models, tokens = allBackendModels(t), 32
	}
	settings := []struct {
		name  string
		flags []string
	}{
		{"greedy", []string{"--temperature", "0"}},
		{"sampled", []string{"--temperature", "0.9", "--top-k", "40", "--top-p", "0.9", "--seed", "7"}},
	}
	const prompt = "In a shocking finding,"
	for _, rel := range models {
		path := testdata.Path(t, rel)
		for _, st := range settings {
			flags := st.flags
			t.Run(rel+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				out := map[string]string{}
				for _, b := range []string{"ref", "cuda"} {
					args := append([]string{"generate", "--model", path, "--backend", b, "--threads", "1",
						"--prompt", prompt, "--max-tokens", fmt.Sprint(tokens)}, flags...)
					code, stdout, stderr := runCLI(args...)
					require.Zero(t, code, "%s: %s", b, stderr)
					out[b] = strings.TrimSuffix(stdout, "\n")
				}
				ref, cuda := []byte(out["ref"]), []byte(out["cuda"])
				require.Len(t, ref, tokens, "the reference generates every token")
				if !slices.Equal(ref, cuda) {
					t.Fatalf("cuda diverges from ref:\n%s", divergence(t, path, prompt, ref, cuda))
				}
			})
		}
	}
}

// divergence describes where two byte-vocabulary generations part: the
// first differing position, and the logits of both tokens there on each
// backend (a margin within the backends' difference is a near-tie).
func divergence(t *testing.T, path, prompt string, ref, cuda []byte) string {
	i := 0
	for i < min(len(ref), len(cuda)) && ref[i] == cuda[i] {
		i++
	}
	msg := fmt.Sprintf("ref  %q\ncuda %q\nfirst difference at token %d", ref, cuda, i)
	if i >= min(len(ref), len(cuda)) {
		return msg
	}
	ids := []int{}
	for _, b := range []byte(prompt) {
		ids = append(ids, int(b))
	}
	for _, b := range ref[:i] {
		ids = append(ids, int(b))
	}
	a, c := int(ref[i]), int(cuda[i])
	for _, b := range []string{"ref", "cuda"} {
		opts := engine.Options{Threads: 1}
		if b == "cuda" {
			be, err := backend.Open("cuda", 1)
			if err != nil {
				return msg + fmt.Sprintf("\n(cuda: %v)", err)
			}
			defer be.Close()
			opts.Backend = be
		}
		m, err := engine.Load(path, opts)
		if err != nil {
			return msg + fmt.Sprintf("\n(%s: %v)", b, err)
		}
		s, err := m.NewSession()
		if err == nil {
			var lg []float32
			if lg, err = s.Feed(ids); err == nil {
				msg += fmt.Sprintf("\n%s logits: ref's token %d: %.9g, cuda's token %d: %.9g (margin %.3g)", b, a, lg[a], c, lg[c], lg[a]-lg[c])
			}
			s.Close()
		}
		if err != nil {
			msg += fmt.Sprintf("\n(%s: %v)", b, err)
		}
		m.Close()
	}
	return msg
}
