package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// This file implements a restricted unpickler for the data.pkl record of
// PyTorch zip checkpoints. It interprets the pickle opcodes a state dict needs
// and builds inert Go values only: it never imports or calls anything. Globals
// are resolved against a fixed allow-list (collections.OrderedDict, the torch
// tensor/parameter rebuild functions and the torch storage classes); any other
// global is an error. The work done is bounded by the pickle's size and by
// explicit caps on the stack, the mark stack and the memo.

// Limits on the unpickler's work.
const (
	pickleMaxOps        = 1 << 23 // opcodes executed
	pickleMaxStack      = 1 << 20 // values on the stack
	pickleMaxMarkDepth  = 256     // nested MARKs
	pickleMaxMemo       = 1 << 21 // memo entries
	pickleMaxContainers = 1 << 21 // tuples, lists, dicts and tensors built
)

// pyTuple is a Python tuple.
type pyTuple []any

// pyBytes is a Python bytes object (or a protocol 2 str).
type pyBytes string

// pyList is a Python list (mutable, so shared by reference).
type pyList struct{ items []any }

// pyDict is a Python dict or OrderedDict, in insertion order. Keys are Go
// scalars (string, pyBytes, int64, float64, bool or nil).
type pyDict struct {
	keys []any
	vals []any
	idx  map[any]int
}

func newDict() *pyDict { return &pyDict{} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, pyBytes, int64, float64, bool, nil:
	default:
		return fmt.Errorf("weights: pickle dict key of type %s is not supported", pyTypeName(k))
	}
	if i, ok := d.idx[k]; ok {
		d.vals[i] = v
		return nil
	}
	if d.idx == nil {
		d.idx = make(map[any]int)
	}
	d.idx[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.idx[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// globalKind identifies an allow-listed global.
type globalKind uint8

const (
	globOrderedDict globalKind = iota + 1
	globRebuildTensorV2
	globRebuildTensor
	globRebuildParameter
	globRebuildParameterWithState
	globStorage
)

// pyGlobal is a resolved, allow-listed global reference.
type pyGlobal struct {
	module, name string
	kind         globalKind
	// For storage classes: the element type and whether it is supported.
	dtype     DType
	supported bool
}

func (g pyGlobal) String() string { return g.module + "." + g.name }

// torchStorages lists torch's typed storage classes; the value is the element
// type for supported ones, and its description is used in errors otherwise.
var torchStorages = map[string]struct {
	dtype     DType
	supported bool
	desc      string
}{
	"FloatStorage":         {F32, true, "float32"},
	"HalfStorage":          {F16, true, "float16"},
	"BFloat16Storage":      {BF16, true, "bfloat16"},
	"DoubleStorage":        {0, false, "float64"},
	"LongStorage":          {0, false, "int64"},
	"IntStorage":           {0, false, "int32"},
	"ShortStorage":         {0, false, "int16"},
	"CharStorage":          {0, false, "int8"},
	"ByteStorage":          {0, false, "uint8"},
	"BoolStorage":          {0, false, "bool"},
	"ComplexFloatStorage":  {0, false, "complex64"},
	"ComplexDoubleStorage": {0, false, "complex128"},
	"QInt8Storage":         {0, false, "qint8"},
	"QUInt8Storage":        {0, false, "quint8"},
	"QInt32Storage":        {0, false, "qint32"},
	"QUInt4x2Storage":      {0, false, "quint4x2"},
	"QUInt2x4Storage":      {0, false, "quint2x4"},
	"UntypedStorage":       {0, false, "untyped bytes"},
}

// resolveGlobal maps module.name to an allow-listed global or fails without
// doing anything else.
func resolveGlobal(module, name string) (pyGlobal, error) {
	g := pyGlobal{module: module, name: name}
	switch module {
	case "collections":
		if name == "OrderedDict" {
			g.kind = globOrderedDict
			return g, nil
		}
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2":
			g.kind = globRebuildTensorV2
			return g, nil
		case "_rebuild_tensor":
			g.kind = globRebuildTensor
			return g, nil
		case "_rebuild_parameter":
			g.kind = globRebuildParameter
			return g, nil
		case "_rebuild_parameter_with_state":
			g.kind = globRebuildParameterWithState
			return g, nil
		}
	case "torch":
		if s, ok := torchStorages[name]; ok {
			g.kind = globStorage
			g.dtype, g.supported = s.dtype, s.supported
			return g, nil
		}
	}
	return g, fmt.Errorf("weights: pickle references forbidden global %s.%s", printable(module), printable(name))
}

// printable quotes s when it holds anything but plain identifier characters,
// so hostile names cannot garble error messages.
func printable(s string) string {
	for _, r := range s {
		if !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Sprintf("%q", s)
		}
	}
	if len(s) > 200 {
		return fmt.Sprintf("%q...", s[:200])
	}
	return s
}

// pyStorage is a storage returned by the persistent loader.
type pyStorage struct {
	typ   pyGlobal // storage class
	key   string   // storage key: the zip entry <prefix>/data/<key>
	numel int64    // elements of typ's element type
	data  []byte   // filled in by the loader; nil for unsupported types
}

// pyTensor is a rebuilt tensor (a view on a storage).
type pyTensor struct {
	storage *pyStorage
	offset  int64
	shape   []int64
	stride  []int64
}

// pyTypeName names a value's Python type for error messages.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return "global " + v.String()
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// unpickler is the restricted pickle machine.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	ops   int
	objs  int // containers built
	// persistentLoad resolves a BINPERSID id (a tuple) to a value.
	persistentLoad func(pid any) (any, error)
}

var errPickleTruncated = errors.New("weights: pickle is truncated")

// unpickle runs the restricted unpickler over data and returns the object
// STOP yields.
func unpickle(data []byte, persistentLoad func(pid any) (any, error)) (any, error) {
	u := &unpickler{data: data, memo: make(map[uint32]any), persistentLoad: persistentLoad}
	return u.run()
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errPickleTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readByte() (byte, error) {
	if u.pos >= len(u.data) {
		return 0, errPickleTruncated
	}
	c := u.data[u.pos]
	u.pos++
	return c, nil
}

func (u *unpickler) readU16() (uint32, error) {
	b, err := u.read(2)
	if err != nil {
		return 0, err
	}
	return uint32(binary.LittleEndian.Uint16(b)), nil
}

func (u *unpickler) readU32() (uint32, error) {
	b, err := u.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (u *unpickler) readU64() (uint64, error) {
	b, err := u.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readLine reads a newline-terminated text argument (GLOBAL), bounded.
func (u *unpickler) readLine() (string, error) {
	const maxLine = 1024
	end := len(u.data)
	if end-u.pos > maxLine {
		end = u.pos + maxLine
	}
	for i := u.pos; i < end; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	if end == len(u.data) {
		return "", errPickleTruncated
	}
	return "", errors.New("weights: pickle GLOBAL argument too long")
}

// readSized reads a length-prefixed string whose length is n (already read).
func (u *unpickler) readSized(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, errPickleTruncated
	}
	return u.read(int(n))
}

// built accounts for one more container and fails past the limit.
func (u *unpickler) built() error {
	u.objs++
	if u.objs > pickleMaxContainers {
		return errors.New("weights: pickle builds too many objects")
	}
	return nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= pickleMaxStack {
		return errors.New("weights: pickle stack exceeds its size limit")
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("weights: pickle stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("weights: pickle stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops the values above the most recent MARK and the mark itself.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("weights: pickle opcode needs a MARK but none is set")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := make([]any, len(u.stack)-m)
	copy(items, u.stack[m:])
	clear(u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(i uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := u.memo[i]; !ok && len(u.memo) >= pickleMaxMemo {
		return errors.New("weights: pickle memo exceeds its size limit")
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("weights: pickle memo has no entry %d", i)
	}
	return u.push(v)
}

// Pickle opcodes.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opProto          = 0x80
	opNewObj         = 0x81
	opExt1           = 0x82
	opExt2           = 0x83
	opExt4           = 0x84
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

func (u *unpickler) run() (any, error) {
	for {
		u.ops++
		if u.ops > pickleMaxOps {
			return nil, errors.New("weights: pickle exceeds the opcode limit")
		}
		at := u.pos
		op, err := u.readByte()
		if err != nil {
			return nil, err
		}
		if op == opStop {
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := u.step(op); err != nil {
			if err == errPickleTruncated {
				return nil, err
			}
			return nil, fmt.Errorf("%w (pickle offset %d)", err, at)
		}
	}
}

// step executes one opcode (other than STOP).
func (u *unpickler) step(op byte) error {
	switch op {
	case opTuple1, opTuple2, opTuple3, opTuple, opEmptyList, opList, opEmptyDict, opDict,
		opReduce, opNewObj, opBinPersID:
		if err := u.built(); err != nil {
			return err
		}
	}
	switch op {
	case opProto:
		v, err := u.readByte()
		if err != nil {
			return err
		}
		if v < 2 || v > 5 {
			return fmt.Errorf("weights: pickle protocol %d not supported", v)
		}
	case opFrame:
		if _, err := u.readU64(); err != nil {
			return err
		}
	case opMark:
		if len(u.marks) >= pickleMaxMarkDepth {
			return errors.New("weights: pickle MARKs nest too deeply")
		}
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.stack) > 0 && (len(u.marks) == 0 || len(u.stack) > u.marks[len(u.marks)-1]) {
			_, err := u.pop()
			return err
		}
		// POP with nothing above the mark discards the mark (as CPython does).
		_, err := u.popMark()
		return err
	case opPopMark:
		_, err := u.popMark()
		return err
	case opDup:
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.push(v)
	case opNone:
		return u.push(nil)
	case opNewTrue:
		return u.push(true)
	case opNewFalse:
		return u.push(false)
	case opBinInt:
		v, err := u.readU32()
		if err != nil {
			return err
		}
		return u.push(int64(int32(v)))
	case opBinInt1:
		v, err := u.readByte()
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case opBinInt2:
		v, err := u.readU16()
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case opLong1, opLong4:
		var n uint64
		if op == opLong1 {
			b, err := u.readByte()
			if err != nil {
				return err
			}
			n = uint64(b)
		} else {
			v, err := u.readU32()
			if err != nil {
				return err
			}
			n = uint64(int32(v)) // negative lengths become huge and fail below
		}
		b, err := u.readSized(n)
		if err != nil {
			return err
		}
		v, err := decodeLong(b)
		if err != nil {
			return err
		}
		return u.push(v)
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		return u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opShortBinUni, opBinUnicode, opBinUnicode8, opShortBinString, opBinString,
		opShortBinBytes, opBinBytes, opBinBytes8:
		var n uint64
		switch op {
		case opShortBinUni, opShortBinString, opShortBinBytes:
			b, err := u.readByte()
			if err != nil {
				return err
			}
			n = uint64(b)
		case opBinUnicode, opBinBytes:
			v, err := u.readU32()
			if err != nil {
				return err
			}
			n = uint64(v)
		case opBinString:
			v, err := u.readU32()
			if err != nil {
				return err
			}
			if int32(v) < 0 {
				return errors.New("weights: pickle BINSTRING has a negative length")
			}
			n = uint64(v)
		default:
			v, err := u.readU64()
			if err != nil {
				return err
			}
			n = v
		}
		b, err := u.readSized(n)
		if err != nil {
			return err
		}
		switch op {
		case opShortBinBytes, opBinBytes, opBinBytes8:
			return u.push(pyBytes(b))
		}
		// Python 2 str (BINSTRING) is decoded as text, like torch.load does.
		return u.push(string(b))
	case opEmptyTuple:
		return u.push(pyTuple{})
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		t := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			v, err := u.pop()
			if err != nil {
				return err
			}
			t[i] = v
		}
		return u.push(t)
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(pyTuple(items))
	case opEmptyList:
		return u.push(&pyList{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&pyList{items: items})
	case opEmptyDict:
		return u.push(newDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return err
		}
		return u.push(d)
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return err
		}
		return u.appendTo([]any{v})
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.appendTo(items)
	case opSetItem:
		v, err := u.pop()
		if err != nil {
			return err
		}
		k, err := u.pop()
		if err != nil {
			return err
		}
		return u.setItemsOnTop([]any{k, v})
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.setItemsOnTop(items)
	case opBinPut:
		i, err := u.readByte()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(i))
	case opLongBinPut:
		i, err := u.readU32()
		if err != nil {
			return err
		}
		return u.memoPut(i)
	case opMemoize:
		return u.memoPut(uint32(len(u.memo)))
	case opBinGet:
		i, err := u.readByte()
		if err != nil {
			return err
		}
		return u.memoGet(uint32(i))
	case opLongBinGet:
		i, err := u.readU32()
		if err != nil {
			return err
		}
		return u.memoGet(i)
	case opGlobal:
		module, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return err
		}
		return u.push(g)
	case opStackGlobal:
		nv, err := u.pop()
		if err != nil {
			return err
		}
		mv, err := u.pop()
		if err != nil {
			return err
		}
		module, ok1 := mv.(string)
		name, ok2 := nv.(string)
		if !ok1 || !ok2 {
			return errors.New("weights: pickle STACK_GLOBAL needs two strings")
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return err
		}
		return u.push(g)
	case opReduce:
		args, err := u.pop()
		if err != nil {
			return err
		}
		fn, err := u.pop()
		if err != nil {
			return err
		}
		v, err := reduce(fn, args)
		if err != nil {
			return err
		}
		return u.push(v)
	case opNewObj:
		args, err := u.pop()
		if err != nil {
			return err
		}
		cls, err := u.pop()
		if err != nil {
			return err
		}
		g, ok := cls.(pyGlobal)
		t, ok2 := args.(pyTuple)
		if !ok || !ok2 || g.kind != globOrderedDict || len(t) != 0 {
			return fmt.Errorf("weights: pickle NEWOBJ of %s is not supported", pyTypeName(cls))
		}
		return u.push(newDict())
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		// A state dict's OrderedDict carries {'_metadata': ...} as its state;
		// it is informational and ignored, as is inert tensor state.
		switch obj.(type) {
		case *pyDict, *pyTensor:
			switch state.(type) {
			case *pyDict, pyTuple, nil:
				return nil
			}
		}
		return fmt.Errorf("weights: pickle BUILD of %s with %s state is not supported", pyTypeName(obj), pyTypeName(state))
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return err
		}
		if u.persistentLoad == nil {
			return errors.New("weights: pickle has a persistent id but no loader")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return err
		}
		return u.push(v)
	case opInst, opObj, opExt1, opExt2, opExt4, opNewObjEx:
		return fmt.Errorf("weights: pickle opcode %s is forbidden (it constructs arbitrary objects)", opName(op))
	default:
		return fmt.Errorf("weights: pickle opcode %s is not supported", opName(op))
	}
	return nil
}

func opName(op byte) string {
	switch op {
	case opInst:
		return "INST"
	case opObj:
		return "OBJ"
	case opExt1:
		return "EXT1"
	case opExt2:
		return "EXT2"
	case opExt4:
		return "EXT4"
	case opNewObjEx:
		return "NEWOBJ_EX"
	}
	if op >= 0x20 && op < 0x7f {
		return fmt.Sprintf("%q (0x%02x)", rune(op), op)
	}
	return fmt.Sprintf("0x%02x", op)
}

// decodeLong decodes a little-endian two's complement integer (LONG1/LONG4).
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		// Accept redundant sign-extension bytes only.
		ext := byte(0)
		if b[7]&0x80 != 0 {
			ext = 0xff
		}
		for _, c := range b[8:] {
			if c != ext {
				return 0, errors.New("weights: pickle integer does not fit in 64 bits")
			}
		}
		b = b[:8]
	}
	var buf [8]byte
	copy(buf[:], b)
	if b[len(b)-1]&0x80 != 0 {
		for i := len(b); i < 8; i++ {
			buf[i] = 0xff
		}
	}
	return int64(binary.LittleEndian.Uint64(buf[:])), nil
}

func (u *unpickler) appendTo(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("weights: pickle APPEND to %s", pyTypeName(v))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItemsOnTop(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("weights: pickle SETITEM on %s", pyTypeName(v))
	}
	return setItems(d, items)
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("weights: pickle SETITEMS with an odd number of values")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// reduce applies an allow-listed callable to its arguments, building inert values.
func reduce(fn, argv any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("weights: pickle REDUCE calls a %s", pyTypeName(fn))
	}
	args, ok := argv.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("weights: pickle REDUCE of %s with %s arguments", g, pyTypeName(argv))
	}
	switch g.kind {
	case globOrderedDict:
		if len(args) != 0 {
			return nil, errors.New("weights: pickle OrderedDict with constructor arguments is not supported")
		}
		return newDict(), nil
	case globRebuildTensorV2, globRebuildTensor:
		// (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
		if g.kind == globRebuildTensor && len(args) != 4 || g.kind == globRebuildTensorV2 && (len(args) < 6 || len(args) > 7) {
			return nil, fmt.Errorf("weights: pickle %s with %d arguments", g, len(args))
		}
		st, ok := args[0].(*pyStorage)
		if !ok {
			return nil, fmt.Errorf("weights: pickle %s: storage argument is a %s", g, pyTypeName(args[0]))
		}
		off, ok := args[1].(int64)
		if !ok || off < 0 {
			return nil, fmt.Errorf("weights: pickle %s: invalid storage offset", g)
		}
		shape, err := intTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("weights: pickle %s: size: %v", g, err)
		}
		stride, err := intTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("weights: pickle %s: stride: %v", g, err)
		}
		if len(stride) != len(shape) {
			return nil, fmt.Errorf("weights: pickle %s: %d strides for %d dimensions", g, len(stride), len(shape))
		}
		return &pyTensor{storage: st, offset: off, shape: shape, stride: stride}, nil
	case globRebuildParameter, globRebuildParameterWithState:
		// (data, requires_grad, backward_hooks[, state])
		if g.kind == globRebuildParameter && len(args) != 3 || g.kind == globRebuildParameterWithState && len(args) != 4 {
			return nil, fmt.Errorf("weights: pickle %s with %d arguments", g, len(args))
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("weights: pickle %s wraps a %s, not a tensor", g, pyTypeName(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("weights: pickle calls %s, which is not callable here", g)
}

// intTuple converts a tuple of ints (a tensor size or stride) to []int64,
// rejecting negative values.
func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, not a tuple", pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, e := range t {
		n, ok := e.(int64)
		if !ok {
			return nil, fmt.Errorf("element %d is a %s, not an int", i, pyTypeName(e))
		}
		if n < 0 {
			return nil, fmt.Errorf("negative value %d", n)
		}
		out[i] = n
	}
	return out, nil
}

// mulCheck multiplies non-negative a and b, reporting overflow past max.
func mulCheck(a, b, max int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > uint64(max) {
		return 0, false
	}
	return int64(lo), true
}

// storageDesc describes a storage class for error messages.
func storageDesc(g pyGlobal) string {
	if s, ok := torchStorages[g.name]; ok {
		return fmt.Sprintf("torch.%s (%s)", g.name, s.desc)
	}
	return g.String()
}

// isPlainScalar reports whether v is a Python scalar or string.
func isPlainScalar(v any) bool {
	switch v.(type) {
	case nil, string, pyBytes, int64, float64, bool:
		return true
	}
	return false
}

// keyString formats a dict key for messages.
func keyString(k any) string {
	if s, ok := k.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSpace(fmt.Sprintf("%v", k))
}
