package cpu

import "testing"

func TestAttentionDoesNotAllocate(t *testing.T) {
	be := New(2)
	defer be.Close()
	const c = 64
	kc, vc := be.New(256, c), be.New(256, c)
	x := be.New(1, c)
	be.Attention(x, x, x, x, kc, vc, 200, 4)
	allocs := testing.AllocsPerRun(20, func() { be.Attention(x, x, x, x, kc, vc, 100, 4) })
	if allocs != 0 {
		t.Errorf("%.1f allocations per call", allocs)
	}
}
