//go:build cuda

package bindings

import (
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// emuLaunchRecord is the emulated runtime's launch record
// (cuemuLaunchRecord, cuemuLaunchRecorded).
type emuLaunchRecord struct {
	record   func(on int32)
	recorded func(out *uint32, n int32) int32
}

// launchShape is a recorded launch: gridDim.x, .y, .z and blockDim.x.
type launchShape [4]uint32

// start empties the record and records the launches from now on.
func (r *emuLaunchRecord) start() { r.record(1) }

// stop stops recording and returns the launches recorded.
func (r *emuLaunchRecord) stop() []launchShape {
	n := r.recorded(nil, 0)
	out := make([]launchShape, n)
	if n > 0 {
		r.recorded(&out[0][0], n)
	}
	r.record(0)
	return out
}

// launchRecorder returns the emulated library's launch record, nil when the
// library is not the emulated one (a GPU has no record).
func launchRecorder(t *testing.T) *emuLaunchRecord {
	t.Helper()
	if !emulatedLibrary {
		return nil
	}
	lib, err := purego.Dlopen(cgoLibraryPath(), purego.RTLD_NOW|purego.RTLD_LOCAL)
	require.NoError(t, err)
	r := &emuLaunchRecord{}
	for _, b := range []struct {
		fn   any
		name string
	}{{&r.record, "cuemuLaunchRecord"}, {&r.recorded, "cuemuLaunchRecorded"}} {
		sym, err := purego.Dlsym(lib, b.name)
		if err != nil {
			return nil // not the emulated library
		}
		purego.RegisterFunc(b.fn, sym)
	}
	return r
}

// The block sizes of the split product kernels (cuda/matmul.cu): the tiled
// kernels (kSimtThreads, kTcThreads) and SPARSE_T (kSparseThreads).
const (
	tiledThreads  = 256
	sparseThreads = 512
)

// splitDecodeStep opens batch sessions of m, prefills them with different
// prompts in one batched step, then runs one batched decode step of a token
// each, recording its launches when rec is not nil; it returns every
// sequence's logits of the decode step and its launches.
func splitDecodeStep(t *testing.T, m *engine.Model, rec *emuLaunchRecord, batch int) ([][]float32, []launchShape) {
	t.Helper()
	reqs := make([]*engine.Request, batch)
	for i := range reqs {
		s, err := m.NewSession()
		require.NoError(t, err)
		defer s.Close()
		reqs[i] = &engine.Request{Session: s, Tokens: []int{73 + i, 110, 32 + i%5}}
	}
	require.NoError(t, m.Step(reqs))
	for i, r := range reqs {
		r.Tokens = []int{97 + i%7}
	}
	if rec != nil {
		rec.start()
	}
	err := m.Step(reqs)
	var launches []launchShape
	if rec != nil {
		launches = rec.stop()
	}
	require.NoError(t, err)
	logits := make([][]float32, batch)
	for i, r := range reqs {
		logits[i] = append([]float32(nil), r.Logits...)
	}
	return logits, launches
}

// TestDecodeSplitProducts: the library's products split their reductions
// through the context's scratch. A batched decode step of 16 sequences of
// a shared RWKV-7 model (F32: SIMT; BF16: tensor cores) runs its FFN value product ([16, 256] by [256, 64]: one tile) as
// a split-K launch (gridDim.z > 1, seen in the emulator's launch record),
// and every run gives bitwise the same logits: the splits' partial sums are
// added in split order, and the tickets are left at zero for the next
// launch.
func TestDecodeSplitProducts(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	rec := launchRecorder(t)
	if rec == nil {
		t.Log("no launch record (not the emulated library): checking determinism only")
	}
	const batch = 16
	for _, rel := range []string{decodeModels[0], decodeModels[2]} {
		t.Run(rel, func(t *testing.T) {
			m, err := engine.Load(testdata.Path(t, rel), engine.Options{Backend: b})
			require.NoError(t, err)
			defer m.Close()
			first, launches := splitDecodeStep(t, m, rec, batch)
			if rec != nil {
				split := 0
				for _, l := range launches {
					if l[2] > 1 {
						assert.Contains(t, []uint32{tiledThreads, sparseThreads}, l[3], "a launch with gridDim.z %d: %v", l[2], l)
						split++
					}
				}
				assert.Positive(t, split, "no split launch among the step's %d launches: %v", len(launches), launches)
				t.Logf("%d of the decode step's %d launches split their reductions", split, len(launches))
			}
			again, _ := splitDecodeStep(t, m, nil, batch)
			for i := range first {
				assert.True(t, sameFloats(first[i], again[i]), "sequence %d's logits differ between two runs", i)
			}
		})
	}
}
