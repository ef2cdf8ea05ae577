package ref

import (
	"math"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/half"
)

// gemm sets dst[t*ldd + r] = dot(w row r, x row t) for r in [r0, r1), t < n.
// Every output is computed in the same order whatever n, so a sequence gives
// the same numbers as token-by-token evaluation.
func gemm(dst []float32, ldd int, w *tensor, r0, r1 int, x []float32, n int) {
	k := w.cols
	var buf [4096]float32
	for r := r0; r < r1; r++ {
		var row []float32
		switch w.dt {
		case backend.F32:
			row = w.f32[r*k : (r+1)*k]
		default:
			if k <= len(buf) {
				row = buf[:k]
			} else {
				row = make([]float32, k)
			}
			decodeRow(row, w, r)
		}
		for t := 0; t < n; t++ {
			dst[t*ldd+r] = dot(row, x[t*k:(t+1)*k])
		}
	}
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func decodeF16(dst []float32, src []uint16) { half.DecodeF16(dst, src) }

var _ = math.Abs
