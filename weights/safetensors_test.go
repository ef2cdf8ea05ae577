package weights

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func sharedSafetensors(t *testing.T) []string {
	return append(testdata.Glob(t, "pth/*.safetensors"), testdata.Glob(t, "pth/*.st")...)
}

func TestSafetensorsSharedFiles(t *testing.T) {
	for _, path := range sharedSafetensors(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := readKeys(t, name)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format != FormatSafetensors {
				t.Errorf("format %v", f.Format)
			}
			if !reflect.DeepEqual(f.Meta, map[string]string{"format": "pt"}) {
				t.Errorf("meta %v", f.Meta)
			}
			checkKeys(t, f, want)
		})
	}
}

// TestSafetensorsRewriteIdentical checks that reading and re-writing the shared
// files reproduces them byte for byte (the reference writer's layout: compact
// JSON, __metadata__ first, tensors by dtype then name, space padding to 8).
func TestSafetensorsRewriteIdentical(t *testing.T) {
	for _, path := range sharedSafetensors(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ReadSafetensors(data)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := WriteSafetensors(&out, f.Tensors, f.Meta); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				n := binary.LittleEndian.Uint64(data)
				t.Fatalf("rewrite differs (%d vs %d bytes); original header %q\nrewritten header %q",
					out.Len(), len(data), data[8:8+n], out.Bytes()[8:min(uint64(out.Len()), 8+n)])
			}
		})
	}
}

func TestSafetensorsWriteRead(t *testing.T) {
	tensors := []*Tensor{
		{Name: "z.half", DType: F16, Shape: []int{2}, Data: seq(4, 1)},
		{Name: "b.float", DType: F32, Shape: []int{1, 2}, Data: seq(8, 10)},
		{Name: "a.bf16", DType: BF16, Shape: []int{3}, Data: seq(6, 30)},
		{Name: "a.float", DType: F32, Shape: []int{}, Data: seq(4, 40)},
		{Name: "empty", DType: F32, Shape: []int{0, 3}, Data: nil},
		{Name: "quote\"back\\slash\nctl\x01 ünï <&>", DType: F16, Shape: []int{1}, Data: seq(2, 50)},
	}
	meta := map[string]string{"format": "pt", "b": "x\ty", "a": "é"}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	n := binary.LittleEndian.Uint64(data)
	header := string(data[8 : 8+n])
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	if !strings.HasPrefix(header, `{"__metadata__":{"a":"é","b":"x\ty","format":"pt"},"a.float":{"dtype":"F32","shape":[],"data_offsets":[0,4]},`) {
		t.Errorf("header %s", header)
	}
	if !strings.Contains(header, `"quote\"back\\slash\nctl\u0001 ünï <&>"`) {
		t.Errorf("escaping: %s", header)
	}
	f, err := ReadSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Meta, meta) {
		t.Errorf("meta %v", f.Meta)
	}
	// Order: F32 (by name), BF16, F16 (by name); the empty tensor takes no bytes.
	order := []string{"a.float", "b.float", "empty", "a.bf16", "quote\"back\\slash\nctl\x01 ünï <&>", "z.half"}
	if len(f.Tensors) != len(order) {
		t.Fatalf("%d tensors", len(f.Tensors))
	}
	for i, name := range order {
		g := f.Tensors[i]
		var w *Tensor
		for _, x := range tensors {
			if x.Name == name {
				w = x
			}
		}
		if g.Name != name || g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("tensor %d: got %q %s %v % x, want %q", i, g.Name, g.DType, g.Shape, g.Data, name)
		}
	}
	// No metadata: the key is omitted.
	buf.Reset()
	if err := WriteSafetensors(&buf, tensors[:1], nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes()[8:], []byte(`{"z.half":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`)) {
		t.Errorf("header %q", buf.Bytes()[8:])
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	cases := []struct {
		name    string
		tensors []*Tensor
		meta    map[string]string
		want    string
	}{
		{"quantized", []*Tensor{{Name: "q", DType: Q8_0, Shape: []int{32}, Data: make([]byte, 34)}}, nil, `tensor "q" has unsupported dtype Q8_0`},
		{"size", []*Tensor{{Name: "w", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}, nil, "holds 8 bytes"},
		{"negative", []*Tensor{{Name: "w", DType: F32, Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflow", []*Tensor{{Name: "w", DType: F32, Shape: []int{1 << 40, 1 << 40}}}, nil, "overflows"},
		{"duplicate", []*Tensor{{Name: "w", DType: F32}, {Name: "w", DType: F32}}, nil, "duplicate tensor name"},
		{"reserved", []*Tensor{{Name: "__metadata__", DType: F32}}, nil, "invalid tensor name"},
		{"bad utf8", []*Tensor{{Name: "\xff", DType: F32}}, nil, "invalid tensor name"},
		{"nil", []*Tensor{nil}, nil, "nil tensor"},
		{"meta utf8", nil, map[string]string{"k": "\xff"}, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, x := range c.tensors {
				if x != nil && x.Data == nil && x.DType == F32 && len(x.Shape) == 0 {
					x.Data = make([]byte, 4)
				}
			}
			err := WriteSafetensors(&bytes.Buffer{}, c.tensors, c.meta)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// st builds a safetensors file from a header string and a data buffer.
func st(header string, buf []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(buf))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

func TestSafetensorsErrors(t *testing.T) {
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, 200_000_000)
	long := make([]byte, 16)
	binary.LittleEndian.PutUint64(long, 9)
	wrap := binary.LittleEndian.AppendUint64(nil, ^uint64(0))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"header over limit", huge, "exceeds the 100000000 byte limit"},
		{"header beyond file", long, "does not fit"},
		{"header length wraps", append(wrap, "{}"...), "exceeds"},
		{"not an object", st(`["a"]`, nil), "does not start with '{'"},
		{"malformed json", st(`{"a":}`, nil), "malformed"},
		{"unterminated", st(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}`, make([]byte, 4)), "malformed"},
		{"trailing garbage", st(`{}xx`, nil), "unexpected bytes after"},
		{"duplicate", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `duplicate key "a"`},
		{"F64", st(`{"w.x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "w.x" has unsupported dtype "F64"`},
		{"I8", st(`{"ids":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), `tensor "ids" has unsupported dtype "I8"`},
		{"missing dtype", st(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "missing dtype"},
		{"missing shape", st(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "missing shape"},
		{"one offset", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, make([]byte, 4)), "two numbers"},
		{"negative shape", st(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "invalid dimension -1"},
		{"fractional shape", st(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "invalid dimension 1.5"},
		{"overflowing shape", st(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "overflows"},
		{"huge dimension", st(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, make([]byte, 4)), "invalid dimension"},
		{"negative offset", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), "invalid data offset -4"},
		{"reversed offsets", st(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "end before they begin"},
		{"size mismatch", st(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 8)), "4 bytes for shape [2] of F32 (want 8)"},
		{"beyond buffer", st(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "beyond the 4 byte data buffer"},
		{"overlap", st(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}}`, make([]byte, 12)), `tensors "a" and "b" overlap`},
		{"gap between tensors", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[6,8]}}`, make([]byte, 8)), `data bytes [4, 6) between tensor "a" and tensor "b" belong to no tensor`},
		{"gap before first", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `data bytes [0, 4) between the start of the data buffer and tensor "a"`},
		{"empty tensor in a gap", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[6,6]},"b":{"dtype":"F16","shape":[1],"data_offsets":[6,8]}}`, make([]byte, 8)), `data bytes [4, 6) between tensor "a" and tensor "e"`},
		{"empty tensor inside another", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}`, make([]byte, 4)), `tensors "a" and "e" overlap`},
		{"trailing data", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 7)), "3 bytes after the last tensor"},
		{"data without tensors", st(`{}`, make([]byte, 2)), "2 bytes after the last tensor"},
		{"metadata not strings", st(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
		{"entry not object", st(`{"a":[1,2]}`, nil), `tensor "a": malformed header entry`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ReadSafetensors(c.data)
			if err == nil {
				t.Fatalf("no error; got %d tensors", len(f.Tensors))
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestSafetensorsLenient covers accepted variations: padding, header order
// differing from data order, empty tensors sharing an offset, and no tensors
// at all.
func TestSafetensorsLenient(t *testing.T) {
	f, err := ReadSafetensors(st(`{"b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  `, seq(6, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range f.Tensors {
		names = append(names, g.Name)
	}
	if !reflect.DeepEqual(names, []string{"e", "a", "b"}) || !bytes.Equal(f.Get("b").Data, []byte{4, 5}) {
		t.Errorf("got %v", names)
	}
	f, err = ReadSafetensors(st(`{}`, nil))
	if err != nil || len(f.Tensors) != 0 {
		t.Fatalf("empty file: %v", err)
	}
}

func FuzzReadSafetensors(f *testing.F) {
	f.Add(st(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, seq(4, 0)))
	f.Add(st(`{"a":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[],"data_offsets":[4,6]}}`, seq(6, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadSafetensors(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		for _, g := range file.Tensors {
			if len(g.Data) != g.Len()*g.DType.BlockBytes() {
				t.Fatalf("tensor %s has %d bytes for shape %v", g.Name, len(g.Data), g.Shape)
			}
		}
		// A file that reads must write and read back to the same tensors.
		var buf bytes.Buffer
		if err := WriteSafetensors(&buf, file.Tensors, file.Meta); err != nil {
			// Names or metadata may be invalid UTF-8 in hostile input.
			return
		}
		again, err := ReadSafetensors(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not read: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors after rewrite, want %d", len(again.Tensors), len(file.Tensors))
		}
		for _, g := range again.Tensors {
			o := file.Get(g.Name)
			if o == nil || o.DType != g.DType || !reflect.DeepEqual(o.Shape, g.Shape) || !bytes.Equal(o.Data, g.Data) {
				t.Fatalf("tensor %q changed in rewrite", g.Name)
			}
		}
	})
}
