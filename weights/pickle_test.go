package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// pk builds pickle bytes by hand, opcode by opcode.
type pk struct{ bytes.Buffer }

func newPickle() *pk {
	p := &pk{}
	p.op(opProto, 2)
	return p
}

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

// str writes a BINUNICODE string.
func (p *pk) str(s string) *pk {
	p.WriteByte(opBinUnicode)
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.Write(n[:])
	p.WriteString(s)
	return p
}

// int writes n with the smallest integer opcode.
func (p *pk) int(n int64) *pk {
	switch {
	case n >= 0 && n < 256:
		p.op(opBinInt1, byte(n))
	case n >= 0 && n < 65536:
		p.op(opBinInt2, byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(int32(n)))
		p.op(opBinInt)
		p.Write(b[:])
	default:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		p.op(opLong1, 8)
		p.Write(b[:])
	}
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

func (p *pk) ints(v []int64) *pk {
	p.op(opMark)
	for _, n := range v {
		p.int(n)
	}
	return p.op(opTuple)
}

// storage writes the persistent load of ('storage', torch.<typ>, key, 'cpu', numel).
func (p *pk) storage(typ, key string, numel int64) *pk {
	p.op(opMark).str("storage").global("torch", typ).str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
	return p
}

// tensor writes torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()).
func (p *pk) tensor(typ, key string, numel, offset int64, shape, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.storage(typ, key, numel).int(offset).ints(shape).ints(stride).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// beginDict starts an OrderedDict and a MARK for its items.
func (p *pk) beginDict() *pk {
	return p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
}

// endDict closes the items with SETITEMS, adds the state-dict BUILD of
// {'_metadata': OrderedDict({”: {'version': 1}})} and STOP.
func (p *pk) endDict() []byte {
	p.op(opSetItems)
	p.op(opEmptyDict).str("_metadata").global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.str("").op(opEmptyDict).str("version").int(1).op(opSetItem, opSetItem)
	p.op(opSetItem, opBuild, opStop)
	return p.Bytes()
}

type zf struct {
	name    string
	data    []byte
	deflate bool
}

// mkzip writes files into a zip archive (stored unless deflate is set).
func mkzip(t testing.TB, files ...zf) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		m := zip.Store
		if f.deflate {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// pthWith wraps a pickle in an archive with prefix "archive/" and one
// 24-byte storage "0" (six float32 elements).
func pthWith(t testing.TB, pickle []byte) []byte {
	return mkzip(t,
		zf{name: "archive/data.pkl", data: pickle},
		zf{name: "archive/data/0", data: seq(24, 1)},
		zf{name: "archive/version", data: []byte("3\n")},
	)
}

func TestUnpickleScalars(t *testing.T) {
	p := newPickle().op(opMark)
	p.int(7).int(300).int(-5).int(1<<40).op(opNone, opNewTrue, opNewFalse)
	p.op(opBinFloat)
	var f [8]byte
	binary.BigEndian.PutUint64(f[:], math.Float64bits(1.5))
	p.Write(f[:])
	p.op(opShortBinUni, 2, 'h', 'i', opShortBinString, 1, 'x', opShortBinBytes, 1, 'y')
	p.op(opLong1, 0, opLong1, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	p.op(opTuple, opStop)
	v, err := unpickle(p.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(pyTuple)
	want := pyTuple{int64(7), int64(300), int64(-5), int64(1 << 40), nil, true, false, 1.5, "hi", "x", pyBytes("y"), int64(0), int64(-1)}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

func TestUnpickleContainers(t *testing.T) {
	// [1, 2, 3] via EMPTY_LIST/APPEND/APPENDS, memoized and fetched twice,
	// a dict via MARK/DICT, MEMOIZE and LONG_BINGET, DUP and POP, FRAME.
	p := newPickle()
	p.op(opFrame, 0, 0, 0, 0, 0, 0, 0, 0)
	p.op(opMark)
	p.op(opEmptyList).int(1).op(opAppend, opMark).int(2).int(3).op(opAppends, opBinPut, 5)
	p.op(opBinGet, 5)
	p.op(opMark).str("k").int(9).op(opDict, opMemoize)
	p.op(opLongBinGet, 1, 0, 0, 0)
	p.op(opDup, opPop)
	p.op(opTuple, opStop)
	v, err := unpickle(p.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(pyTuple)
	if len(got) != 4 {
		t.Fatalf("got %d items", len(got))
	}
	l1, l2 := got[0].(*pyList), got[1].(*pyList)
	if l1 != l2 || len(l1.items) != 3 || l1.items[2] != int64(3) {
		t.Errorf("list: %#v %#v", l1, l2)
	}
	d1, d2 := got[2].(*pyDict), got[3].(*pyDict)
	if d1 != d2 {
		t.Error("memoized dict not shared")
	}
	if v, ok := d1.get("k"); !ok || v != int64(9) {
		t.Errorf("dict: %#v", d1)
	}
}

// TestUnpickleForbidden checks that hostile pickles fail with a specific error
// and that nothing beyond building inert values happens.
func TestUnpickleForbidden(t *testing.T) {
	call := func(p *pk) []byte { return p.str("echo pwned").op(opTuple1, opReduce, opStop).Bytes() }
	stackGlobal := func(module, name string) []byte {
		p := newPickle().str(module).str(name).op(opStackGlobal)
		return call(p)
	}
	deepMark := newPickle()
	for range 10000 {
		deepMark.op(opMark)
	}
	deepStack := newPickle().int(1).op(opBinPut, 0)
	for range pickleMaxStack + 10 {
		deepStack.op(opBinGet, 0)
	}
	manyObjs := newPickle()
	for range pickleMaxContainers + 1 {
		manyObjs.op(opEmptyDict, opPop)
	}
	cases := []struct {
		name   string
		pickle []byte
		want   string
	}{
		{"os.system", call(newPickle().global("os", "system")), "forbidden global os.system"},
		{"builtins.eval", call(newPickle().global("builtins", "eval")), "forbidden global builtins.eval"},
		{"builtins.exec", call(newPickle().global("builtins", "exec")), "forbidden global builtins.exec"},
		{"posix.system", call(newPickle().global("posix", "system")), "forbidden global posix.system"},
		{"nt.system", call(newPickle().global("nt", "system")), "forbidden global nt.system"},
		{"subprocess.Popen", call(newPickle().global("subprocess", "Popen")), "forbidden global subprocess.Popen"},
		{"subprocess.check_output", call(newPickle().global("subprocess", "check_output")), "forbidden global subprocess.check_output"},
		{"__builtin__.getattr", call(newPickle().global("__builtin__", "getattr")), "forbidden global __builtin__.getattr"},
		{"torch.nn.Module", call(newPickle().global("torch.nn", "Module")), "forbidden global torch.nn.Module"},
		{"torch.load", call(newPickle().global("torch", "load")), "forbidden global torch.load"},
		{"torch._utils other", call(newPickle().global("torch._utils", "_rebuild_device_tensor_from_numpy")), "forbidden global torch._utils._rebuild_device_tensor_from_numpy"},
		{"numpy", call(newPickle().global("numpy.core.multiarray", "_reconstruct")), "forbidden global numpy.core.multiarray._reconstruct"},
		{"collections other", call(newPickle().global("collections", "defaultdict")), "forbidden global collections.defaultdict"},
		{"stack os.system", stackGlobal("os", "system"), "forbidden global os.system"},
		{"stack builtins.eval", stackGlobal("builtins", "eval"), "forbidden global builtins.eval"},
		{"stack posix.system", stackGlobal("posix", "system"), "forbidden global posix.system"},
		{"stack subprocess.Popen", stackGlobal("subprocess", "Popen"), "forbidden global subprocess.Popen"},
		{"stack torch.nn.Module", stackGlobal("torch.nn", "Module"), "forbidden global torch.nn.Module"},
		{"stack odd name", stackGlobal("os\nx", "sys tem"), `forbidden global "os\nx"."sys tem"`},
		{"stack global non-string", newPickle().int(1).int(2).op(opStackGlobal, opStop).Bytes(), "STACK_GLOBAL needs two strings"},
		{"INST", newPickle().op(opMark).str("id").op(opInst).op([]byte("os\nsystem\n")...).op(opStop).Bytes(), "INST is forbidden"},
		{"OBJ", newPickle().op(opMark).global("collections", "OrderedDict").op(opObj, opStop).Bytes(), "OBJ is forbidden"},
		{"EXT1", newPickle().op(opExt1, 1, opStop).Bytes(), "EXT1 is forbidden"},
		{"NEWOBJ_EX", newPickle().op(opNewObjEx, opStop).Bytes(), "NEWOBJ_EX is forbidden"},
		{"NEWOBJ other", newPickle().global("torch._utils", "_rebuild_tensor_v2").op(opEmptyTuple, opNewObj, opStop).Bytes(), "NEWOBJ of global torch._utils._rebuild_tensor_v2"},
		{"protocol 0 INT", newPickle().op('I', '1', '\n', opStop).Bytes(), "opcode 'I' (0x49) is not supported"},
		{"PERSID text", newPickle().op('P', '1', '\n', opStop).Bytes(), "opcode 'P' (0x50) is not supported"},
		{"protocol 9", []byte{opProto, 9, opNone, opStop}, "protocol 9 not supported"},
		{"reduce non-global", newPickle().int(1).op(opEmptyTuple, opReduce, opStop).Bytes(), "REDUCE calls a int"},
		{"call storage class", call(newPickle().global("torch", "FloatStorage")), "not callable"},
		{"OrderedDict with args", call(newPickle().global("collections", "OrderedDict")), "OrderedDict with constructor arguments"},
		{"deep MARK nesting", deepMark.Bytes(), "MARKs nest too deeply"},
		{"deep stack", deepStack.Bytes(), "stack exceeds its size limit"},
		{"many objects", manyObjs.Bytes(), "builds too many objects"},
		{"memo get missing", newPickle().int(1).op(opBinPut, 3, opBinGet, 7, opStop).Bytes(), "memo has no entry 7"},
		{"long memo get missing", newPickle().op(opLongBinGet, 1, 2, 3, 4, opStop).Bytes(), "memo has no entry 67305985"},
		{"memo put empty stack", newPickle().op(opBinPut, 0, opStop).Bytes(), "stack underflow"},
		{"pop empty", newPickle().op(opStop).Bytes(), "stack underflow"},
		{"pop below mark", newPickle().int(1).op(opMark, opTuple1, opStop).Bytes(), "stack underflow"},
		{"tuple without mark", newPickle().int(1).op(opTuple, opStop).Bytes(), "needs a MARK"},
		{"setitem on list", newPickle().op(opEmptyList).int(1).int(2).op(opSetItem, opStop).Bytes(), "SETITEM on list"},
		{"append to dict", newPickle().op(opEmptyDict).int(1).op(opAppend, opStop).Bytes(), "APPEND to dict"},
		{"odd setitems", newPickle().op(opEmptyDict, opMark).int(1).op(opSetItems, opStop).Bytes(), "odd number"},
		{"unhashable key", newPickle().op(opEmptyDict, opEmptyList).int(1).op(opSetItem, opStop).Bytes(), "dict key of type list"},
		{"build on list", newPickle().op(opEmptyList, opEmptyDict, opBuild, opStop).Bytes(), "BUILD of list"},
		{"huge long", newPickle().op(opLong1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, opStop).Bytes(), "does not fit in 64 bits"},
		{"huge string length", newPickle().op(opBinUnicode, 0xff, 0xff, 0xff, 0x7f, 'a', opStop).Bytes(), "truncated"},
		{"huge unicode8 length", newPickle().op(opBinUnicode8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a').Bytes(), "truncated"},
		{"negative BINSTRING", newPickle().op(opBinString, 0xff, 0xff, 0xff, 0xff, opStop).Bytes(), "negative length"},
		{"negative LONG4", newPickle().op(opLong4, 0xff, 0xff, 0xff, 0xff, opStop).Bytes(), "truncated"},
		{"global too long", newPickle().op(opGlobal).op(bytes.Repeat([]byte("a"), 5000)...).op('\n').Bytes(), "GLOBAL argument too long"},
		{"no stop", newPickle().int(1).Bytes(), "truncated"},
		{"empty", nil, "truncated"},
		{"persistent id without loader", newPickle().str("x").op(opBinPersID, opStop).Bytes(), "no loader"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := unpickle(c.pickle, nil)
			if err == nil {
				t.Fatalf("no error; got %#v", v)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestUnpickleDeepNesting checks that deeply nested values need no recursion.
func TestUnpickleDeepNesting(t *testing.T) {
	p := newPickle().op(opEmptyTuple)
	for range 100000 {
		p.op(opTuple1)
	}
	v, err := unpickle(p.op(opStop).Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stateDict(v); err == nil || !strings.Contains(err.Error(), "holds a tuple, not a state dict") {
		t.Fatalf("stateDict: %v", err)
	}
}

// TestUnpickleTruncations feeds every prefix of a valid state-dict pickle and
// of the same pickle with each byte flipped: none may panic.
func TestUnpickleTruncations(t *testing.T) {
	p := newPickle().beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1})
	pickle := p.endDict()
	load := func(pid any) (any, error) {
		return &pyStorage{typ: pyGlobal{kind: globStorage, name: "FloatStorage", dtype: F32, supported: true}, key: "0", numel: 6, data: make([]byte, 24)}, nil
	}
	if _, err := unpickle(pickle, load); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pickle); i++ {
		if _, err := unpickle(pickle[:i], load); err == nil {
			t.Errorf("prefix of %d bytes: no error", i)
		}
		mut := bytes.Clone(pickle)
		mut[i] ^= 0xff
		unpickle(mut, load) // must not panic
	}
}
