// Package weights decodes RWKV checkpoint files (rwkv.cpp's format, safetensors,
// PyTorch .pth) into named tensors, detects the model version and hyperparameters,
// and converts tensors into the canonical, engine-ready form used by package engine.
package weights

import (
	"fmt"
	"strings"

	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
)

// DType is the element encoding of a tensor's raw bytes.
type DType uint8

// Element encodings. The quantized types are ggml's 32-element block formats.
const (
	F32 DType = iota
	F16
	BF16
	Q4_0
	Q4_1
	Q5_0
	Q5_1
	Q8_0
)

var dtypeNames = [...]string{"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"}

// String returns the conventional upper-case name of the type ("F32", "Q5_1", ...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// ParseDType is the inverse of DType.String (case-insensitive).
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if strings.EqualFold(n, s) {
			return DType(i), nil
		}
	}
	return 0, fmt.Errorf("weights: unknown dtype %q", s)
}

// BlockSize is the number of elements one encoded block holds (1 for plain types).
func (d DType) BlockSize() int { return blockfmt.BlockSize(uint8(d)) }

// BlockBytes is the number of bytes one encoded block takes (0 for an unknown
// type). Code blockfmt.I8, which backends hold for weights quantized at load
// and no file stores, is unknown here.
func (d DType) BlockBytes() int {
	if int(d) >= len(dtypeNames) {
		return 0
	}
	return blockfmt.BlockBytes(uint8(d))
}

// Quantized reports whether d is a block-quantized type.
func (d DType) Quantized() bool { return blockfmt.Quantized(uint8(d)) }

// ByteSize returns the encoded size of n elements, or an error when n is not a
// whole number of blocks or the type is unknown.
func (d DType) ByteSize(n int) (int, error) {
	bb := d.BlockBytes()
	if bb == 0 {
		return 0, fmt.Errorf("weights: unknown dtype %d", uint8(d))
	}
	bs := d.BlockSize()
	if n < 0 || n%bs != 0 {
		return 0, fmt.Errorf("weights: %d elements is not a whole number of %s blocks of %d", n, d, bs)
	}
	return n / bs * bb, nil
}

// Tensor is one named array as stored in a file. Shape is in PyTorch order
// (outermost dimension first; a linear layer's weight is [out, in]). Data holds
// the raw little-endian encoding of the elements in DType and may alias a
// memory-mapped file: treat it as read-only.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Len returns the number of elements (the product of Shape; 1 for a scalar).
func (t *Tensor) Len() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

// ShapeString formats Shape as "[a, b, c]".
func (t *Tensor) ShapeString() string {
	parts := make([]string, len(t.Shape))
	for i, s := range t.Shape {
		parts[i] = fmt.Sprint(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Format identifies a checkpoint container.
type Format uint8

// Container formats.
const (
	FormatUnknown     Format = iota
	FormatGGML               // rwkv.cpp's own format (magic 0x67676d66)
	FormatSafetensors        // Hugging Face safetensors (official keys or web-rwkv .st keys)
	FormatPTH                // PyTorch zip checkpoint written by torch.save
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatGGML:
		return "rwkv.cpp"
	case FormatSafetensors:
		return "safetensors"
	case FormatPTH:
		return "pth"
	}
	return "unknown"
}

// File is a decoded checkpoint: its tensors in file order. Close releases any
// memory mapping; tensors must not be used after Close.
type File struct {
	Format  Format
	Tensors []*Tensor
	// Header holds container-level fields (for rwkv.cpp files: "version",
	// "n_vocab", "n_embed", "n_layer", "data_type").
	Header map[string]int
	// Meta holds free-form string metadata (safetensors __metadata__).
	Meta  map[string]string
	index map[string]*Tensor
	close func() error
	// mapped is the file's memory mapping (nil when the file was read into
	// memory); see DropPages.
	mapped []byte
}

// Get returns the tensor with the given name, or nil.
func (f *File) Get(name string) *Tensor {
	if f.index == nil {
		f.index = make(map[string]*Tensor, len(f.Tensors))
		for _, t := range f.Tensors {
			f.index[t.Name] = t
		}
	}
	return f.index[name]
}

// Close releases the file's resources. It is safe to call more than once.
func (f *File) Close() error {
	if f == nil || f.close == nil {
		return nil
	}
	c := f.close
	f.close = nil
	return c()
}
