package weights

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func h16(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, half.F32ToF16(f)) }

func decodeAll(t *testing.T, dt DType, n int, data []byte) []float32 {
	t.Helper()
	dst := make([]float32, n)
	if err := DecodeFloat32(dst, dt, data); err != nil {
		t.Fatalf("DecodeFloat32(%s): %v", dt, err)
	}
	return dst
}

func equalF32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestDecodeFloat32Blocks decodes hand-built blocks whose values follow
// directly from the block layouts.
func TestDecodeFloat32Blocks(t *testing.T) {
	var qs [16]byte
	for j := range qs {
		qs[j] = byte(j) | byte(15-j)<<4 // low nibble j, high nibble 15-j
	}
	qh := uint32(0xA5A5_0FF0)
	bit := func(i int) int { return int(qh >> uint(i) & 1) }
	want := func(f func(i, q int) float32, q5 bool) []float32 {
		out := make([]float32, 32)
		for i := range out {
			q := i
			if i >= 16 {
				q = 15 - (i - 16)
			}
			if q5 {
				q |= bit(i) << 4
			}
			out[i] = f(i, q)
		}
		return out
	}
	qhBytes := binary.LittleEndian.AppendUint32(nil, qh)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	equalF32(t, "Q4_0", decodeAll(t, Q4_0, 32, cat(h16(0.5), qs[:])),
		want(func(_, q int) float32 { return float32(q-8) * 0.5 }, false))
	equalF32(t, "Q4_1", decodeAll(t, Q4_1, 32, cat(h16(0.25), h16(-1), qs[:])),
		want(func(_, q int) float32 { return float32(q)*0.25 - 1 }, false))
	equalF32(t, "Q5_0", decodeAll(t, Q5_0, 32, cat(h16(2), qhBytes, qs[:])),
		want(func(_, q int) float32 { return float32(q-16) * 2 }, true))
	equalF32(t, "Q5_1", decodeAll(t, Q5_1, 32, cat(h16(0.5), h16(3), qhBytes, qs[:])),
		want(func(_, q int) float32 { return float32(q)*0.5 + 3 }, true))

	q8 := h16(-0.125)
	wantQ8 := make([]float32, 32)
	for i := range 32 {
		v := int8(i*8 - 128)
		q8 = append(q8, byte(v))
		wantQ8[i] = float32(v) * -0.125
	}
	equalF32(t, "Q8_0", decodeAll(t, Q8_0, 32, q8), wantQ8)

	// Two blocks: the second block's scale applies to the second 32 values.
	two := cat(h16(1), make([]byte, 16), h16(2), bytes.Repeat([]byte{0xff}, 16))
	got := decodeAll(t, Q4_0, 64, two)
	if got[0] != -8 || got[31] != -8 || got[32] != 14 || got[63] != 14 {
		t.Errorf("two Q4_0 blocks decoded to %v", got)
	}

	// Plain types.
	f32 := binary.LittleEndian.AppendUint32(nil, math.Float32bits(-1.5))
	f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(1e-40))
	equalF32(t, "F32", decodeAll(t, F32, 2, f32), []float32{-1.5, 1e-40})
	equalF32(t, "F16", decodeAll(t, F16, 3, []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}), []float32{1, -2, 0x1p-24})
	equalF32(t, "BF16", decodeAll(t, BF16, 2, []byte{0x80, 0x3f, 0xc0, 0xc0}), []float32{1, -6})
	equalF32(t, "empty", decodeAll(t, Q5_1, 0, nil), []float32{})
}

func TestDecodeFloat32Errors(t *testing.T) {
	cases := []struct {
		name string
		n    int
		dt   DType
		data []byte
		want string
	}{
		{"short F32", 2, F32, make([]byte, 7), "take 8 bytes, got 7"},
		{"long F16", 2, F16, make([]byte, 5), "take 4 bytes, got 5"},
		{"partial block", 31, Q8_0, make([]byte, 34), "not a whole number"},
		{"short block", 32, Q5_1, make([]byte, 23), "take 24 bytes, got 23"},
		{"unknown dtype", 1, DType(200), make([]byte, 4), "unknown dtype"},
	}
	for _, c := range cases {
		err := DecodeFloat32(make([]float32, c.n), c.dt, c.data)
		if err == nil || !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestTensorFloat32(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6}
	data, _ := Encode(F16, src)
	got, err := (&Tensor{Name: "x", DType: F16, Shape: []int{2, 3}, Data: data}).Float32()
	if err != nil {
		t.Fatal(err)
	}
	equalF32(t, "Float32", got, src)
	for _, c := range []struct {
		name string
		t    Tensor
		want string
	}{
		{"size mismatch", Tensor{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}, "does not match"},
		{"negative", Tensor{Name: "b", DType: F32, Shape: []int{-1, -4}, Data: make([]byte, 16)}, "negative"},
		{"overflow", Tensor{Name: "c", DType: F32, Shape: []int{1 << 40, 1 << 40}}, "overflows"},
		{"huge", Tensor{Name: "d", DType: Q8_0, Shape: []int{1 << 40}}, "does not match"},
		{"unknown", Tensor{Name: "e", DType: DType(99), Shape: []int{1}}, "unknown dtype"},
	} {
		_, err := c.t.Float32()
		if err == nil || !strings.HasPrefix(err.Error(), "weights: tensor \""+c.t.Name+"\"") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestEncodeHalfExhaustive round-trips every finite fp16 and bf16 value.
func TestEncodeHalfExhaustive(t *testing.T) {
	for _, dt := range []DType{F16, BF16} {
		raw := make([]byte, 2*65536)
		for i := range 65536 {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(i))
		}
		vals := decodeAll(t, dt, 65536, raw)
		enc, err := Encode(dt, vals)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 65536 {
			if math.IsNaN(float64(vals[i])) {
				continue
			}
			if got := binary.LittleEndian.Uint16(enc[2*i:]); got != uint16(i) {
				t.Fatalf("%s %#04x -> %v -> %#04x", dt, i, vals[i], got)
			}
		}
	}
	// Round to nearest even between representable values.
	enc, _ := Encode(F16, []float32{1 + 0x1p-11, 1 + 3*0x1p-11, 70000})
	if got := []uint16{binary.LittleEndian.Uint16(enc), binary.LittleEndian.Uint16(enc[2:]), binary.LittleEndian.Uint16(enc[4:])}; got[0] != 0x3c00 || got[1] != 0x3c02 || got[2] != 0x7c00 {
		t.Errorf("F16 rounding: %#04x", got)
	}
	enc, _ = Encode(F32, []float32{float32(math.Inf(-1)), 3})
	equalF32(t, "F32", decodeAll(t, F32, 2, enc), []float32{float32(math.Inf(-1)), 3})
}

// quantBound is the largest error the quantizer may make on a block: the
// rounding (or clipping) step plus the fp16 rounding of the scale and minimum.
func quantBound(dt DType, x []float32) float32 {
	lo, hi := minMax(x)
	amax := max(float32(math.Abs(float64(lo))), float32(math.Abs(float64(hi))))
	const tiny = 256 * 0x1p-24 // fp16 subnormal spacing times the largest q
	switch dt {
	case Q4_0:
		return 1.02*amax/8 + tiny
	case Q5_0:
		return 1.02*amax/16 + tiny
	case Q8_0:
		return 0.6*amax/127 + tiny
	case Q4_1:
		return 0.52*(hi-lo)/15 + amax*0x1p-10 + tiny
	case Q5_1:
		return 0.52*(hi-lo)/31 + amax*0x1p-10 + tiny
	}
	return 0
}

// checkQuantError compares decoded values with their source block by block.
func checkQuantError(t *testing.T, what string, dt DType, src, got []float32) {
	t.Helper()
	for b := 0; b < len(src); b += qk {
		x := src[b : b+qk]
		bound := quantBound(dt, x)
		for j, v := range x {
			if d := float32(math.Abs(float64(got[b+j] - v))); !(d <= bound) {
				t.Fatalf("%s %s: element %d = %v, source %v, error %v > bound %v", what, dt, b+j, got[b+j], v, d, bound)
			}
		}
	}
}

var quantTypes = []DType{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 32 * 512
	src := make([]float32, n)
	for i := range src {
		switch {
		case i < 64: // constant and zero blocks
			src[i] = float32(i / 32 * 3)
		case i < 96: // one huge outlier
			src[i] = float32(rng.NormFloat64()) * 1e-3
			if i == 70 {
				src[i] = -50
			}
		case i < 128: // tiny values, fp16-subnormal scales
			src[i] = float32(rng.NormFloat64()) * 1e-6
		default:
			scale := float32(math.Pow(10, float64(rng.IntN(6)-3)))
			src[i] = float32(rng.NormFloat64())*scale + float32(rng.IntN(3)-1)*scale
		}
	}
	for _, dt := range quantTypes {
		enc, err := Encode(dt, src)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := dt.ByteSize(n); len(enc) != want {
			t.Fatalf("%s: %d bytes, want %d", dt, len(enc), want)
		}
		got := decodeAll(t, dt, n, enc)
		checkQuantError(t, "random", dt, src, got)
		for i := 0; i < 32; i++ {
			if got[i] != 0 {
				t.Errorf("%s: zero block decodes to %v", dt, got[i])
			}
		}
		if dt == Q4_1 || dt == Q5_1 { // d = 0, m = 3: exact
			for i := 32; i < 64; i++ {
				if got[i] != 3 {
					t.Errorf("%s: constant block decodes to %v", dt, got[i])
				}
			}
		}
	}
	for _, dt := range []DType{F32, F16, BF16} {
		enc, _ := Encode(dt, src)
		got := decodeAll(t, dt, n, enc)
		for i, v := range src {
			var want float32
			switch dt {
			case F32:
				want = v
			case F16:
				want = half.F16ToF32(half.F32ToF16(v))
			case BF16:
				want = half.BF16ToF32(half.F32ToBF16(v))
			}
			if got[i] != want {
				t.Fatalf("%s[%d] = %v, want %v", dt, i, got[i], want)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		dt   DType
		src  []float32
		want string
	}{
		{Q8_0, make([]float32, 33), "whole number"},
		{Q4_0, append(make([]float32, 31), float32(math.NaN())), "non-finite"},
		{Q5_1, append(make([]float32, 31), float32(math.Inf(1))), "non-finite"},
		{DType(42), make([]float32, 1), "unknown dtype"},
	} {
		if _, err := Encode(c.dt, c.src); err == nil || !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%s): error %v, want %q", c.dt, err, c.want)
		}
	}
	// Non-finite values are fine for the float types.
	if _, err := Encode(F16, []float32{float32(math.NaN())}); err != nil {
		t.Error(err)
	}
}

// TestEncodeMatchesGGMLRounding pins the reference quantizers' choices of
// scale sign and rounding on small hand-checked blocks.
func TestEncodeMatchesGGMLRounding(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2] = -4, 2, 1 // max |x| is negative: d = -4/-8 = 0.5
	enc, _ := Encode(Q4_0, x)
	if d := half.F16ToF32(binary.LittleEndian.Uint16(enc)); d != 0.5 {
		t.Errorf("Q4_0 d = %v, want 0.5", d)
	}
	// q = x/d + 8.5 truncated: -4 -> 0, 2 -> 12, 1 -> 10, 0 -> 8.
	if enc[2] != 0x80 || enc[3] != 0x8c || enc[4] != 0x8a {
		t.Errorf("Q4_0 qs % x", enc[2:5])
	}
	x[0] = 4 // positive max: d = -0.5, so +4 maps to q = 0 and -4 would clip to 15
	x[1] = -4
	enc, _ = Encode(Q4_0, x)
	if d := half.F16ToF32(binary.LittleEndian.Uint16(enc)); d != -0.5 || enc[2] != 0x80 || enc[3] != 0x8f {
		t.Errorf("Q4_0 positive max: d %v qs % x", d, enc[2:4])
	}
	// Q8_0 rounds half away from zero: 0.5*d -> 1, -0.5*d -> -1.
	for i := range x {
		x[i] = 0
	}
	x[0], x[1], x[2] = 127, 0.5, -0.5
	enc, _ = Encode(Q8_0, x)
	if enc[2] != 127 || enc[3] != 1 || int8(enc[4]) != -1 {
		t.Errorf("Q8_0 qs % x", enc[2:5])
	}
}

// modelSource returns the FP32 file the given file was made from (or "").
func modelSource(t *testing.T, path string) string {
	model, _ := parseGGMLName(t, path)
	dir := filepath.Dir(path)
	if filepath.Base(dir) == "quantized-by-rwkv.cpp" {
		dir = filepath.Join(filepath.Dir(dir), "tests")
	}
	src := filepath.Join(dir, "tiny-rwkv-"+model+"-FP32.bin")
	if _, err := os.Stat(src); err != nil {
		return ""
	}
	return src
}

// TestQuantizedFilesNearFP32 checks that every quantized tensor of every
// real quantized file decodes to within quantization error of the FP32 model
// and that the unquantized tensors are the FP32 tensors unchanged.
func TestQuantizedFilesNearFP32(t *testing.T) {
	checked := 0
	for _, path := range realGGMLFiles(t) {
		_, kind := parseGGMLName(t, path)
		if !strings.HasPrefix(kind, "Q") {
			continue
		}
		src := modelSource(t, path)
		if src == "" {
			t.Logf("%s: FP32 source model not in the test data, skipped", filepath.Base(path))
			continue
		}
		_, qf := readGGMLFile(t, path)
		_, sf := readGGMLFile(t, src)
		for _, tt := range qf.Tensors {
			st := sf.Get(tt.Name)
			if st == nil {
				t.Fatalf("%s: %s not in the FP32 model", filepath.Base(path), tt.Name)
			}
			if !tt.DType.Quantized() {
				if tt.DType != st.DType || !bytes.Equal(tt.Data, st.Data) {
					t.Errorf("%s: unquantized %s differs from the FP32 model", filepath.Base(path), tt.Name)
				}
				continue
			}
			want, err := st.Float32()
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.Float32()
			if err != nil {
				t.Fatal(err)
			}
			checkQuantError(t, filepath.Base(path)+" "+tt.Name, tt.DType, want, got)
			checked++
		}
	}
	if checked == 0 && testdata.Required() {
		t.Fatal("no quantized tensors checked")
	}
}

// TestQuantizedFilesAgree covers the 6v0-3m model, whose FP32 file is not in
// the test data: its four quantized files must agree with each other within
// their combined quantization error (the Q5_1 file serves as reference).
func TestQuantizedFilesAgree(t *testing.T) {
	_, ref := readGGMLFile(t, testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_1.bin"))
	others := []string{
		"rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_0.bin",
		"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-6v0-3m-FP32-to-Q4_0.bin",
		"rwkv.cpp/quantized-by-rwkv.cpp/tiny-rwkv-6v0-3m-FP32-to-Q4_1.bin",
	}
	for _, rel := range others {
		_, f := readGGMLFile(t, testdata.Path(t, rel))
		for i, tt := range f.Tensors {
			rt := ref.Tensors[i]
			if tt.Name != rt.Name || tt.ShapeString() != rt.ShapeString() || tt.DType.Quantized() != rt.DType.Quantized() {
				t.Fatalf("%s: tensor %d is %s %s %s, reference has %s %s %s", rel, i, tt.Name, tt.DType, tt.ShapeString(), rt.Name, rt.DType, rt.ShapeString())
			}
			if !tt.DType.Quantized() {
				if !bytes.Equal(tt.Data, rt.Data) {
					t.Errorf("%s: unquantized %s differs", rel, tt.Name)
				}
				continue
			}
			a, _ := tt.Float32()
			r, _ := rt.Float32()
			for b := 0; b < len(r); b += qk {
				x := r[b : b+qk]
				bound := 1.1 * (quantBound(tt.DType, x) + quantBound(Q5_1, x))
				for j := range x {
					if d := float32(math.Abs(float64(a[b+j] - x[j]))); !(d <= bound) {
						t.Fatalf("%s %s[%d]: %v vs reference %v (bound %v)", rel, tt.Name, b+j, a[b+j], x[j], bound)
					}
				}
			}
		}
	}
}

// TestFP16FilesMatchFP32 checks that the FP16 files hold exactly the FP32
// values rounded to fp16, and the same FP32 tensors elsewhere.
func TestFP16FilesMatchFP32(t *testing.T) {
	for _, path := range realGGMLFiles(t) {
		if _, kind := parseGGMLName(t, path); kind != "FP16" {
			continue
		}
		_, hf := readGGMLFile(t, path)
		_, sf := readGGMLFile(t, modelSource(t, path))
		nf16 := 0
		for _, tt := range hf.Tensors {
			st := sf.Get(tt.Name)
			if tt.DType == F32 {
				if !bytes.Equal(tt.Data, st.Data) {
					t.Errorf("%s: F32 tensor %s differs", filepath.Base(path), tt.Name)
				}
				continue
			}
			nf16++
			v, _ := st.Float32()
			want, _ := Encode(F16, v)
			if !bytes.Equal(tt.Data, want) {
				t.Errorf("%s: %s is not the FP32 tensor rounded to fp16", filepath.Base(path), tt.Name)
			}
		}
		if nf16 == 0 {
			t.Errorf("%s: no F16 tensors", filepath.Base(path))
		}
	}
}

// requantize rebuilds a quantized file from its FP32 source: quantized
// tensors are re-encoded with enc, everything else is copied.
func requantize(t *testing.T, qf, sf *File, enc func(DType, []float32) ([]byte, error)) []byte {
	t.Helper()
	h, err := qf.GGMLHeader()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*Tensor, len(qf.Tensors))
	for i, tt := range qf.Tensors {
		st := sf.Get(tt.Name)
		nt := &Tensor{Name: st.Name, DType: st.DType, Shape: st.Shape, Data: st.Data}
		if tt.DType.Quantized() {
			v, err := st.Float32()
			if err != nil {
				t.Fatal(err)
			}
			if nt.Data, err = enc(tt.DType, v); err != nil {
				t.Fatal(err)
			}
			nt.DType = tt.DType
		}
		out[i] = nt
	}
	var buf bytes.Buffer
	if err := WriteGGML(&buf, h, out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEncodeReproducesRwkvCppFiles re-quantizes the FP32 models with Encode
// and compares with the files rwkv.cpp's quantizer wrote, byte for byte.
//
// Every file matches except tests-history/tiny-rwkv-6v0-1m-Q5_0.bin, which
// was written by a build that contracted ggml's `x*id + 16.5f` into a fused
// multiply-add (one rounding instead of two); about 0.4% of its blocks differ
// by one quantization level. The test pins that explanation: an FMA variant
// of the Q5_0 quantizer reproduces that file exactly.
func TestEncodeReproducesRwkvCppFiles(t *testing.T) {
	matched := 0
	for _, path := range realGGMLFiles(t) {
		name := filepath.Base(path)
		if _, kind := parseGGMLName(t, path); !strings.HasPrefix(kind, "Q") {
			continue
		}
		src := modelSource(t, path)
		if src == "" {
			t.Logf("%s: FP32 source model not in the test data, skipped", name)
			continue
		}
		data, qf := readGGMLFile(t, path)
		_, sf := readGGMLFile(t, src)
		got := requantize(t, qf, sf, Encode)
		if name == "tiny-rwkv-6v0-1m-Q5_0.bin" {
			if bytes.Equal(got, data) {
				t.Errorf("%s: now reproduced by the unfused quantizer; update this test", name)
			}
			if fused := requantize(t, qf, sf, encodeQ5_0FMA); !bytes.Equal(fused, data) {
				t.Errorf("%s: not reproduced by the fused Q5_0 quantizer either", name)
			}
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: re-quantized file differs from rwkv.cpp's", name)
			continue
		}
		matched++
	}
	t.Logf("%d rwkv.cpp quantized files reproduced byte for byte", matched)
}

// encodeQ5_0FMA is Q5_0 quantization with x*id + 16.5 computed as one fused
// multiply-add, as a contracting C compiler builds ggml's reference code.
func encodeQ5_0FMA(dt DType, src []float32) ([]byte, error) {
	if dt != Q5_0 {
		return Encode(dt, src)
	}
	out := make([]byte, len(src)/qk*22)
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[i*qk:(i+1)*qk], out[i*22:(i+1)*22]
		d := absMax(x) / -16
		id := inv(d)
		binary.LittleEndian.PutUint16(b, half.F32ToF16(d))
		var qh uint32
		for j := range 16 {
			q0 := truncQ(float32(math.FMA(float64(x[j]), float64(id), 16.5)), 31)
			q1 := truncQ(float32(math.FMA(float64(x[j+16]), float64(id), 16.5)), 31)
			b[6+j] = byte(q0&15 | (q1&15)<<4)
			qh |= (q0>>4)<<uint(j) | (q1>>4)<<uint(j+16)
		}
		binary.LittleEndian.PutUint32(b[2:], qh)
	}
	return out, nil
}

func benchDecode(b *testing.B, dt DType) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	data, err := Encode(dt, src)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, n)
	b.SetBytes(4 * n) // throughput in decoded float32 bytes
	b.ResetTimer()
	for b.Loop() {
		if err := DecodeFloat32(dst, dt, data); err != nil {
			b.Fatal(err)
		}
	}
}

// The decode benchmarks report throughput in decoded (float32) bytes.

func BenchmarkDecodeF32(b *testing.B)  { benchDecode(b, F32) }
func BenchmarkDecodeF16(b *testing.B)  { benchDecode(b, F16) }
func BenchmarkDecodeBF16(b *testing.B) { benchDecode(b, BF16) }
func BenchmarkDecodeQ4_0(b *testing.B) { benchDecode(b, Q4_0) }
func BenchmarkDecodeQ4_1(b *testing.B) { benchDecode(b, Q4_1) }
func BenchmarkDecodeQ5_0(b *testing.B) { benchDecode(b, Q5_0) }
func BenchmarkDecodeQ5_1(b *testing.B) { benchDecode(b, Q5_1) }
func BenchmarkDecodeQ8_0(b *testing.B) { benchDecode(b, Q8_0) }

func BenchmarkEncodeQ5_1(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(4 * n)
	for b.Loop() {
		if _, err := Encode(Q5_1, src); err != nil {
			b.Fatal(err)
		}
	}
}
