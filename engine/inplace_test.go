package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// aligned reports whether w's data is aligned for its element type.
func aligned(w *weights.Tensor) bool {
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		return true // the pure-Go backend borrows unaligned data there
	}
	switch w.DType {
	case weights.F32:
		return addr(w.Data)%4 == 0
	case weights.F16, weights.BF16:
		return addr(w.Data)%2 == 0
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hostBytes is implemented by the pure-Go backend's tensors.
type hostBytes interface{ HostBytes() []byte }

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// writeModel writes a synthetic RWKV-7 model as safetensors (F32, F16, BF16)
// or rwkv.cpp's format (any other type, with .bin) into dir.
func writeModel(t *testing.T, dir string, dt weights.DType, ggml bool) string {
	t.Helper()
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 2, Embd: 64, Vocab: 97, HeadSize: 16, FFN: 128,
		DecayLoRA: 16, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, dt.String()+".st")
	if ggml {
		path = strings.TrimSuffix(path, ".st") + ".bin"
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(fh)
	if ggml {
		conv, err := weights.ToRWKVCpp(f)
		if err != nil {
			t.Fatal(err)
		}
		ts := encodeAll(t, conv.Tensors, func(x *weights.Tensor) weights.DType { return weights.RWKVCppDType(x.Name, x.Shape, dt) })
		h := weights.GGMLHeader{Version: weights.GGMLVersion101, NVocab: 97, NEmbed: 64, NLayer: 2, DataType: dt}
		err = weights.WriteGGML(w, h, ts)
	} else {
		err = weights.WriteSafetensors(w, encodeAll(t, f.Tensors, func(*weights.Tensor) weights.DType { return dt }), nil)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadInPlace: Load on the pure-Go backend uses every weight matrix that
// lies in the mapped file in place (its tensor's memory is the file's),
// copies only the channel mix's value projections of plain types (stored
// transposed) and float matrices at unaligned offsets (rwkv.cpp's format
// does not align its tensors), keeps quantized matrices in their blocks, keeps the file open
// while the model lives and closes it with the model; the logits equal
// those of a model whose weights were copied (New).
func TestLoadInPlace(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		dt   weights.DType
		ggml bool
	}{{weights.F16, false}, {weights.F32, false}, {weights.BF16, false}, {weights.F16, true}, {weights.F32, true}, {weights.Q8_0, true}, {weights.Q5_1, true}, {weights.Q4_0, true}} {
		name := c.dt.String()
		if c.ggml {
			name = "rwkv.cpp " + name
		}
		t.Run(name, func(t *testing.T) {
			path := writeModel(t, dir, c.dt, c.ggml)
			m, err := Load(path, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.wm == nil {
				t.Fatal("no tensor was used in place (the model holds no weights file)")
			}
			used := map[uintptr]bool{}
			for _, bt := range m.owned {
				if hb, ok := bt.(hostBytes); ok && m.wm.Mapped(hb.HostBytes()) {
					used[addr(hb.HostBytes())] = true
				}
			}
			mapped, copied := 0, 0
			for n, w := range m.wm.Matrices {
				value := strings.HasSuffix(n, ".ffn.value.weight")
				if !m.wm.Mapped(w.Data) {
					// Canonicalisation made this one (e.g. a LoRA matrix
					// stored the other way round): only small ones.
					if c.ggml {
						t.Errorf("%s: rwkv.cpp file's matrix is not in the mapping", n)
					}
					continue
				}
				switch {
				case value && !w.DType.Quantized():
					if used[addr(w.Data)] {
						t.Errorf("%s: used in place, want a transposed copy", n)
					}
					copied++
				case !used[addr(w.Data)] && !aligned(w):
					// rwkv.cpp's format does not align tensor data: a
					// float matrix at an odd offset is copied.
					copied++
				case !used[addr(w.Data)]:
					t.Errorf("%s (%s %s): copied, want it used in place from the mapping", n, w.DType, w.ShapeString())
				default:
					mapped++
				}
			}
			if mapped == 0 {
				t.Fatal("no matrix in the mapping")
			}
			// Only the two layers' value projections of plain types are copies.
			if want := 2 * btoi(!c.dt.Quantized()); copied != want && aligned(&weights.Tensor{DType: weights.F32, Data: []byte{1}}) {
				t.Errorf("%d matrices copied, want %d (the layers' transposed value projections)", copied, want)
			}
			if c.dt.Quantized() {
				q := 0
				for _, bt := range m.owned {
					if bt.DType().Quantized() {
						q++
					}
				}
				if q == 0 {
					t.Errorf("no quantized tensor on the backend")
				}
			}
			t.Logf("%d matrices used in place, %d copied (transposed or unaligned)", mapped, copied)

			// Same logits as the copying path.
			prompt := []int{3, 1, 4, 1, 5, 9, 2, 6}
			s, _ := m.NewSession()
			got, err := s.FeedAll(prompt)
			if err != nil {
				t.Fatal(err)
			}
			got = append([]float32(nil), got...)
			wm, err := weights.Load(path, weights.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cm, err := New(wm, Options{Threads: 2})
			wm.Close() // New copies: the file may go
			if err != nil {
				t.Fatal(err)
			}
			defer cm.Close()
			if cm.wm != nil {
				t.Error("New kept the weights file")
			}
			cs, _ := cm.NewSession()
			want, err := cs.FeedAll(prompt)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d != 0 {
				t.Errorf("in-place logits differ from the copied model's by %g", d)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if m.wm != nil {
				t.Error("Close kept the weights file")
			}
			// The mapping is gone: a session of the closed model must
			// refuse to run rather than read it.
			if _, err := s.Feed([]int{1}); !errors.Is(err, ErrClosed) {
				t.Errorf("Feed after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestLoadInPlaceOtherBackend: on a backend that does not borrow host
// memory, Load copies and closes the file at once.
func TestLoadInPlaceOtherBackend(t *testing.T) {
	path := writeModel(t, t.TempDir(), weights.F16, false)
	m, err := Load(path, Options{Backend: noBorrow{cpu.New(2)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.wm != nil {
		t.Error("the model keeps the file although nothing was borrowed")
	}
	s, _ := m.NewSession()
	if _, err := s.FeedAll([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
}

// noBorrow hides the Borrower and DTypeSupporter capabilities of a backend.
type noBorrow struct{ backend.Backend }

// TestTransposeRaw: the tiled transposes equal the element-by-element one
// for every element size, odd shapes and unaligned data, and a matrix large
// enough to be split among goroutines (1031 x 600: partial tiles in both
// directions and in each goroutine's columns).
func TestTransposeRaw(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	for _, size := range []int{1, 2, 4, 8} {
		for _, sh := range [][2]int{{1, 1}, {1, 37}, {37, 1}, {33, 65}, {64, 32}, {70, 3}, {1031, 600}} {
			rows, cols := sh[0], sh[1]
			buf := make([]byte, rows*cols*size+1)
			for i := range buf {
				buf[i] = byte(i*7 + i/251)
			}
			for _, off := range []int{0, 1} {
				data := buf[off : off+rows*cols*size]
				got := transposeRaw(data, rows, cols, size)
				if size == 4 && off == 0 {
					// transposeF32 moves the same bits.
					v := unsafe.Slice((*float32)(unsafe.Pointer(&data[0])), rows*cols)
					f := transposeF32(v, rows, cols)
					if fb := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f)); string(fb) != string(got) {
						t.Fatalf("%dx%d: transposeF32 differs from transposeRaw", rows, cols)
					}
				}
				for r := 0; r < rows; r++ {
					for c := 0; c < cols; c++ {
						g := got[(c*rows+r)*size : (c*rows+r+1)*size]
						w := data[(r*cols+c)*size : (r*cols+c+1)*size]
						if string(g) != string(w) {
							t.Fatalf("size %d %dx%d offset %d: element (%d, %d) = %x, want %x", size, rows, cols, off, r, c, g, w)
						}
					}
				}
			}
		}
	}
}

// TestQuantizedAcrossRows: a quantized matrix whose rows are not whole
// blocks (blocks running across rows, which a file may hold) is widened to
// F32 and gives the logits of the decoded weights.
func TestQuantizedAcrossRows(t *testing.T) {
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 2, Embd: 64, Vocab: 97, HeadSize: 16, FFN: 128,
		DecayLoRA: 16, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 16, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	conv, err := weights.ToRWKVCpp(f)
	if err != nil {
		t.Fatal(err)
	}
	odd := 0
	ts := encodeAll(t, conv.Tensors, func(x *weights.Tensor) weights.DType {
		if len(x.Shape) == 2 && x.Len()%32 == 0 {
			if x.Shape[len(x.Shape)-1]%32 != 0 {
				odd++
			}
			return weights.Q8_0
		}
		return x.DType
	})
	if odd == 0 {
		t.Fatal("no matrix with rows of a partial block")
	}
	q := logitsOf(t, &weights.File{Format: weights.FormatGGML, Tensors: ts})
	want := logitsOf(t, &weights.File{Format: weights.FormatGGML, Tensors: widen(t, ts)})
	if d := maxAbsDiff(q, want); d > 5e-5 {
		t.Errorf("logits differ by %g from the decoded weights' (limit 5e-5)", d)
	}
}

// BenchmarkTransposeRaw transposes a 1.5B model's channel-mix value
// (8192 x 2048) of 2- and 4-byte elements, as loading does.
func BenchmarkTransposeRaw(b *testing.B) {
	const rows, cols = 8192, 2048
	for _, size := range []int{2, 4} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			data := make([]byte, rows*cols*size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				transposeRaw(data, rows, cols, size)
			}
		})
	}
}
