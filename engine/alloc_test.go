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
