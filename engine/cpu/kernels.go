package cpu

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// gemm sets dst[t*ldd + r] = dot(w row r, x row t) for r in [r0, r1), t < n.
// The vec kernels compute every output in one fixed order whatever n and the
// row range, so a sequence gives bit-identical numbers to token-by-token
// evaluation, and the split across goroutines does not change results.
func gemm(dst []float32, ldd int, w *tensor, r0, r1 int, x []float32, n int) {
	k := w.cols
	rows := r1 - r0
	switch w.dt {
	case backend.F32:
		vec.GemmF32(dst[r0:], ldd, w.f32[r0*k:r1*k], rows, k, x, n)
	case backend.F16:
		vec.GemmF16(dst[r0:], ldd, w.u16[r0*k:r1*k], rows, k, x, n)
	case backend.BF16:
		vec.GemmBF16(dst[r0:], ldd, w.u16[r0*k:r1*k], rows, k, x, n)
	case backend.I8:
		vec.GemmI8(dst[r0:], ldd, w.i8[r0*k:r1*k], w.scl[r0:r1], rows, k, x, n)
	default:
		rb := w.dt.RowBytes(k)
		vec.GemmQ(qtype(w.dt), dst[r0:], ldd, w.q[r0*rb:r1*rb], rows, k, x, n)
	}
}

// qtype maps a block-quantized backend type to vec's.
func qtype(dt backend.DType) vec.QType {
	switch dt {
	case backend.Q4_0:
		return vec.Q4_0
	case backend.Q4_1:
		return vec.Q4_1
	case backend.Q5_0:
		return vec.Q5_0
	case backend.Q5_1:
		return vec.Q5_1
	}
	return vec.Q8_0
}

func decodeF16(dst []float32, src []uint16) { half.DecodeF16(dst, src) }
