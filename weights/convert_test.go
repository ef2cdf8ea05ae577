package weights

import (
	"bytes"
	"os"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// TestToRWKVCppReproducesRealFiles converts the official .pth conversions of
// the tiny models back into rwkv.cpp's layout and requires the exact bytes of
// the original rwkv.cpp files (4v0, 6v0-1m and 7v0 are recoverable exactly;
// the v5 decays were stored transformed and are only recoverable to 1 ulp).
func TestToRWKVCppReproducesRealFiles(t *testing.T) {
	for _, tc := range []struct{ pth, bin string }{
		{"pth/tiny-rwkv-4v0-660K-FP32.pth", "rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin"},
		{"pth/tiny-rwkv-6v0-1m-FP32.pth", "rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP32.bin"},
		{"pth/tiny-rwkv-7v0-834K-BF16.pth", "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"},
	} {
		t.Run(tc.pth, func(t *testing.T) {
			src, err := Open(testdata.Path(t, tc.pth))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			want, err := os.ReadFile(testdata.Path(t, tc.bin))
			if err != nil {
				t.Fatal(err)
			}
			orig, err := ReadGGML(want)
			if err != nil {
				t.Fatal(err)
			}
			conv, err := ToRWKVCpp(src)
			if err != nil {
				t.Fatal(err)
			}
			h, err := orig.GGMLHeader()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteGGML(&buf, h, conv.Tensors); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				for i, ot := range orig.Tensors {
					if i >= len(conv.Tensors) {
						t.Fatalf("converted file has %d tensors, original %d", len(conv.Tensors), len(orig.Tensors))
					}
					ct := conv.Tensors[i]
					if ct.Name != ot.Name || ct.ShapeString() != ot.ShapeString() || !bytes.Equal(ct.Data, ot.Data) {
						t.Fatalf("tensor %d: converted %s %s, original %s %s (data equal %v)", i, ct.Name, ct.ShapeString(), ot.Name, ot.ShapeString(), bytes.Equal(ct.Data, ot.Data))
					}
				}
				t.Fatalf("converted file differs from the original (%d vs %d bytes)", buf.Len(), len(want))
			}
		})
	}
}

func TestToRWKVCppErrors(t *testing.T) {
	if _, err := ToRWKVCpp(&File{Format: FormatPTH}); err == nil {
		t.Fatal("empty file converted")
	}
	f, err := Synthesize(SynthConfig{Version: V7, Layers: 1, Embd: 32, Vocab: 10, HeadSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ToRWKVCpp(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToRWKVCpp(g); err == nil {
		t.Fatal("rwkv.cpp file converted twice")
	}
}

func TestSynthesizeErrors(t *testing.T) {
	for _, sc := range []SynthConfig{
		{Version: V7, Layers: 0, Embd: 64, Vocab: 10},
		{Version: V6, Layers: 1, Embd: 64, Vocab: 0},
		{Version: 99, Layers: 1, Embd: 64, Vocab: 10},
		{Version: V52, Layers: 1, Embd: 60, Vocab: 10, HeadSize: 16},
	} {
		if _, err := Synthesize(sc); err == nil {
			t.Errorf("%+v accepted", sc)
		}
	}
}
