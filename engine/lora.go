package engine

import (
	"fmt"

	"github.com/rwkvgo/rwkvgo/weights"
)

// LoadWithLoRA is Load with a LoRA adapter (the RWKV trainer's layout, see
// weights.MergeLoRA) merged into the weights before they are prepared; the
// adapter's matrices are scaled by alpha / rank.
func LoadWithLoRA(path, loraPath string, alpha float64, opts Options) (*Model, error) {
	base, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	adapter, err := weights.Open(loraPath)
	if err != nil {
		return nil, fmt.Errorf("LoRA: %w", err)
	}
	defer adapter.Close()
	if err := weights.MergeLoRA(base, adapter, alpha); err != nil {
		return nil, err
	}
	wm, err := weights.Canonicalize(base, weights.Options{V5GroupNormEps: opts.V5GroupNormEps})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return New(wm, opts)
}
