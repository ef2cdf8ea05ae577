//go:build cuda

package bindings

import (
	"errors"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestStatsCount checks that the context's counters count: an upload is one
// allocation, its bytes host to device and one host synchronization; a view
// is a handle without memory; a read is its bytes device to host; an
// operation launches kernels; a graph replay is one graph launch and no
// kernel launch; freeing returns the handles and the bytes.
func TestStatsCount(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	s0 := b.Stats()
	if s0.LiveDeviceBytes == 0 || s0.Allocations == 0 {
		t.Fatalf("a new context holds its staging ring: %+v", s0)
	}
	if s0.LiveTensors != 0 || s0.KernelLaunches != 0 || s0.GraphLaunches != 0 || s0.H2DBytes != 0 || s0.D2HBytes != 0 {
		t.Fatalf("new context: %+v", s0)
	}

	x := b.UploadF32(4, 8, make([]float32, 32)) // 128 bytes, a multiple of the 16-byte alignment
	s1 := b.Stats()
	d := s1.Sub(s0)
	if d.Allocations != 1 || d.H2DBytes != 128 || d.HostSyncs != 1 || d.D2HBytes != 0 || d.KernelLaunches != 0 {
		t.Errorf("Upload of [4, 8] F32: %+v", d)
	}
	if s1.LiveTensors != 1 || s1.LiveDeviceBytes != s0.LiveDeviceBytes+128 {
		t.Errorf("after Upload: %+v (before %+v)", s1, s0)
	}

	v := b.View(x, 2)
	s2 := b.Stats()
	if s2.LiveTensors != 2 || s2.LiveDeviceBytes != s1.LiveDeviceBytes || s2.Allocations != s1.Allocations {
		t.Errorf("a view is a handle without memory: %+v", s2)
	}

	got := make([]float32, 16)
	b.Read(v, 0, got)
	s3 := b.Stats()
	if d := s3.Sub(s2); d.D2HBytes != 64 || d.HostSyncs != 1 || d.H2DBytes != 0 {
		t.Errorf("Read of 16 values: %+v", d)
	}

	y := b.New(4, 8)
	s4 := b.Stats()
	b.Map(y, x, backend.Tanh)
	if d := b.Stats().Sub(s4); d.KernelLaunches != 1 || d.HostSyncs != 0 || d.Allocations != 0 {
		t.Errorf("Map: %+v", d)
	}

	if err := b.BeginGraph(0); err != nil {
		t.Fatal(err)
	}
	b.Map(y, x, backend.Tanh)
	b.Map(y, y, backend.Sigmoid)
	g, err := b.EndGraph()
	if err != nil {
		t.Fatal(err)
	}
	s5 := b.Stats()
	g.Launch()
	g.Launch()
	if d := b.Stats().Sub(s5); d.GraphLaunches != 2 || d.KernelLaunches != 0 {
		t.Errorf("two replays of a graph of two kernels: %+v", d)
	}
	g.Close()
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}

	// Views and their parent are freed in any order; each handle once.
	b.Free(x)
	if s := b.Stats(); s.LiveTensors != 2 || s.LiveDeviceBytes != s0.LiveDeviceBytes+128 {
		t.Errorf("after freeing the view's parent: %+v", s) // y's 128 bytes remain
	}
	b.Free(v)
	b.Free(y)
	if s := b.Stats(); s.LiveTensors != 0 || s.LiveDeviceBytes != s0.LiveDeviceBytes {
		t.Errorf("after freeing everything: %+v, want the new context's %d live bytes", s, s0.LiveDeviceBytes)
	}
}

// TestStepBatch: Shift and WKV read the step's batch, so without a begun
// step they fail cleanly (an error wrapping ErrInvalidArgument, nothing
// queued); a slot outside the state tensor fails the operation; a malformed
// batch fails BeginStep; and a graph capture ends the step begun before it.
func TestStepBatch(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	x := b.UploadF32(2, 4, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	prev := b.New(2, 4)
	st := b.UploadF32(2, 4, []float32{9, 9, 9, 9, 9, 9, 9, 9})
	w, u := b.New(1, 4), b.New(1, 4)
	wkvState := b.New(2, 12)
	expect := func(what, msg string) {
		t.Helper()
		err := b.Err()
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want ErrInvalidArgument mentioning %q", what, err, msg)
		}
	}
	s0 := b.Stats()
	b.Shift(prev, x, st, 0)
	expect("Shift without a step", "no step begun")
	b.WKV4(prev, x, x, w, u, wkvState, 0)
	expect("WKV4 without a step", "no step begun")
	if d := b.Stats().Sub(s0); d.KernelLaunches != 0 || d.H2DBytes != 0 {
		t.Errorf("failed operations queued work: %+v", d)
	}

	b.BeginStep(backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{0, 2}})
	if err := b.Err(); err != nil {
		t.Fatalf("BeginStep: %v", err)
	}
	b.Shift(prev, x, st, 0)
	expect("Shift with slot 2 of a 2-row state", "slot 2")
	b.WKV4(prev, x, x, w, u, wkvState, 0)
	expect("WKV4 with slot 2 of a 2-row state", "slot 2")

	b.BeginStep(backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{0, -1}})
	expect("BeginStep with a negative slot", "slot -1")
	b.BeginStep(backend.Batch{Offsets: []int{0, 2, 2}, Slots: []int{0, 1}})
	expect("BeginStep with an empty sequence", "no rows")
	b.Shift(prev, x, st, 0)
	expect("Shift after a failed BeginStep", "no step begun")

	got := make([]float32, 8)
	b.Read(st, 0, got)
	for i, v := range got {
		if v != 9 {
			t.Fatalf("failed operations changed the state: [%d] = %g", i, v)
		}
	}

	b.BeginStep(backend.Batch{Offsets: []int{0, 1, 2}, Slots: []int{1, 0}})
	b.Shift(prev, x, st, 0)
	if err := b.Err(); err != nil {
		t.Fatalf("Shift in a valid step: %v", err)
	}
	b.Read(st, 0, got)
	if want := []float32{5, 6, 7, 8, 1, 2, 3, 4}; !equal(got, want) {
		t.Fatalf("state after the shift %v, want %v", got, want)
	}
	if err := b.BeginGraph(0); err != nil {
		t.Fatal(err)
	}
	b.Shift(prev, x, st, 0)
	if _, err := b.EndGraph(); err == nil || !strings.Contains(err.Error(), "no step begun") {
		t.Errorf("a capture used the step begun before it: %v", err)
	}
	for _, tn := range []backend.Tensor{x, prev, st, w, u, wkvState} {
		b.Free(tn)
	}
	if s := b.Stats(); s.LiveTensors != 0 {
		t.Errorf("%d live tensors after freeing all", s.LiveTensors)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
