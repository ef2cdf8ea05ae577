package engine

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// A version is one RWKV version's layer graph (v4.go, v5.go, v6.go, v7.go).
// Its layer struct binds the canonical tensors of the version's tensor table
// (weights.Arch) through `tensor` struct tags, and its scratch struct plans
// the version's own activation buffers through `scratch` tags.
type version struct {
	// archs are the versions of weights' tensor tables this graph runs
	// (v5.1 and v5.2 share one graph).
	archs []weights.Version
	// newLayer returns a zero layer of the version.
	newLayer func() versionLayer
	// newScratch returns a zero struct of the version's own scratch
	// buffers (nil: none beyond the common ones).
	newScratch func() any
	// mixOuts lists the scratch buffers the layer's token-shift mixes
	// write. tm, for the time mix: first the outputs of the mixes that open
	// it (in the order of the layer's timeMixes), then those of the mixes a
	// version computes later in its time mix (RWKV-6's data-dependent
	// ones); cm, for the channel mix, in the order of its channelMixes.
	mixOuts func(s *scratch) (tm, cm []backend.Tensor)
}

// versions maps each RWKV version to its layer graph.
var versions = map[weights.Version]version{
	weights.V4:  versionV4,
	weights.V51: versionV5,
	weights.V52: versionV5,
	weights.V6:  versionV6,
	weights.V7:  versionV7,
}

// versionLayer is one block of a model of some version.
type versionLayer interface {
	// common returns the parameters every version has.
	common() *block
	// bound is called once the tensors are bound (to derive lists of them).
	bound(index int)
	// timeMixes returns the token-shift mixes that open the time mix and
	// their style: the layer loop computes them (into s.tmOut) with the
	// LayerNorm and the token shift (see Model.openSublayer).
	timeMixes(s *scratch) (mixes []backend.Tensor, style backend.MixStyle)
	// timeMix computes the attention of the layer into s.out from the
	// opening mixes in s.tmOut (and s.xx and s.prev, the normalised and
	// the previous rows), updating the head state in columns [2C, per)
	// of st, the layer's state tensor in the pool (statePool.layer).
	timeMix(m *Model, s *scratch, st backend.Tensor)
	// channelMixes returns the channel mix's token-shift mixes (k, then r
	// if present), their style and the receptance matrix (nil for v7).
	channelMixes() (mixes []backend.Tensor, style backend.MixStyle, receptance backend.Tensor)
}

// block is the part of a layer every version has.
type block struct {
	LN1W backend.Tensor `tensor:"ln1.weight"`
	LN1B backend.Tensor `tensor:"ln1.bias"`
	LN2W backend.Tensor `tensor:"ln2.weight"`
	LN2B backend.Tensor `tensor:"ln2.bias"`
	// FFNKey is the channel mix's key [F, C]; FFNValueT its value
	// projection stored transposed [F, C] for MatMulT (which reads only
	// the rows of non-zero squared-ReLU activations; I8 quantized at load
	// too, with a scale per row of that layout), except when the file
	// stores it block-quantized: blocks run along the stored rows, so it
	// stays [C, F] and is multiplied with MatMul.
	FFNKey    backend.Tensor `tensor:"ffn.key.weight"`
	FFNValueT backend.Tensor `tensor:"ffn.value.weight,transposed"`
	index     int
}

func (b *block) common() *block { return b }

// layer is one block of the model.
type layer struct {
	versionLayer
}

// binder uploads the canonical tensors a layer's `tensor` tags name.
type binder struct {
	wm      *weights.Model
	cfg     weights.Config
	present map[string]bool // names block i has (relative to "blocks.i.")
	known   map[string]bool // names any block of the version has
	vec     func(name string) backend.Tensor
	mat     func(name string, transposed bool) backend.Tensor
	// rows uploads a matrix as parts equal blocks of its rows.
	rows func(name string, parts []backend.Tensor)
	used map[string]bool
}

// newLayer binds block i of the model's version: each tagged field receives
// the uploaded tensor "blocks.i.<tag>" (a [n] array field with a tag holding
// %d receives the tensors for 0..n-1). A field whose tensor this block does
// not have (v7's value residual in block 0) stays nil; a tag that names no
// tensor of the version, or a tensor of the block that no field binds, is an
// error.
func (bd *binder) newLayer(v version, i int) (*layer, error) {
	vl := v.newLayer()
	vectors, matrices, err := weights.BlockParams(bd.cfg.Version, i)
	if err != nil {
		return nil, err
	}
	bd.present = map[string]bool{}
	for _, n := range append(vectors, matrices...) {
		bd.present[n] = true
	}
	if bd.known == nil {
		bd.known = map[string]bool{}
		for _, av := range v.archs {
			for j := 0; j < 2; j++ { // block 0 and a later block cover every parameter
				vs, ms, err := weights.BlockParams(av, j)
				if err != nil {
					return nil, err
				}
				for _, n := range append(vs, ms...) {
					bd.known[n] = true
				}
			}
		}
	}
	bd.used = map[string]bool{}
	prefix := fmt.Sprintf("blocks.%d.", i)
	if err := bd.bind(reflect.ValueOf(vl).Elem(), prefix); err != nil {
		return nil, err
	}
	for n := range bd.present {
		if !bd.used[n] {
			return nil, fmt.Errorf("engine: RWKV %s block %d: no field of the layer binds tensor %q", bd.cfg.Version, i, n)
		}
	}
	vl.common().index = i
	vl.bound(i)
	return &layer{vl}, nil
}

var tensorType = reflect.TypeFor[backend.Tensor]()

func (bd *binder) bind(v reflect.Value, prefix string) error {
	t := v.Type()
	for f := 0; f < t.NumField(); f++ {
		field := t.Field(f)
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			if err := bd.bind(v.Field(f), prefix); err != nil {
				return err
			}
			continue
		}
		tag, ok := field.Tag.Lookup("tensor")
		if !ok {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		transposed := opts == "transposed"
		switch {
		case field.Type == tensorType:
			if t, ok := bd.tensor(name, prefix, transposed); !ok {
				return fmt.Errorf("engine: RWKV %s layer field %s: tensor %q is not in the version's table", bd.cfg.Version, field.Name, name)
			} else if t != nil {
				v.Field(f).Set(reflect.ValueOf(t))
			}
		case field.Type.Kind() == reflect.Array && field.Type.Elem() == tensorType && opts == "rows":
			// one matrix, bound as field.Type.Len() equal blocks of its rows
			if !bd.known[name] {
				return fmt.Errorf("engine: RWKV %s layer field %s: tensor %q is not in the version's table", bd.cfg.Version, field.Name, name)
			}
			if bd.present[name] {
				bd.used[name] = true
				parts := make([]backend.Tensor, field.Type.Len())
				bd.rows(prefix+name, parts)
				for j, t := range parts {
					if t != nil {
						v.Field(f).Index(j).Set(reflect.ValueOf(t))
					}
				}
			}
		case field.Type.Kind() == reflect.Array && field.Type.Elem() == tensorType && strings.Contains(name, "%d"):
			for j := 0; j < field.Type.Len(); j++ {
				n := fmt.Sprintf(name, j)
				if t, ok := bd.tensor(n, prefix, transposed); !ok {
					return fmt.Errorf("engine: RWKV %s layer field %s: tensor %q is not in the version's table", bd.cfg.Version, field.Name, n)
				} else if t != nil {
					v.Field(f).Index(j).Set(reflect.ValueOf(t))
				}
			}
		default:
			return fmt.Errorf("engine: layer field %s: tag %q on a %s", field.Name, tag, field.Type)
		}
	}
	return nil
}

// tensor uploads prefix+name if the block has it. ok is false for a name
// that is not a tensor of the graph's versions at all.
func (bd *binder) tensor(name, prefix string, transposed bool) (t backend.Tensor, ok bool) {
	if !bd.known[name] {
		return nil, false
	}
	if !bd.present[name] {
		return nil, true
	}
	bd.used[name] = true
	if _, isVec := bd.wm.Vectors[prefix+name]; isVec {
		return bd.vec(prefix + name), true
	}
	return bd.mat(prefix+name, transposed), true
}
