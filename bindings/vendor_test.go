package bindings

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// vendorOutcome is what checkVendor saw.
type vendorOutcome int

const (
	vendorRan         vendorOutcome = iota // cuBLAS ran and matched rwkvcu_matmul
	vendorUnsupported                      // ErrNotSupported, reported cleanly
)

// checkVendor runs VendorMatMul and MatMul on the same operands for every
// weight type. Where the vendor baseline runs, the products must agree
// within the rounding the baseline documents (x rounded to a 16-bit weight
// type; FP32 accumulation in a different order). Where it does not, the
// error must wrap ErrNotSupported, record nothing and leave the backend
// usable.
func checkVendor(t *testing.T, b *Backend) vendorOutcome {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 5))
	outcome := vendorRan
	for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16} {
		for _, sh := range []struct{ n, in, o int }{{1, 64, 16}, {3, 300, 70}, {17, 512, 257}} {
			xv := make([]float32, sh.n*sh.in)
			wv := make([]float32, sh.o*sh.in)
			for i := range xv {
				xv[i] = float32(rng.NormFloat64())
			}
			for i := range wv {
				wv[i] = float32(rng.NormFloat64() / math.Sqrt(float64(sh.in)))
			}
			var w backend.Tensor
			switch dt {
			case backend.F32:
				w = b.UploadF32(sh.o, sh.in, wv)
			default:
				wt := weights.F16
				if dt == backend.BF16 {
					wt = weights.BF16
				}
				enc, err := weights.Encode(wt, wv)
				if err != nil {
					t.Fatal(err)
				}
				if err := weights.DecodeFloat32(wv, wt, enc); err != nil { // the stored values
					t.Fatal(err)
				}
				w = b.Upload(dt, sh.o, sh.in, enc)
			}
			x := b.UploadF32(sh.n, sh.in, xv)
			ours, theirs := b.New(sh.n, sh.o), b.New(sh.n, sh.o)
			b.MatMul(ours, x, w)
			verr := b.VendorMatMul(theirs, x, w)
			got, want := make([]float32, sh.n*sh.o), make([]float32, sh.n*sh.o)
			b.Read(ours, 0, want)
			b.Read(theirs, 0, got)
			if err := b.Err(); err != nil {
				t.Fatalf("%s %+v: %v (vendor: %v)", dt, sh, err, verr)
			}
			for _, tn := range []backend.Tensor{w, x, ours, theirs} {
				b.Free(tn)
			}
			if verr != nil {
				if !errors.Is(verr, ErrNotSupported) {
					t.Fatalf("%s %+v: vendor error %v does not wrap ErrNotSupported", dt, sh, verr)
				}
				outcome = vendorUnsupported
				continue
			}
			if outcome == vendorUnsupported {
				t.Fatalf("%s %+v: the vendor baseline ran after reporting it is not supported", dt, sh)
			}
			// Per output: |ours - cuBLAS| <= eps * sum |x_i w_i| (plus a little).
			eps := map[backend.DType]float64{backend.F32: 1e-5, backend.F16: 1.0 / 1024, backend.BF16: 1.0 / 128}[dt]
			for r := 0; r < sh.n; r++ {
				for c := 0; c < sh.o; c++ {
					var mag float64
					for i := 0; i < sh.in; i++ {
						mag += math.Abs(float64(xv[r*sh.in+i]) * float64(wv[c*sh.in+i]))
					}
					g, wnt := float64(got[r*sh.o+c]), float64(want[r*sh.o+c])
					if d := math.Abs(g - wnt); d > eps*mag+1e-6 || math.IsNaN(g) {
						t.Fatalf("%s %+v: out[%d][%d]: cuBLAS %g, rwkvcu_matmul %g (|diff| %g, bound %g)", dt, sh, r, c, g, wnt, d, eps*mag+1e-6)
					}
				}
			}
		}
	}
	return outcome
}

// TestPuregoVendor checks the vendor baseline through the purego loader on
// the library named by $RWKVGO_CUDA_LIB (skipped when it is not set): the
// emulated library reports ErrNotSupported, the real one matches MatMul.
func TestPuregoVendor(t *testing.T) {
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		t.Skip("RWKVGO_CUDA_LIB not set")
	}
	b, err := OpenLibrary(lib, 0)
	if errors.Is(err, ErrNoDevice) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := checkVendor(t, b)
	emulated := strings.Contains(lib, "_emu")
	if emulated != (got == vendorUnsupported) {
		t.Errorf("%s: vendor baseline outcome %d", lib, got)
	}
}
