package emutest

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand"
	"testing"
)

func TestRuntimeAPI(t *testing.T) {
	if msg := runtimeChecks(); msg != "" {
		t.Fatal(msg)
	}
}

func TestStreamCaptureErrors(t *testing.T) {
	if msg := captureErrors(); msg != "" {
		t.Fatal(msg)
	}
}

// TestGraphReplay captures memset, two launches and a copy on a stream and
// replays the graph with new input data each time.
func TestGraphReplay(t *testing.T) {
	n, replays := 300, 3
	out, nodes, err := graph(n, replays)
	if err != nil {
		t.Fatal(err)
	}
	if nodes != 4 {
		t.Errorf("captured %d nodes, want 4", nodes)
	}
	for r := 0; r < replays; r++ {
		for i := 0; i < n; i++ {
			if want := float32(4 * (i + r)); out[r*n+i] != want {
				t.Fatalf("replay %d: y[%d] = %g, want %g", r, i, out[r*n+i], want)
			}
		}
	}
}

// TestFaultInjection fails calls of every kind through cuemuFaultArm
// (default and chosen errors, launches reported again at the next
// synchronization, capture invalidation, any kind, disarming) and checks the
// memory cap and the live-object counts.
func TestFaultInjection(t *testing.T) {
	if msg := faults(); msg != "" {
		t.Fatal(msg)
	}
}

func TestCheckModeCanaries(t *testing.T) {
	if msg := checkMode(); msg != "" {
		t.Fatal(msg)
	}
}

func ulpDiff(a, b float32) uint32 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if (ia < 0x80000000) != (ib < 0x80000000) {
		if a == b {
			return 0
		}
		return math.MaxUint32
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return uint32(d)
}

func TestMathIntrinsics(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	x := []float32{0, 1, -1, 0.5, 2.5, -2.5, 1e-30, -1e-30}
	for len(x) < 500 {
		x = append(x, float32(rng.Float64()*20-10))
	}
	out, bitsOut, err := mathKernel(x)
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) float32 { return float32(v) }
	for i, v := range x {
		d := float64(v)
		abs1 := float64(float32(math.Abs(d)) + 1) // fabsf(v) + 1.f, rounded to float
		fma := new(big.Float).SetPrec(200).Mul(big.NewFloat(d), big.NewFloat(d))
		fmaF, _ := fma.Add(fma, big.NewFloat(1)).Float32()
		sat := v
		if sat < 0 {
			sat = 0
		} else if sat > 1 {
			sat = 1
		}
		want := []struct {
			name string
			v    float32
			ulps uint32
		}{
			{"expf", f(math.Exp(d)), 2},
			{"__expf", f(math.Exp(d)), 2},
			{"logf", f(math.Log(abs1)), 2},
			{"tanhf", f(math.Tanh(d)), 2},
			{"rsqrtf", f(1 / math.Sqrt(abs1)), 2},
			{"__fdividef", f(d / 3), 1},
			{"fmaxf", f(math.Max(d, 0.5)), 0},
			{"fminf", f(math.Min(d, 0.5)), 0},
			{"sqrtf", f(math.Sqrt(math.Abs(d))), 0},
			{"__frcp_rn", f(1 / d), 0},
			{"__saturatef", sat, 0},
			{"__fmaf_rn", fmaF, 0},
		}
		for j, w := range want {
			g := out[i*12+j]
			if math.IsInf(float64(w.v), 0) && g == w.v {
				continue
			}
			if u := ulpDiff(g, w.v); u > w.ulps {
				t.Fatalf("%s(%g) = %g, want %g (%d ulp apart, %d allowed)", w.name, v, g, w.v, u, w.ulps)
			}
		}
		u := math.Float32bits(v)
		perm := func(x, y, s uint32) uint32 {
			all := uint64(y)<<32 | uint64(x)
			var r uint32
			for k := 0; k < 4; k++ {
				r |= uint32(all>>(8*((s>>(4*k))&7))&0xff) << (8 * k)
			}
			return r
		}
		ffs := uint32(0)
		if u != 0 {
			ffs = uint32(bits.TrailingZeros32(u) + 1)
		}
		wantBits := []uint32{uint32(bits.OnesCount32(u)), bits.Reverse32(u), uint32(bits.LeadingZeros32(u)),
			perm(u, 0x01234567, 0x5140), ffs, uint32(uint64(u) * 0x9e3779b9 >> 32)}
		for j, w := range wantBits {
			if g := bitsOut[i*6+j]; g != w {
				t.Fatalf("integer intrinsic %d of %#x: got %#x want %#x", j, u, g, w)
			}
		}
	}
}
