package weights

import (
	"fmt"
	"math"
	"strings"
)

// HeaderMismatchError reports a container header field that disagrees with
// the tensors the file actually holds: the file describes a different model
// than the one it contains, so it is refused rather than guessed at.
type HeaderMismatchError struct {
	Format Format
	Field  string // header field, e.g. "n_embed"
	Header string // what the header says
	Actual string // what the tensors say
}

// Error names the field and both values.
func (e *HeaderMismatchError) Error() string {
	return fmt.Sprintf("weights: %s header field %s is %s but the tensors say %s", e.Format, e.Field, e.Header, e.Actual)
}

// CheckConsistency verifies that the container-level fields of f agree with
// the model configuration cfg detected from its tensors. For rwkv.cpp files
// these are n_vocab (rows of emb.weight and head.weight), n_embed (the
// width), n_layer (the number of blocks) and data_type, the model-level type:
// an F32 file holds only F32 tensors, an F16 file F16 and F32 tensors (and at
// least one F16 tensor), a quantized file tensors of its own type, F16 or F32
// (and at least one of its own type). Header fields f does not carry (files
// assembled in memory) are not checked. Formats without such fields pass.
//
// Canonicalize calls it, so every model built by this package has passed it.
func CheckConsistency(f *File, cfg Config) error {
	if f == nil || f.Format != FormatGGML || f.Header == nil {
		return nil
	}
	mismatch := func(field string, header, actual any) error {
		return &HeaderMismatchError{Format: f.Format, Field: field, Header: fmt.Sprint(header), Actual: fmt.Sprint(actual)}
	}
	for _, c := range []struct {
		field  string
		actual int
		what   string
	}{
		{"n_vocab", cfg.Vocab, "vocabulary (rows of emb.weight)"},
		{"n_embed", cfg.Embd, "width (columns of emb.weight)"},
		{"n_layer", cfg.Layers, "layers (blocks)"},
	} {
		if v, ok := f.Header[c.field]; ok && v != c.actual {
			return mismatch(c.field, v, fmt.Sprintf("%d %s", c.actual, c.what))
		}
	}
	code, ok := f.Header["data_type"]
	if !ok {
		return nil
	}
	if code < 0 || int64(code) > math.MaxUint32 {
		return mismatch("data_type", code, "no such type")
	}
	main, msg := ggmlDType(uint32(code))
	if msg != "" {
		return fmt.Errorf("weights: rwkv.cpp header: %s", msg)
	}
	return checkGGMLTypes(f, main)
}

// checkGGMLTypes checks the per-tensor types of an rwkv.cpp file against its
// model-level type main.
func checkGGMLTypes(f *File, main DType) error {
	ownType := 0
	for _, t := range f.Tensors {
		switch {
		case t.DType == main:
			ownType++
		case t.DType == F32:
		case t.DType == F16 && main != F32:
		default:
			allowed := "F32"
			if main != F32 {
				allowed = main.String() + ", F16 or F32"
			}
			return &HeaderMismatchError{Format: f.Format, Field: "data_type", Header: main.String(),
				Actual: fmt.Sprintf("tensor %q is %s (a %s file holds %s tensors)", t.Name, t.DType, main, allowed)}
		}
	}
	if main != F32 && ownType == 0 {
		kinds := map[string]bool{}
		for _, t := range f.Tensors {
			kinds[t.DType.String()] = true
		}
		var list []string
		for _, d := range []DType{F32, F16} {
			if kinds[d.String()] {
				list = append(list, d.String())
			}
		}
		return &HeaderMismatchError{Format: f.Format, Field: "data_type", Header: main.String(),
			Actual: fmt.Sprintf("no tensor is %s (only %s)", main, strings.Join(list, ", "))}
	}
	return nil
}
