package cpu

import (
	"fmt"
	"testing"
)

// nopTask is a task whose chunks do almost nothing: a run of it costs the
// handoff to the workers and back.
type nopTask struct{ sink [2]int }

func (t *nopTask) do(c int) { t.sink[c%2]++ }

// BenchmarkPoolHandoff times a run of two chunks on two threads after the
// caller worked alone for a while, as between the products of a decode step.
func BenchmarkPoolHandoff(b *testing.B) {
	p := newPool(2)
	defer p.close()
	var t nopTask
	for _, gap := range []int{0, 2000, 20000} {
		b.Run(fmt.Sprintf("gap=%d", gap), func(b *testing.B) {
			s := 0
			for b.Loop() {
				for i := range gap {
					s += i * i
				}
				p.run(&t, 2)
			}
			_ = s
		})
	}
}
