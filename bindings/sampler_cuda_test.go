//go:build cuda

package bindings

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/sampler"
)

// TestSampler runs the device sampler tests on the cgo bindings (the
// emulated library with -tags cuda,cuemu; the GPU with -tags cuda).
func TestSampler(t *testing.T) {
	runSamplerTests(t, func(t testing.TB) *Backend { return openTest(t) })
}

// TestSamplerNoAllocs: Sample and Observe reuse their buffers (cgo
// bindings; purego's calls allocate on their own).
func TestSamplerNoAllocs(t *testing.T) {
	const v = 128
	b := openTest(t)
	defer b.Close()
	ds, err := b.NewSampler(4, v)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	cfg := sampler.DefaultConfig()
	cfg.TopK, cfg.FrequencyPenalty = 10, 0.5
	for i := 0; i < 4; i++ {
		if err := ds.SetRow(i, cfg, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	lt := b.UploadF32(4, v, make([]float32, 4*v))
	defer b.Free(lt)
	prompt := []int{1, 2, 3, 2}
	step := uint64(0)
	allocs := testing.AllocsPerRun(20, func() {
		if err := ds.Observe(1, prompt); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ds.Sample(lt, step); err != nil {
			t.Fatal(err)
		}
		step++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Observe and Sample", allocs)
	}
}
