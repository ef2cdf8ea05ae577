package engine

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

// TestDecodeDoesNotAllocate: a steady-state decode step allocates nothing.
func TestDecodeDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is meaningless under -short instrumentation")
	}
	for _, v := range allVersions {
		m := synthModel(t, v, Options{Threads: 2})
		s, _ := m.NewSession()
		if _, err := s.Feed([]int{1, 2}); err != nil {
			t.Fatal(err)
		}
		tok := []int{5}
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := s.Feed(tok); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per decode step", v, allocs)
		}
	}
}

var _ = weights.V7

// TestDecodeDoesNotAllocateInPlace: the same for models loaded in place from
// F16 and quantized files, one token and a short sequence (the quantized
// tiles come from a pool).
func TestDecodeDoesNotAllocateInPlace(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is meaningless under -short instrumentation")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		dt   weights.DType
		ggml bool
	}{{weights.F16, false}, {weights.Q8_0, true}, {weights.Q5_1, true}, {weights.Q4_0, true}} {
		m, err := Load(writeModel(t, dir, c.dt, c.ggml), Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := m.NewSession()
		if _, err := s.Feed([]int{1, 2}); err != nil {
			t.Fatal(err)
		}
		for _, tok := range [][]int{{5}, {5, 6, 7}} {
			if raceEnabled && len(tok) > 1 {
				// The scratch of a several-token product (the quantized
				// tiles, the AVX-512 tiles' partial sums) comes from a
				// sync.Pool, which the race detector makes drop entries;
				// `make test` runs this test without -race as well.
				continue
			}
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := s.Feed(tok); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: %.1f allocations per step of %d tokens", c.dt, allocs, len(tok))
			}
		}
		m.Close()
	}
}
