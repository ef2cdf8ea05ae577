package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// GGMLMagic is the first little-endian u32 of an rwkv.cpp model file
// (bytes "fmgg" on disk).
const GGMLMagic = 0x67676d66

// rwkv.cpp file versions. Version 101 introduced the current ggml block
// layouts; quantized tensors in version 100 files use incompatible legacy
// layouts and are rejected.
const (
	GGMLVersion100 = 100
	GGMLVersion101 = 101
)

const (
	ggmlHeaderSize       = 24
	ggmlTensorHeaderBase = 12 // dim_count, key_len, data_type
	ggmlMaxDims          = 3
	// ggmlMaxKeyLen bounds tensor names; real names are well under 100 bytes.
	ggmlMaxKeyLen = 4096
)

// ggmlCodes maps DType to rwkv.cpp/ggml type codes; BF16 has none.
var ggmlCodes = [...]struct {
	dt   DType
	code uint32
}{
	{F32, 0}, {F16, 1}, {Q4_0, 2}, {Q4_1, 3}, {Q5_0, 7}, {Q5_1, 8}, {Q8_0, 9},
}

// GGMLTypeCode returns the rwkv.cpp (ggml) data_type code of dt: 0 F32,
// 1 F16, 2 Q4_0, 3 Q4_1, 7 Q5_0, 8 Q5_1, 9 Q8_0. It reports false for types
// the format cannot store (BF16).
func GGMLTypeCode(dt DType) (uint32, bool) {
	for _, c := range ggmlCodes {
		if c.dt == dt {
			return c.code, true
		}
	}
	return 0, false
}

// GGMLDType is the inverse of GGMLTypeCode. Codes 4, 5 and 6 (the removed
// Q4_1_O, Q4_2 and Q4_3 formats) and unknown codes give an error.
func GGMLDType(code uint32) (DType, error) {
	dt, msg := ggmlDType(code)
	if msg != "" {
		return 0, errors.New("weights: " + msg)
	}
	return dt, nil
}

// ggmlDType maps a type code, or describes why it cannot.
func ggmlDType(code uint32) (DType, string) {
	for _, c := range ggmlCodes {
		if c.code == code {
			return c.dt, ""
		}
	}
	if code >= 4 && code <= 6 {
		legacy := [...]string{"Q4_1_O", "Q4_2", "Q4_3"}[code-4]
		return 0, fmt.Sprintf("rwkv.cpp data type %d (%s) was removed from rwkv.cpp and is not supported; re-convert the model", code, legacy)
	}
	return 0, fmt.Sprintf("unknown rwkv.cpp data type %d", code)
}

// GGMLHeader is the fixed header of an rwkv.cpp model file. DataType is the
// model-level ("main") type; every tensor also carries its own type.
type GGMLHeader struct {
	Version, NVocab, NEmbed, NLayer uint32
	DataType                        DType
}

// GGMLHeader returns the rwkv.cpp header recorded in f.Header by ReadGGML.
func (f *File) GGMLHeader() (GGMLHeader, error) {
	if f == nil || f.Format != FormatGGML {
		return GGMLHeader{}, fmt.Errorf("weights: not an rwkv.cpp file")
	}
	var raw [5]uint32
	for i, k := range [...]string{"version", "n_vocab", "n_embed", "n_layer", "data_type"} {
		v, ok := f.Header[k]
		if !ok || v < 0 || uint64(v) > math.MaxUint32 {
			return GGMLHeader{}, fmt.Errorf("weights: rwkv.cpp header field %q missing or out of range", k)
		}
		raw[i] = uint32(v)
	}
	dt, err := GGMLDType(raw[4])
	if err != nil {
		return GGMLHeader{}, err
	}
	return GGMLHeader{Version: raw[0], NVocab: raw[1], NEmbed: raw[2], NLayer: raw[3], DataType: dt}, nil
}

// ggmlDataSize validates a tensor's dimensions (ggml order, innermost first)
// and type, and returns its element count and encoded byte size. limit bounds
// the acceptable byte size (use math.MaxInt for no bound beyond overflow).
func ggmlDataSize(ne []uint64, dt DType, limit uint64) (n, size uint64, err error) {
	n = 1
	for _, d := range ne {
		if d == 0 {
			return 0, 0, fmt.Errorf("shape %s has a zero dimension", ggmlShapeString(ne))
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt {
			return 0, 0, fmt.Errorf("element count of shape %s overflows", ggmlShapeString(ne))
		}
		n = lo
	}
	bs := uint64(dt.BlockSize())
	if ne[0]%bs != 0 {
		return 0, 0, fmt.Errorf("innermost dimension %d is not a multiple of the %s block size %d", ne[0], dt, bs)
	}
	hi, lo := bits.Mul64(n/bs, uint64(dt.BlockBytes()))
	if hi != 0 || lo > math.MaxInt {
		return 0, 0, fmt.Errorf("data size of %s %s overflows", dt, ggmlShapeString(ne))
	}
	if lo > limit {
		return n, lo, errTooBig
	}
	return n, lo, nil
}

// ggmlShapeString formats ggml-order dimensions as a PyTorch-order shape.
func ggmlShapeString(ne []uint64) string {
	t := Tensor{Shape: reversed(ne)}
	return t.ShapeString()
}

// errTooBig is an internal marker: the size is valid but exceeds the limit.
var errTooBig = errors.New("too big")

// ReadGGML parses a file in rwkv.cpp's format: a 24-byte header (magic,
// version, n_vocab, n_embed, n_layer, data_type) followed by tensors until
// the end of data. Tensor shapes are returned in PyTorch order (the file
// stores them reversed) and each tensor keeps its own data type. Tensor data
// aliases data; nothing is copied. File.Header receives "version", "n_vocab",
// "n_embed", "n_layer" and "data_type" (the raw type code).
//
// Malformed input gives an error describing the problem and where it is; it
// never panics.
func ReadGGML(data []byte) (*File, error) {
	if len(data) < ggmlHeaderSize {
		return nil, fmt.Errorf("weights: rwkv.cpp header truncated: need %d bytes, have %d", ggmlHeaderSize, len(data))
	}
	le := binary.LittleEndian
	if m := le.Uint32(data); m != GGMLMagic {
		return nil, fmt.Errorf("weights: not an rwkv.cpp file: magic %#08x, want %#08x", m, uint32(GGMLMagic))
	}
	version := le.Uint32(data[4:])
	if version != GGMLVersion100 && version != GGMLVersion101 {
		return nil, fmt.Errorf("weights: unsupported rwkv.cpp file version %d (want 100 or 101)", version)
	}
	nVocab, nEmbed, nLayer := le.Uint32(data[8:]), le.Uint32(data[12:]), le.Uint32(data[16:])
	mainCode := le.Uint32(data[20:])
	mainType, msg := ggmlDType(mainCode)
	if msg != "" {
		return nil, fmt.Errorf("weights: rwkv.cpp header: %s", msg)
	}
	if mainType.Quantized() && version != GGMLVersion101 {
		return nil, fmt.Errorf("weights: rwkv.cpp file version %d with quantized type %s uses a legacy block layout; re-quantize with a current rwkv.cpp (version 101)", version, mainType)
	}
	f := &File{
		Format: FormatGGML,
		Header: map[string]int{
			"version":   int(version),
			"n_vocab":   int(nVocab),
			"n_embed":   int(nEmbed),
			"n_layer":   int(nLayer),
			"data_type": int(mainCode),
		},
		index: make(map[string]*Tensor),
	}
	off := ggmlHeaderSize
	for idx := 0; off < len(data); idx++ {
		t, next, err := readGGMLTensor(data, off, idx, version)
		if err != nil {
			if idx > 0 {
				return nil, fmt.Errorf("%w (previous tensor %q)", err, f.Tensors[idx-1].Name)
			}
			return nil, err
		}
		if _, dup := f.index[t.Name]; dup {
			return nil, fmt.Errorf("weights: rwkv.cpp tensor #%d at offset %d: duplicate tensor name %q", idx, off, t.Name)
		}
		f.index[t.Name] = t
		f.Tensors = append(f.Tensors, t)
		off = next
	}
	if len(f.Tensors) == 0 {
		return nil, fmt.Errorf("weights: rwkv.cpp file has a header but no tensors")
	}
	return f, nil
}

// readGGMLTensor decodes the tensor record starting at off.
func readGGMLTensor(data []byte, off, idx int, version uint32) (*Tensor, int, error) {
	le := binary.LittleEndian
	where := fmt.Sprintf("weights: rwkv.cpp tensor #%d at offset %d", idx, off)
	avail := len(data) - off
	if avail < ggmlTensorHeaderBase {
		return nil, 0, fmt.Errorf("%s: tensor header truncated: need %d bytes, %d available", where, ggmlTensorHeaderBase, avail)
	}
	nDims := le.Uint32(data[off:])
	keyLen := le.Uint32(data[off+4:])
	code := le.Uint32(data[off+8:])
	if nDims < 1 || nDims > ggmlMaxDims {
		return nil, 0, fmt.Errorf("%s: dimension count %d out of range 1..%d", where, nDims, ggmlMaxDims)
	}
	if keyLen == 0 {
		return nil, 0, fmt.Errorf("%s: empty tensor name", where)
	}
	if keyLen > ggmlMaxKeyLen {
		return nil, 0, fmt.Errorf("%s: tensor name length %d is implausible (limit %d)", where, keyLen, ggmlMaxKeyLen)
	}
	dt, msg := ggmlDType(code)
	if msg != "" {
		return nil, 0, fmt.Errorf("%s: %s", where, msg)
	}
	hdr := ggmlTensorHeaderBase + 4*int(nDims) + int(keyLen)
	if avail < hdr {
		return nil, 0, fmt.Errorf("%s: tensor header truncated: need %d bytes (with %d dimensions and a %d-byte name), %d available", where, hdr, nDims, keyLen, avail)
	}
	p := off + ggmlTensorHeaderBase
	ne := make([]uint64, nDims)
	for i := range ne {
		ne[i] = uint64(le.Uint32(data[p:]))
		p += 4
	}
	name := string(data[p : p+int(keyLen)])
	p += int(keyLen)
	where = fmt.Sprintf("weights: rwkv.cpp tensor #%d %q", idx, name)
	if dt.Quantized() && version != GGMLVersion101 {
		return nil, 0, fmt.Errorf("%s: quantized type %s in a version %d file uses a legacy block layout; re-quantize with a current rwkv.cpp (version 101)", where, dt, version)
	}
	rest := uint64(len(data) - p)
	_, size, err := ggmlDataSize(ne, dt, rest)
	if err == errTooBig {
		return nil, 0, fmt.Errorf("%s: data truncated: %s %s needs %d bytes at offset %d, %d available", where, dt, ggmlShapeString(ne), size, p, rest)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", where, err)
	}
	end := p + int(size)
	t := &Tensor{
		Name:  name,
		DType: dt,
		Shape: reversed(ne),
		Data:  data[p:end:end],
	}
	return t, end, nil
}

// reversed returns ne in the opposite order as ints (ggml order <-> PyTorch order).
func reversed(ne []uint64) []int {
	s := make([]int, len(ne))
	for i, d := range ne {
		s[len(ne)-1-i] = int(d)
	}
	return s
}

// WriteGGML writes an rwkv.cpp model file: h, then each tensor in order with
// its own data type and its shape reversed into ggml order. Tensors must have
// 1 to 3 dimensions, distinct non-empty names and Data of exactly the encoded
// size of their shape; quantized tensors require h.Version 101. Everything is
// validated before the first byte is written. Reading a file with ReadGGML and
// writing its header and tensors back reproduces it byte for byte.
func WriteGGML(w io.Writer, h GGMLHeader, tensors []*Tensor) error {
	if h.Version != GGMLVersion100 && h.Version != GGMLVersion101 {
		return fmt.Errorf("weights: unsupported rwkv.cpp file version %d (want 100 or 101)", h.Version)
	}
	mainCode, ok := GGMLTypeCode(h.DataType)
	if !ok {
		return fmt.Errorf("weights: rwkv.cpp files cannot store data type %s", h.DataType)
	}
	if h.DataType.Quantized() && h.Version != GGMLVersion101 {
		return fmt.Errorf("weights: quantized data type %s requires rwkv.cpp file version 101, not %d", h.DataType, h.Version)
	}
	if len(tensors) == 0 {
		return fmt.Errorf("weights: no tensors to write")
	}
	codes := make([]uint32, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t == nil {
			return fmt.Errorf("weights: tensor #%d is nil", i)
		}
		where := fmt.Sprintf("weights: tensor #%d %q", i, t.Name)
		if t.Name == "" {
			return fmt.Errorf("%s: empty name", where)
		}
		if len(t.Name) > ggmlMaxKeyLen {
			return fmt.Errorf("%s: name longer than %d bytes", where, ggmlMaxKeyLen)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: duplicate name", where)
		}
		seen[t.Name] = true
		code, ok := GGMLTypeCode(t.DType)
		if !ok {
			return fmt.Errorf("%s: rwkv.cpp files cannot store data type %s", where, t.DType)
		}
		if t.DType.Quantized() && h.Version != GGMLVersion101 {
			return fmt.Errorf("%s: quantized type %s requires rwkv.cpp file version 101, not %d", where, t.DType, h.Version)
		}
		codes[i] = code
		if len(t.Shape) < 1 || len(t.Shape) > ggmlMaxDims {
			return fmt.Errorf("%s: %d dimensions, rwkv.cpp files store 1 to %d", where, len(t.Shape), ggmlMaxDims)
		}
		ne := make([]uint64, len(t.Shape))
		for j, d := range t.Shape {
			if d < 1 || uint64(d) > math.MaxUint32 {
				return fmt.Errorf("%s: dimension %d of shape %s out of range", where, j, t.ShapeString())
			}
			ne[len(ne)-1-j] = uint64(d)
		}
		_, size, err := ggmlDataSize(ne, t.DType, math.MaxInt)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if uint64(len(t.Data)) != size {
			return fmt.Errorf("%s: %s %s needs %d data bytes, has %d", where, t.DType, t.ShapeString(), size, len(t.Data))
		}
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, ggmlHeaderSize+ggmlTensorHeaderBase+4*ggmlMaxDims+ggmlMaxKeyLen)
	buf = le.AppendUint32(buf, GGMLMagic)
	buf = le.AppendUint32(buf, h.Version)
	buf = le.AppendUint32(buf, h.NVocab)
	buf = le.AppendUint32(buf, h.NEmbed)
	buf = le.AppendUint32(buf, h.NLayer)
	buf = le.AppendUint32(buf, mainCode)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	for i, t := range tensors {
		buf = buf[:0]
		buf = le.AppendUint32(buf, uint32(len(t.Shape)))
		buf = le.AppendUint32(buf, uint32(len(t.Name)))
		buf = le.AppendUint32(buf, codes[i])
		for j := len(t.Shape) - 1; j >= 0; j-- {
			buf = le.AppendUint32(buf, uint32(t.Shape[j]))
		}
		buf = append(buf, t.Name...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
