package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/half"
)

// TestMatMulTSequenceEqualsTokens checks that MatMulT on several tokens gives
// bitwise the results of the same tokens one at a time (the sparse path), for
// every weight type, and that the results are close to the exact products.
func TestMatMulTSequenceEqualsTokens(t *testing.T) {
	const n, in, out = 5, 517, 389 // column counts that leave partial chunks
	r := rand.New(rand.NewPCG(7, 8))
	be := New(2)
	defer be.Close()
	for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16} {
		// Weights: random values, stored in dt; w keeps the decoded values.
		w := make([]float32, in*out)
		raw := make([]byte, in*out*dt.Size())
		for i := range w {
			v := float32(r.NormFloat64())
			switch dt {
			case backend.F32:
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
			case backend.F16:
				h := half.F32ToF16(v)
				binary.LittleEndian.PutUint16(raw[2*i:], h)
				v = half.F16ToF32(h)
			case backend.BF16:
				h := half.F32ToBF16(v)
				binary.LittleEndian.PutUint16(raw[2*i:], h)
				v = half.BF16ToF32(h)
			}
			w[i] = v
		}
		wt := be.Upload(dt, in, out, raw)
		// Activations: about half zero, as after a squared ReLU; one
		// token all zero.
		xs := make([]float32, n*in)
		for i := range xs {
			if r.IntN(2) == 0 && i >= in {
				xs[i] = float32(r.NormFloat64())
			}
		}
		x := be.UploadF32(n, in, xs)
		seq := be.New(n, out)
		be.MatMulT(seq, x, wt)
		got := make([]float32, n*out)
		be.Read(seq, 0, got)
		for tk := range n {
			x1 := be.UploadF32(1, in, xs[tk*in:(tk+1)*in])
			o1 := be.New(1, out)
			be.MatMulT(o1, x1, wt)
			one := make([]float32, out)
			be.Read(o1, 0, one)
			for c := range out {
				if math.Float32bits(one[c]) != math.Float32bits(got[tk*out+c]) {
					t.Fatalf("%s: token %d column %d: sequence gives %g, token alone %g", dt, tk, c, got[tk*out+c], one[c])
				}
				var ref, scale float64
				for i := range in {
					p := float64(xs[tk*in+i]) * float64(w[i*out+c])
					ref += p
					scale += math.Abs(p)
				}
				if d := math.Abs(float64(one[c]) - ref); d > 1e-5*scale+1e-30 {
					t.Fatalf("%s: token %d column %d: %g, want %g", dt, tk, c, one[c], ref)
				}
			}
		}
	}
	if err := be.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMatMulSequenceEqualsTokens: the pure-Go backend's MatMul gives a token
// bitwise the same row alone or in a batch (the vec kernels' fixed order), so
// prefill equals token-by-token decoding exactly on this backend.
func TestMatMulSequenceEqualsTokens(t *testing.T) {
	const n, in, out = 7, 301, 203
	r := rand.New(rand.NewPCG(9, 10))
	be := New(2)
	defer be.Close()
	ws := make([]float32, out*in)
	for i := range ws {
		ws[i] = float32(r.NormFloat64())
	}
	xs := make([]float32, n*in)
	for i := range xs {
		xs[i] = float32(r.NormFloat64())
	}
	w := be.UploadF32(out, in, ws)
	all := be.New(n, out)
	be.MatMul(all, be.UploadF32(n, in, xs), w)
	got := make([]float32, n*out)
	be.Read(all, 0, got)
	one := be.New(1, out)
	row := make([]float32, out)
	for tk := range n {
		be.MatMul(one, be.UploadF32(1, in, xs[tk*in:(tk+1)*in]), w)
		be.Read(one, 0, row)
		for j, v := range row {
			if math.Float32bits(v) != math.Float32bits(got[tk*out+j]) {
				t.Fatalf("token %d column %d: %g alone, %g in a batch", tk, j, v, got[tk*out+j])
			}
		}
	}
	if err := be.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMatMulSequenceEqualsTokensTypes: the same for every weight type at an
// input width that is a multiple of 16 (the AVX-512 tiles of several tokens
// where the CPU has them), with a token count that leaves a partial tile.
func TestMatMulSequenceEqualsTokensTypes(t *testing.T) {
	const n, in, out = 13, 768, 203
	r := rand.New(rand.NewPCG(11, 12))
	be := New(2)
	defer be.Close()
	xs := make([]float32, n*in)
	for i := range xs {
		xs[i] = float32(r.NormFloat64())
	}
	x := be.UploadF32(n, in, xs)
	for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16, backend.I8, backend.Q8_0, backend.Q5_1, backend.Q5_0, backend.Q4_1, backend.Q4_0} {
		var raw []byte
		switch {
		case dt.Quantized():
			bb := dt.BlockBytes()
			raw = make([]byte, out*in/32*bb)
			for i := range raw {
				raw[i] = byte(r.Uint32())
			}
			for o := 0; o < len(raw); o += bb {
				raw[o+1], raw[o+3] = byte(0x20+r.IntN(8)), byte(0xa0+r.IntN(8)) // normal fp16 d (and m)
			}
		case dt == backend.I8:
			raw = make([]byte, out*in+4*out)
			for i := range raw[:out*in] {
				raw[i] = byte(r.Uint32())
			}
			for o := out * in; o < len(raw); o += 4 {
				binary.LittleEndian.PutUint32(raw[o:], math.Float32bits(float32(r.Float64()+0.5)))
			}
		default:
			raw = make([]byte, out*in*dt.Size())
			for i := 0; i < len(raw); i += dt.Size() {
				v := float32(r.NormFloat64())
				switch dt {
				case backend.F32:
					binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(v))
				case backend.F16:
					binary.LittleEndian.PutUint16(raw[i:], half.F32ToF16(v))
				case backend.BF16:
					binary.LittleEndian.PutUint16(raw[i:], half.F32ToBF16(v))
				}
			}
		}
		w := be.Upload(dt, out, in, raw)
		all := be.New(n, out)
		be.MatMul(all, x, w)
		got := make([]float32, n*out)
		be.Read(all, 0, got)
		one := be.New(1, out)
		row := make([]float32, out)
		for tk := range n {
			be.MatMul(one, be.UploadF32(1, in, xs[tk*in:(tk+1)*in]), w)
			be.Read(one, 0, row)
			for j, v := range row {
				if math.Float32bits(v) != math.Float32bits(got[tk*out+j]) {
					t.Fatalf("%v: token %d column %d: %g alone, %g in a batch", dt, tk, j, v, got[tk*out+j])
				}
			}
		}
		if err := be.Err(); err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
	}
}
