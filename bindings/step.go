package bindings

import "github.com/rwkvgo/rwkvgo/engine/backend"

// The step's batch for the ABI version 1 librwkvcu, whose rwkvcu_shift and
// rwkvcu_wkv4/5/7 take the batch as arguments: BeginStep keeps it and the
// generated operations pass it (abigen maps C parameters offsets, slots and
// nseq that an interface method does not give to b.batch). A header with
// rwkvcu_begin_step makes both unnecessary: delete this file and
// `go generate ./bindings/` generates BeginStep.

// BeginStep converts the step's batch to int32 arrays once; the step's
// Shift and WKV operations pass them to the library.
func (b *Backend) BeginStep(bt backend.Batch) {
	b.stepOffsets = ints(&b.stepOffsets, bt.Offsets)
	b.stepSlots = ints(&b.stepSlots, bt.Slots)
	b.stepSet = true
}

// batch returns the step's batch as int32 arrays; ok is false (error
// recorded) when no step was begun or the batch is malformed.
func (b *Backend) batch(op string) (offsets, slots *int32, nseq int32, ok bool) {
	if !b.stepSet {
		b.failf("%s: no step begun (BeginStep)", op)
		return nil, nil, 0, false
	}
	o, s := b.stepOffsets, b.stepSlots
	if len(s) == 0 || len(o) != len(s)+1 {
		b.failf("%s: batch has %d offsets for %d sequences", op, len(o), len(s))
		return nil, nil, 0, false
	}
	return &o[0], &s[0], int32(len(s)), true
}
