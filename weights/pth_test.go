package weights

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// keyEntry is one line of a testdata pth/keys/<file>.txt listing.
type keyEntry struct {
	name  string
	shape []int
	dtype DType
}

// readKeys parses a keys listing: "name<TAB>[a, b]<TAB>dtype" per tensor, in file order.
func readKeys(t *testing.T, file string) []keyEntry {
	t.Helper()
	fh, err := os.Open(testdata.Path(t, "pth/keys/"+file+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []keyEntry
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("%s: bad line %q", file, line)
		}
		e := keyEntry{name: parts[0], shape: []int{}}
		dims := strings.Trim(parts[1], "[]")
		if dims != "" {
			for _, d := range strings.Split(dims, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(d))
				if err != nil {
					t.Fatalf("%s: bad shape in %q", file, line)
				}
				e.shape = append(e.shape, n)
			}
		}
		switch parts[2] {
		case "float32", "F32":
			e.dtype = F32
		case "float16", "F16":
			e.dtype = F16
		case "bfloat16", "BF16":
			e.dtype = BF16
		default:
			t.Fatalf("%s: unknown dtype in %q", file, line)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no tensors listed", file)
	}
	return out
}

// checkKeys compares a file's tensors, in order, with its keys listing.
func checkKeys(t *testing.T, f *File, want []keyEntry) {
	t.Helper()
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		g := f.Tensors[i]
		if g.Name != w.name || g.DType != w.dtype || !reflect.DeepEqual(append([]int{}, g.Shape...), w.shape) {
			t.Fatalf("tensor %d: got %s %v %s, want %s %v %s", i, g.Name, g.Shape, g.DType, w.name, w.shape, w.dtype)
		}
		if len(g.Data) != g.Len()*g.DType.BlockBytes() {
			t.Fatalf("tensor %s: %d bytes for %d elements", g.Name, len(g.Data), g.Len())
		}
		if f.Get(w.name) != g {
			t.Fatalf("Get(%q) does not find the tensor", w.name)
		}
	}
}

func TestPTHSharedFiles(t *testing.T) {
	files := testdata.Glob(t, "pth/*.pth")
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := readKeys(t, name)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format != FormatPTH {
				t.Errorf("format %v", f.Format)
			}
			checkKeys(t, f, want)
		})
	}
}

// TestPTHMatchesSafetensors checks that each model's .pth and .safetensors hold
// bit-identical tensors.
func TestPTHMatchesSafetensors(t *testing.T) {
	files := testdata.Glob(t, "pth/*.pth")
	for _, path := range files {
		stPath := strings.TrimSuffix(path, ".pth") + ".safetensors"
		t.Run(filepath.Base(path), func(t *testing.T) {
			p, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			s, err := Open(stPath)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(p.Tensors) != len(s.Tensors) {
				t.Fatalf("%d tensors in .pth, %d in .safetensors", len(p.Tensors), len(s.Tensors))
			}
			for _, pt := range p.Tensors {
				st := s.Get(pt.Name)
				if st == nil {
					t.Fatalf("%s missing from .safetensors", pt.Name)
				}
				if st.DType != pt.DType || !reflect.DeepEqual(st.Shape, pt.Shape) || !bytes.Equal(st.Data, pt.Data) {
					t.Fatalf("%s differs: %s %v vs %s %v", pt.Name, pt.DType, pt.Shape, st.DType, st.Shape)
				}
			}
		})
	}
}

// TestPTHBF16UpcastsToFP32 checks that the bf16 checkpoints' values upcast to
// exactly the fp32 checkpoints' values.
func TestPTHBF16UpcastsToFP32(t *testing.T) {
	for _, model := range []string{"tiny-rwkv-6v0-1m", "tiny-rwkv-7v0-834K"} {
		for _, ext := range []string{".pth", ".safetensors"} {
			t.Run(model+ext, func(t *testing.T) {
				b, err := Open(testdata.Path(t, "pth/"+model+"-BF16"+ext))
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				f, err := Open(testdata.Path(t, "pth/"+model+"-FP32"+ext))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if len(b.Tensors) != len(f.Tensors) {
					t.Fatalf("%d vs %d tensors", len(b.Tensors), len(f.Tensors))
				}
				for _, bt := range b.Tensors {
					ft := f.Get(bt.Name)
					if bt.DType != BF16 || ft == nil || ft.DType != F32 || !reflect.DeepEqual(bt.Shape, ft.Shape) {
						t.Fatalf("%s: mismatched tensors", bt.Name)
					}
					for i := 0; i < bt.Len(); i++ {
						h := uint16(bt.Data[2*i]) | uint16(bt.Data[2*i+1])<<8
						want := uint32(ft.Data[4*i]) | uint32(ft.Data[4*i+1])<<8 | uint32(ft.Data[4*i+2])<<16 | uint32(ft.Data[4*i+3])<<24
						if math.Float32bits(half.BF16ToF32(h)) != want {
							t.Fatalf("%s[%d]: bf16 %#04x upcasts to %#08x, fp32 file has %#08x", bt.Name, i, h, math.Float32bits(half.BF16ToF32(h)), want)
						}
					}
				}
			})
		}
	}
}

// TestPTHReal loads a checkpoint written by torch.save in upstream training
// code (torch >= 2.1 layout with byteorder and storage alignment, prefix
// "no_rosa5/", cuda:0 locations, [1, 1, C] tensors with stride [C, C, 1]).
// The expected values were read independently from the raw zip entries and a
// disassembly of data.pkl.
func TestPTHReal(t *testing.T) {
	path := testdata.Path(t, "pth-real/260123_reverse_L2_only_rwkv7.pth")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != 99 {
		t.Fatalf("%d tensors, want 99", len(f.Tensors))
	}
	checks := []struct {
		index  int
		name   string
		shape  []int
		sha256 string // prefix of the storage bytes' sha256
	}{
		{0, "e.weight", []int{12, 32}, "cc9e38a212ebbe7d"},
		{1, "ln1a.weight", []int{32}, "7cf2efb6bd9c80c1"},
		{7, "rwkv1.x_r", []int{1, 1, 32}, "530f50b9fb09942e"},
		{13, "rwkv1.w1", []int{32, 8}, "9de0165ee6c283bf"},
		{26, "rwkv1.r_k", []int{2, 16}, "3888163b1837fc6a"},
		{42, "rosa1.rosa_qkv.emb", []int{1, 1, 32}, "38723a2e5e8a17aa"},
		{46, "ffn1.key.weight", []int{128, 32}, "2e644ad2398b113d"},
		{47, "ffn1.value.weight", []int{32, 128}, "481f85b638c941f8"},
		{94, "ffn2.value.weight", []int{32, 128}, "00ede8290bd81d9b"},
		{97, "o.weight", []int{12, 32}, "87455d056e506fb1"},
		{98, "o.bias", []int{12}, "fbf36e29d548756b"},
	}
	for _, c := range checks {
		g := f.Tensors[c.index]
		sum := sha256.Sum256(g.Data)
		if g.Name != c.name || !reflect.DeepEqual(g.Shape, c.shape) || g.DType != F32 || !strings.HasPrefix(hex.EncodeToString(sum[:]), c.sha256) {
			t.Errorf("tensor %d: got %s %v %s sha256 %x, want %s %v F32 %s", c.index, g.Name, g.Shape, g.DType, sum[:8], c.name, c.shape, c.sha256)
		}
	}
	for _, g := range f.Tensors {
		if g.DType != F32 {
			t.Errorf("%s: dtype %s", g.Name, g.DType)
		}
	}
}

// TestPTHAliasesInput checks that stored entries are sliced from the input,
// not copied.
func TestPTHAliasesInput(t *testing.T) {
	data, err := os.ReadFile(testdata.Path(t, "pth/tiny-rwkv-7v0-834K-BF16.pth"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadPTH(data)
	if err != nil {
		t.Fatal(err)
	}
	clear(data)
	for _, g := range f.Tensors {
		if len(g.Data) > 0 && !bytes.Equal(g.Data, make([]byte, len(g.Data))) {
			t.Fatalf("%s does not alias the input", g.Name)
		}
	}
}

func TestPTHSynthetic(t *testing.T) {
	p := newPickle().beginDict()
	p.str("a").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1})
	p.str("b").tensor("HalfStorage", "1", 4, 0, []int64{4}, []int64{1})
	p.str("c").tensor("BFloat16Storage", "2", 2, 0, []int64{1, 1, 2}, []int64{2, 2, 1})
	p.str("d").tensor("FloatStorage", "0", 6, 3, []int64{3}, []int64{1}) // a view on a's storage
	p.str("step").int(12)                                                // plain scalars are skipped
	p.str("note").str("hello")
	p.str("p").global("torch._utils", "_rebuild_parameter")
	p.op(opMark).tensor("FloatStorage", "3", 1, 0, []int64{}, []int64{}).op(opNewTrue)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opTuple, opReduce)
	p.str("z").tensor("HalfStorage", "4", 0, 0, []int64{0, 5}, []int64{5, 1})
	pickle := p.endDict()
	data := mkzip(t,
		zf{name: "my model/data.pkl", data: pickle, deflate: true},
		zf{name: "my model/byteorder", data: []byte("little")},
		zf{name: "my model/data/0", data: seq(24, 1)},
		zf{name: "my model/data/1", data: seq(8, 50)},
		zf{name: "my model/data/2", data: seq(4, 90), deflate: true},
		zf{name: "my model/data/3", data: seq(4, 120)},
		zf{name: "my model/data/4", data: nil},
		zf{name: "my model/version", data: []byte("3\n")},
	)
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		dtype DType
		shape []int
		data  []byte
	}{
		{"a", F32, []int{2, 3}, seq(24, 1)},
		{"b", F16, []int{4}, seq(8, 50)},
		{"c", BF16, []int{1, 1, 2}, seq(4, 90)},
		{"d", F32, []int{3}, seq(12, 13)},
		{"p", F32, []int{}, seq(4, 120)},
		{"z", F16, []int{0, 5}, []byte{}},
	}
	if f.Format != FormatPTH || len(f.Tensors) != len(want) {
		t.Fatalf("format %v, %d tensors", f.Format, len(f.Tensors))
	}
	for i, w := range want {
		g := f.Tensors[i]
		if g.Name != w.name || g.DType != w.dtype || !reflect.DeepEqual(g.Shape, w.shape) || !bytes.Equal(g.Data, w.data) {
			t.Errorf("tensor %d: got %s %s %v % x, want %s %s %v % x", i, g.Name, g.DType, g.Shape, g.Data, w.name, w.dtype, w.shape, w.data)
		}
	}
	if &f.Tensors[0].Data[12] != &f.Tensors[3].Data[0] {
		t.Error("views on one storage do not share memory")
	}
}

// TestPTHNested checks state dicts kept under "state_dict" or "model".
func TestPTHNested(t *testing.T) {
	for _, key := range []string{"state_dict", "model"} {
		t.Run(key, func(t *testing.T) {
			p := newPickle().op(opEmptyDict)
			p.str("epoch").int(3).op(opSetItem)
			p.str("optimizer").op(opEmptyDict).str("lr").int(1).op(opSetItem, opSetItem)
			p.str(key).beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1})
			p.op(opSetItems, opSetItem, opStop)
			f, err := ReadPTH(pthWith(t, p.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != 1 || f.Tensors[0].Name != "w" || !bytes.Equal(f.Tensors[0].Data, seq(24, 1)) {
				t.Fatalf("got %+v", f.Tensors)
			}
		})
	}
}

// TestPTHErrors checks that malformed and hostile checkpoints fail cleanly.
func TestPTHErrors(t *testing.T) {
	one := func(build func(p *pk)) []byte {
		p := newPickle().beginDict()
		build(p)
		return p.endDict()
	}
	good := one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}) })
	osSystem := newPickle().global("os", "system").str("touch /tmp/x").op(opTuple1, opReduce, opStop).Bytes()
	stackGlobal := newPickle().str("builtins").str("eval").op(opStackGlobal).str("1").op(opTuple1, opReduce, opStop).Bytes()
	inState := one(func(p *pk) {
		p.str("w").global("subprocess", "Popen").str("ls").op(opTuple1, opReduce)
	})
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not a zip", []byte("PK\x03\x04 not really a zip"), "not a valid zip"},
		{"no data.pkl", mkzip(t, zf{name: "archive/version", data: []byte("3")}), "no data.pkl"},
		{"two data.pkl", mkzip(t, zf{name: "a/data.pkl", data: good}, zf{name: "b/data.pkl", data: good}), "more than one data.pkl"},
		{"duplicate entry", mkzip(t, zf{name: "a/data.pkl", data: good}, zf{name: "a/data/0", data: seq(24, 0)}, zf{name: "a/data/0", data: seq(24, 0)}), "duplicate entry"},
		{"big endian", mkzip(t, zf{name: "a/data.pkl", data: good}, zf{name: "a/byteorder", data: []byte("big")}, zf{name: "a/data/0", data: seq(24, 0)}), `byte order is "big"`},
		{"os.system", pthWith(t, osSystem), "forbidden global os.system"},
		{"stack global builtins.eval", pthWith(t, stackGlobal), "forbidden global builtins.eval"},
		{"forbidden inside state dict", pthWith(t, inState), "forbidden global subprocess.Popen"},
		{"unknown class torch.nn.Module", pthWith(t, one(func(p *pk) {
			p.str("m").global("torch.nn", "Module").op(opEmptyTuple, opNewObj)
		})), "forbidden global torch.nn.Module"},
		{"unknown storage class", pthWith(t, one(func(p *pk) { p.str("w").tensor("EvilStorage", "0", 6, 0, []int64{6}, []int64{1}) })), "forbidden global torch.EvilStorage"},
		{"double storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("DoubleStorage", "0", 3, 0, []int64{3}, []int64{1}) })), `tensor "w" has unsupported storage type torch.DoubleStorage (float64)`},
		{"long storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("LongStorage", "0", 3, 0, []int64{3}, []int64{1}) })), "torch.LongStorage (int64)"},
		{"oversized storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 1<<40, 0, []int64{1 << 40}, []int64{1}) })), `storage "0" declares 1099511627776 F32 elements but its entry holds 24 bytes`},
		{"overflowing storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 1<<62, 0, []int64{6}, []int64{1}) })), "declares"},
		{"negative numel", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", -6, 0, []int64{6}, []int64{1}) })), "invalid element count"},
		{"missing storage entry", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "7", 6, 0, []int64{6}, []int64{1}) })), `storage "7" has no archive entry "archive/data/7"`},
		{"storage key path", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "../data.pkl", 6, 0, []int64{6}, []int64{1}) })), "has no archive entry"},
		{"inconsistent storage", pthWith(t, one(func(p *pk) {
			p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1})
			p.str("v").tensor("HalfStorage", "0", 12, 0, []int64{12}, []int64{1})
		})), "different types or sizes"},
		{"negative shape", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{-1, 6}, []int64{6, 1}) })), "size: negative value -1"},
		{"negative stride", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{-1}) })), "stride: negative value -1"},
		{"negative offset", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, -1, []int64{6}, []int64{1}) })), "invalid storage offset"},
		{"overflowing shape", pthWith(t, one(func(p *pk) {
			p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{1 << 62, 1 << 62}, []int64{1 << 62, 1})
		})), "overflows"},
		{"shape beyond storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{7}, []int64{1}) })), "7 elements at offset 0 exceed its storage"},
		{"offset beyond storage", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 4, []int64{3}, []int64{1}) })), "3 elements at offset 4 exceed"},
		{"huge offset", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, math.MaxInt64, []int64{3}, []int64{1}) })), "exceed its storage"},
		{"transposed", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{1, 2}) })), `tensor "w" is not contiguous`},
		{"stride count", pthWith(t, one(func(p *pk) { p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3}) })), "1 strides for 2 dimensions"},
		{"shape not ints", pthWith(t, one(func(p *pk) {
			p.str("w").global("torch._utils", "_rebuild_tensor_v2").op(opMark)
			p.storage("FloatStorage", "0", 6).int(0).op(opMark).str("6").op(opTuple).ints([]int64{1}).op(opNewFalse, opNone, opTuple, opReduce)
		})), "element 0 is a str, not an int"},
		{"rebuild arity", pthWith(t, one(func(p *pk) {
			p.str("w").global("torch._utils", "_rebuild_tensor_v2").op(opMark).int(1).op(opTuple, opReduce)
		})), "_rebuild_tensor_v2 with 1 arguments"},
		{"rebuild without storage", pthWith(t, one(func(p *pk) {
			p.str("w").global("torch._utils", "_rebuild_tensor").op(opMark).int(1).int(0).ints([]int64{1}).ints([]int64{1}).op(opTuple, opReduce)
		})), "storage argument is a int"},
		{"parameter of non-tensor", pthWith(t, one(func(p *pk) {
			p.str("w").global("torch._utils", "_rebuild_parameter").op(opMark).int(1).op(opNewFalse, opNone, opTuple, opReduce)
		})), "wraps a int, not a tensor"},
		{"bad persistent id", pthWith(t, newPickle().str("x").op(opBinPersID, opStop).Bytes()), "persistent id is a str"},
		{"persistent id not storage", pthWith(t, newPickle().op(opMark).str("module").int(1).int(2).int(3).int(4).op(opTuple, opBinPersID, opStop).Bytes()), "not a storage reference"},
		{"persistent id type", pthWith(t, newPickle().op(opMark).str("storage").str("torch.FloatStorage").str("0").str("cpu").int(6).op(opTuple, opBinPersID, opStop).Bytes()), "storage type is a str"},
		{"top level list", pthWith(t, newPickle().op(opEmptyList, opStop).Bytes()), "holds a list, not a state dict"},
		{"list value", pthWith(t, one(func(p *pk) { p.str("w").op(opEmptyList) })), `entry "w" is a list, not a tensor`},
		{"nested dict value", pthWith(t, one(func(p *pk) {
			p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1})
			p.str("x").op(opEmptyDict)
		})), `entry "x" is a dict, not a tensor`},
		{"int key", pthWith(t, one(func(p *pk) { p.int(5).tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}) })), "key 5 is a int, not a string"},
		{"INST", pthWith(t, newPickle().op(opMark).op(opInst).op([]byte("os\nsystem\n")...).op(opStop).Bytes()), "INST is forbidden"},
		{"OBJ", pthWith(t, newPickle().op(opMark).global("collections", "OrderedDict").op(opObj, opStop).Bytes()), "OBJ is forbidden"},
		{"truncated", pthWith(t, good[:len(good)/2]), "pickle is truncated"},
		{"memo miss", pthWith(t, newPickle().op(opBinGet, 9, opStop).Bytes()), "memo has no entry 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ReadPTH(c.data)
			if err == nil {
				t.Fatalf("no error; got %d tensors", len(f.Tensors))
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
	// The good pickle itself loads.
	if _, err := ReadPTH(pthWith(t, good)); err != nil {
		t.Fatal(err)
	}
}

// TestPTHInflateBomb checks that a compressed entry declaring a huge size is
// refused before anything is inflated.
func TestPTHInflateBomb(t *testing.T) {
	const numel = 1 << 38
	p := newPickle().beginDict().str("w").tensor("FloatStorage", "0", numel, 0, []int64{numel}, []int64{1})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("a/data.pkl")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p.endDict())
	// A raw deflate stream of a few zero bytes, claiming 1 TiB.
	var def bytes.Buffer
	fw, _ := flate.NewWriter(&def, flate.BestCompression)
	fw.Write(make([]byte, 1024))
	fw.Close()
	w, err = zw.CreateRaw(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate,
		CompressedSize64: uint64(def.Len()), UncompressedSize64: numel * 4})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(def.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = ReadPTH(buf.Bytes())
	if err == nil || !strings.Contains(err.Error(), "compressed and too large") {
		t.Fatalf("error %v", err)
	}
	// A declared size that the stream does not deliver is an error too.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ = zw.Create("a/data.pkl")
	w.Write(newPickle().beginDict().str("w").tensor("FloatStorage", "0", 1024, 0, []int64{1024}, []int64{1}).endDict())
	w, _ = zw.CreateRaw(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate,
		CompressedSize64: uint64(def.Len()), UncompressedSize64: 4096})
	w.Write(def.Bytes())
	zw.Close()
	_, err = ReadPTH(buf.Bytes())
	if err == nil || !strings.HasPrefix(err.Error(), "weights: pth entry \"a/data/0\"") {
		t.Fatalf("error %v", err)
	}
}

// TestPTHCorruptArchive flips and truncates bytes of a small real-layout
// archive: every outcome must be an error or a valid file, never a panic.
func TestPTHCorruptArchive(t *testing.T) {
	p := newPickle().beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1})
	data := pthWith(t, p.endDict())
	for i := 0; i < len(data); i++ {
		if _, err := ReadPTH(data[:i]); err == nil {
			t.Errorf("prefix of %d bytes: no error", i)
		}
		mut := bytes.Clone(data)
		mut[i] ^= 0x5a
		if f, err := ReadPTH(mut); err == nil {
			for _, g := range f.Tensors {
				if len(g.Data) != g.Len()*g.DType.BlockBytes() {
					t.Errorf("flip at %d: tensor %s has %d bytes", i, g.Name, len(g.Data))
				}
			}
		}
	}
}

// FuzzReadPTH runs ReadPTH on a fuzzed data.pkl inside an archive holding one
// 24-byte storage "0" (prefix "archive/").
func FuzzReadPTH(f *testing.F) {
	p := newPickle().beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1})
	f.Add(p.endDict())
	f.Add(newPickle().global("os", "system").str("x").op(opTuple1, opReduce, opStop).Bytes())
	f.Fuzz(func(t *testing.T, pickle []byte) {
		file, err := ReadPTH(pthWith(t, pickle))
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
	})
}
