package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/rwkvgo/rwkvgo/internal/fault"
)

// Version is an RWKV architecture version.
type Version int

// Supported RWKV versions.
const (
	V4  Version = 40
	V51 Version = 51
	V52 Version = 52
	V6  Version = 60
	V7  Version = 70
)

// String returns "v4", "v5.1", "v5.2", "v6" or "v7".
func (v Version) String() string {
	switch v {
	case V4:
		return "v4"
	case V51:
		return "v5.1"
	case V52:
		return "v5.2"
	case V6:
		return "v6"
	case V7:
		return "v7"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// ParseVersion accepts "4", "v4", "5.1", "v5.2", "6", "7", ...
func ParseVersion(s string) (Version, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "v") {
	case "4":
		return V4, nil
	case "5.1", "51":
		return V51, nil
	case "5", "5.2", "52":
		return V52, nil
	case "6", "6.0":
		return V6, nil
	case "7", "7.0":
		return V7, nil
	}
	return 0, fmt.Errorf("weights: unknown RWKV version %q (want 4, 5.1, 5.2, 6 or 7)", s)
}

// Config holds a model's hyperparameters, all detected from its tensors.
type Config struct {
	Version  Version
	Vocab    int // rows of emb.weight and head.weight
	Embd     int // model width C
	Layers   int
	Heads    int // 0 for v4
	HeadSize int // C / Heads; 0 for v4
	FFN      int // channel-mix hidden size
	// LoRA ranks: v6 uses MixLoRA (time_maa_w1 is [C, 5*MixLoRA]) and DecayLoRA;
	// v7 uses DecayLoRA (w), AaaLoRA (a), ValueLoRA (v) and GateLoRA (g).
	MixLoRA, DecayLoRA, AaaLoRA, ValueLoRA, GateLoRA int
	// LayerNormEps is the epsilon of every LayerNorm (1e-5).
	LayerNormEps float32
	// GroupNormEps is the epsilon of the attention output GroupNorm (ln_x), v5 and later.
	GroupNormEps float32
}

// String summarises the configuration.
func (c Config) String() string {
	s := fmt.Sprintf("RWKV %s: %d layers, width %d, vocab %d, ffn %d", c.Version, c.Layers, c.Embd, c.Vocab, c.FFN)
	if c.Heads > 0 {
		s += fmt.Sprintf(", %d heads x %d", c.Heads, c.HeadSize)
	}
	switch c.Version {
	case V6:
		s += fmt.Sprintf(", LoRA mix %d decay %d", c.MixLoRA, c.DecayLoRA)
	case V7:
		s += fmt.Sprintf(", LoRA w %d a %d v %d g %d", c.DecayLoRA, c.AaaLoRA, c.ValueLoRA, c.GateLoRA)
	}
	return s
}

// StateSize is the number of float32 values in one sequence's state in rwkv.cpp's
// layout: per layer 5*C (v4: ffn_xx, att_xx, aa, bb, pp) or (2+HeadSize)*C
// (v5 and later: ffn_xx, att_xx, then H*N*N head state).
func (c Config) StateSize() int { return c.Layers * c.LayerStateSize() }

// LayerStateSize is StateSize divided by the number of layers.
func (c Config) LayerStateSize() int {
	if c.Version == V4 {
		return 5 * c.Embd
	}
	return (2 + c.HeadSize) * c.Embd
}

// Options adjusts how a checkpoint is interpreted.
type Options struct {
	// V5GroupNormEps overrides the GroupNorm epsilon of v5.x models. Zero means
	// the default: 1e-5 for rwkv.cpp files (rwkv.cpp's convention) and 64e-5 for
	// .pth and safetensors files (the official ChatRWKV convention).
	V5GroupNormEps float32
}

// Model is a checkpoint in canonical, engine-ready form: every value transform
// that some converter bakes into its files is applied here, so the engine sees
// one representation whatever the source.
//
// Vectors holds the 1-D parameters (flattened, float32) and Matrices the weight
// matrices as [out, in] (y = W x), kept in their stored dtype. Canonical names
// follow the official checkpoints ("blocks.3.att.key.weight") with these
// engine-ready values:
//   - v4: att.time_decay holds -exp(time_decay); att.time_first raw.
//   - v5.1: att.time_decay holds exp(-exp(w)) and att.time_first exp(u), both
//     broadcast from per-head scalars to C values.
//   - v5.2: att.time_decay holds exp(-exp(w)); att.time_first is time_faaaa.
//   - v6: att.time_decay and att.time_first (time_faaaa) raw; att.time_maa_w1 is
//     [5*D, C]; att.time_maa_w2 is split into att.time_maa_w2.0 .. .4, each [C, D]
//     in the order w, k, v, r, g; att.time_decay_w1 [D, C], att.time_decay_w2 [C, D].
//   - v7: att.x_r .. att.x_g separate; LoRA matrices w1, a1, v1, g1 are [D, C]
//     and w2, a2, v2, g2 are [C, D]; att.r_k flattened to C values.
type Model struct {
	Config   Config
	Format   Format
	Vectors  map[string][]float32
	Matrices map[string]*Tensor
	file     *File
}

// Close releases the underlying file. Matrices must not be used after Close.
func (m *Model) Close() error {
	if m == nil || m.file == nil {
		return nil
	}
	return m.file.Close()
}

// Vector returns a canonical vector or an error naming it.
func (m *Model) Vector(name string) ([]float32, error) {
	v, ok := m.Vectors[name]
	if !ok {
		return nil, fmt.Errorf("weights: model has no vector %q", name)
	}
	return v, nil
}

// Matrix returns a canonical matrix or an error naming it.
func (m *Model) Matrix(name string) (*Tensor, error) {
	t, ok := m.Matrices[name]
	if !ok {
		return nil, fmt.Errorf("weights: model has no matrix %q", name)
	}
	return t, nil
}

// Load opens a checkpoint of any supported format and converts it to canonical form.
func Load(path string, opts Options) (*Model, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	m, err := canonicalizeMapped(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.file = f
	return m, nil
}

// canonicalizeMapped is Canonicalize for a file that may be mapped (see
// decodeMapped).
func canonicalizeMapped(f *File, opts Options) (m *Model, err error) {
	defer fault.Catch(&err, debug.SetPanicOnFault(true))
	return Canonicalize(f, opts)
}

var blockRe = regexp.MustCompile(`^blocks\.(\d+)\.`)

// DetectVersion identifies the RWKV version from tensor names (after the
// web-rwkv renames are undone by Canonicalize), trying each version's Arch,
// newest first.
func DetectVersion(has func(string) bool) (Version, error) {
	for _, a := range archs {
		if a.Detect(has) {
			return a.Version, nil
		}
	}
	return 0, fmt.Errorf("weights: not an RWKV model: no blocks.0.att tensors of any known version (v4, v5.1, v5.2, v6, v7)")
}

// canon builds a Model from a File.
type canon struct {
	f       *File
	m       *Model
	ggml    bool
	web     bool
	renamed map[string]*Tensor
	used    map[string]bool
	arch    *Arch
}

// Canonicalize converts a decoded file to canonical form (see Model).
func Canonicalize(f *File, opts Options) (*Model, error) {
	c := &canon{f: f, ggml: f.Format == FormatGGML, renamed: map[string]*Tensor{}, used: map[string]bool{}}
	// Undo web-rwkv / ai00 renames: time_mix_* -> time_maa_* (v6 only), time_first
	// -> time_faaaa where it denotes the raw v5.2/v6 bonus.
	webV6 := false
	for _, t := range f.Tensors {
		if strings.HasSuffix(t.Name, ".att.time_mix_x") {
			webV6 = true
		}
	}
	for _, t := range f.Tensors {
		name := t.Name
		if webV6 {
			name = strings.Replace(name, ".time_mix_", ".time_maa_", 1)
		}
		if _, dup := c.renamed[name]; dup {
			return nil, fmt.Errorf("weights: tensor %q appears twice", name)
		}
		c.renamed[name] = t
	}
	c.web = webV6
	has := func(n string) bool { _, ok := c.renamed[n]; return ok }
	ver, err := DetectVersion(has)
	if err != nil {
		return nil, err
	}
	if c.arch, err = ArchOf(ver); err != nil {
		return nil, err
	}
	cfg := Config{Version: ver, LayerNormEps: 1e-5, GroupNormEps: 64e-5}
	if ver == V51 || ver == V52 {
		switch {
		case opts.V5GroupNormEps > 0:
			cfg.GroupNormEps = opts.V5GroupNormEps
		case c.ggml:
			cfg.GroupNormEps = 1e-5
		}
	} else if opts.V5GroupNormEps < 0 {
		return nil, fmt.Errorf("weights: negative GroupNorm epsilon %g", opts.V5GroupNormEps)
	}
	c.m = &Model{Config: cfg, Format: f.Format, Vectors: map[string][]float32{}, Matrices: map[string]*Tensor{}}
	if err := c.build(); err != nil {
		return nil, err
	}
	if err := CheckConsistency(f, c.m.Config); err != nil {
		return nil, err
	}
	return c.m, nil
}

func (c *canon) get(name string) (*Tensor, error) {
	t, ok := c.renamed[name]
	if !ok {
		return nil, fmt.Errorf("weights: missing tensor %q", name)
	}
	c.used[name] = true
	return t, nil
}

// vec reads a tensor as a flat float32 vector of exactly n values.
func (c *canon) vec(name string, n int) ([]float32, error) {
	t, err := c.get(name)
	if err != nil {
		return nil, err
	}
	if t.Len() != n {
		return nil, fmt.Errorf("weights: tensor %q has shape %s (%d values), want %d values", name, t.ShapeString(), t.Len(), n)
	}
	v := make([]float32, n)
	if err := DecodeFloat32(v, t.DType, t.Data); err != nil {
		return nil, fmt.Errorf("weights: tensor %q: %w", name, err)
	}
	return v, nil
}

// putVec stores a vector of n values under the canonical name, applying fn to each value.
func (c *canon) putVec(name string, n int, fn func(float64) float64) error {
	v, err := c.vec(name, n)
	if err != nil {
		return err
	}
	if fn != nil {
		for i, x := range v {
			v[i] = float32(fn(float64(x)))
		}
	}
	c.m.Vectors[name] = v
	return nil
}

// mat stores a matrix [rows, cols] under name (stored shape must be exactly that,
// ignoring leading 1s).
func (c *canon) mat(src, dst string, rows, cols int) error {
	t, err := c.get(src)
	if err != nil {
		return err
	}
	r, cc, ok := as2D(t.Shape)
	if !ok || r != rows || cc != cols {
		return fmt.Errorf("weights: tensor %q has shape %s, want [%d, %d]", src, t.ShapeString(), rows, cols)
	}
	m := *t
	m.Name, m.Shape = dst, []int{rows, cols}
	c.m.Matrices[dst] = &m
	return nil
}

// lora stores a LoRA matrix in canonical [rows, cols] orientation, transposing
// it when it is stored the other way round. When rows == cols the orientation
// cannot be seen from the shape: rwkv.cpp and web-rwkv files store the canonical
// orientation, official checkpoints the transpose.
func (c *canon) lora(src, dst string, rows, cols int) error {
	t, err := c.get(src)
	if err != nil {
		return err
	}
	r, cc, ok := as2D(t.Shape)
	if !ok {
		return fmt.Errorf("weights: LoRA tensor %q has shape %s, want 2-D", src, t.ShapeString())
	}
	transposed := r == cols && cc == rows && !(r == rows && cc == cols && (c.ggml || c.webStyle()))
	if !transposed {
		return c.mat(src, dst, rows, cols)
	}
	if size := t.DType.BlockBytes(); !t.DType.Quantized() && size > 0 && len(t.Data) == r*cc*size {
		// A plain type is transposed as is (no widening), and the file's
		// pages of the original are released: nothing reads them again.
		c.m.Matrices[dst] = &Tensor{Name: dst, DType: t.DType, Shape: []int{rows, cols}, Data: transposeElems(t.Data, r, cc, size)}
		c.f.DropPages(t.Data)
		return nil
	}
	v := make([]float32, t.Len())
	if err := DecodeFloat32(v, t.DType, t.Data); err != nil {
		return fmt.Errorf("weights: tensor %q: %w", src, err)
	}
	c.m.Matrices[dst] = f32Matrix(dst, transpose(v, r, cc), rows, cols)
	return nil
}

// webStyle reports whether the file follows the web-rwkv .st convention
// (recognised by its renamed v6 keys), whose LoRA matrices are stored already
// transposed like rwkv.cpp's.
func (c *canon) webStyle() bool { return c.web }

func as2D(shape []int) (int, int, bool) {
	s := shape
	for len(s) > 2 && s[0] == 1 {
		s = s[1:]
	}
	if len(s) != 2 {
		return 0, 0, false
	}
	return s[0], s[1], true
}

func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// transposeElems transposes a row-major [rows, cols] array of size-byte
// elements.
func transposeElems(data []byte, rows, cols, size int) []byte {
	out := make([]byte, len(data))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			d, s := (c*rows+r)*size, (r*cols+c)*size
			copy(out[d:d+size], data[s:s+size])
		}
	}
	return out
}

// f32Matrix wraps float32 values as an F32 tensor.
func f32Matrix(name string, v []float32, rows, cols int) *Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return &Tensor{Name: name, DType: F32, Shape: []int{rows, cols}, Data: data}
}

func (c *canon) build() error {
	cfg := &c.m.Config
	emb, err := c.get("emb.weight")
	if err != nil {
		return err
	}
	v, e, ok := as2D(emb.Shape)
	if !ok || v <= 0 || e <= 0 {
		return fmt.Errorf("weights: emb.weight has shape %s, want [vocab, width]", emb.ShapeString())
	}
	cfg.Vocab, cfg.Embd = v, e
	layers := 0
	for n := range c.renamed {
		if m := blockRe.FindStringSubmatch(n); m != nil {
			i, err := strconv.Atoi(m[1])
			if err != nil || i > 1<<16 {
				return fmt.Errorf("weights: bad block index in %q", n)
			}
			layers = max(layers, i+1)
		}
	}
	if layers == 0 {
		return fmt.Errorf("weights: model has no blocks")
	}
	cfg.Layers = layers
	C := e
	if err := c.mat("emb.weight", "emb.weight", v, C); err != nil {
		return err
	}
	if err := c.mat("head.weight", "head.weight", v, C); err != nil {
		return err
	}
	for _, n := range []string{"ln_out.weight", "ln_out.bias"} {
		if err := c.putVec(n, C, nil); err != nil {
			return err
		}
	}
	ffnKey, err := c.get("blocks.0.ffn.key.weight")
	if err != nil {
		return err
	}
	f, fc, ok := as2D(ffnKey.Shape)
	if !ok || fc != C {
		return fmt.Errorf("weights: blocks.0.ffn.key.weight has shape %s, want [ffn, %d]", ffnKey.ShapeString(), C)
	}
	cfg.FFN = f
	if err := c.heads(); err != nil {
		return err
	}
	for i := 0; i < layers; i++ {
		if err := c.block(i); err != nil {
			return err
		}
	}
	var unused []string
	for n := range c.renamed {
		if !c.used[n] && !(c.arch.Optional != nil && c.arch.Optional(n)) {
			unused = append(unused, n)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		if len(unused) > 5 {
			unused = append(unused[:5], "...")
		}
		return fmt.Errorf("weights: unexpected tensors for an RWKV %s model: %s", cfg.Version, strings.Join(unused, ", "))
	}
	return nil
}

// heads detects the head count, head size and LoRA ranks from the tensors
// the version's Arch names.
func (c *canon) heads() error {
	cfg := &c.m.Config
	C := cfg.Embd
	if len(c.arch.Heads) == 0 {
		return nil
	}
	src := c.arch.Heads[0]
	for _, n := range c.arch.Heads {
		if _, ok := c.renamed[n]; ok {
			src = n
			break
		}
	}
	t, ok := c.renamed[src]
	if !ok {
		return fmt.Errorf("weights: missing tensor %q", src)
	}
	// The head count is the outermost dimension: official (H,) / (H, N),
	// rwkv.cpp (H, 1, 1) / (H, N, 1).
	h := 0
	if len(t.Shape) > 0 {
		h = t.Shape[0]
	}
	if c.arch.PerHeadScalars && t.Len() != h {
		return fmt.Errorf("weights: %s %s has shape %s, want one value per head", cfg.Version, src, t.ShapeString())
	}
	if !c.arch.PerHeadScalars && t.Len() != C {
		return fmt.Errorf("weights: %s has shape %s, want %d values", src, t.ShapeString(), C)
	}
	if h <= 0 || C%h != 0 {
		return fmt.Errorf("weights: %s has shape %s: cannot derive heads of width %d", src, t.ShapeString(), C)
	}
	cfg.Heads, cfg.HeadSize = h, C/h
	rank := func(name string, dim int) (int, error) {
		t, ok := c.renamed[name]
		if !ok {
			return 0, fmt.Errorf("weights: missing tensor %q", name)
		}
		r, cc, ok := as2D(t.Shape)
		switch {
		case !ok:
			return 0, fmt.Errorf("weights: %s has shape %s, want 2-D", name, t.ShapeString())
		case r == C && cc%dim == 0:
			if cc == C && (c.ggml || c.webStyle()) {
				return r / dim, nil
			}
			return cc / dim, nil
		case cc == C && r%dim == 0:
			return r / dim, nil
		}
		return 0, fmt.Errorf("weights: %s has shape %s, incompatible with width %d", name, t.ShapeString(), C)
	}
	for _, rk := range c.arch.Ranks {
		if cfg.Layers < rk.MinLayers {
			continue
		}
		v, err := rank(rk.Tensor, rk.Div)
		if err != nil {
			return err
		}
		*rk.Field(cfg) = v
	}
	return nil
}

// block canonicalizes block i's parameters as the version's Arch lists them.
func (c *canon) block(i int) error {
	cfg := c.m.Config
	d := cfg.Dims()
	p := fmt.Sprintf("blocks.%d.", i)
	official := !c.ggml
	for _, prm := range c.arch.Block {
		if !prm.Layers.has(i) {
			continue
		}
		fn := prm.Official
		if !official {
			fn = nil
		}
		name := p + prm.Name
		var err error
		switch prm.Rule {
		case Vector:
			err = c.putVec(name, d.C, fn)
		case PerHead:
			err = c.perHead(name, d.H, fn)
		case Bonus:
			err = c.alias(name, p+"att.time_first", d.C)
		case Packed:
			err = c.packed(p, prm, d.C)
		case Matrix:
			err = c.mat(name, name, prm.Rows(d), prm.Cols(d))
		case LoRA:
			err = c.lora(name, name, prm.Rows(d), prm.Cols(d))
		case MaaW2:
			err = c.maaW2(p, d.MixLoRA)
		default:
			err = fmt.Errorf("weights: %s: unknown rule %d for %s", cfg.Version, prm.Rule, prm.Name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// packed stores one of several vectors that a file may instead pack into
// one tensor (v7's att.x_rwkvag holds x_r .. x_g).
func (c *canon) packed(p string, prm Param, n int) error {
	name := p + prm.Name
	if _, ok := c.renamed[name]; ok {
		return c.putVec(name, n, nil)
	}
	whole := p + prm.Packed
	if _, ok := c.renamed[whole]; !ok {
		return fmt.Errorf("weights: missing tensor %q (or %q)", name, whole)
	}
	count := 0
	for _, q := range c.arch.Block {
		if q.Rule == Packed && q.Packed == prm.Packed {
			count++
		}
	}
	all, err := c.vec(whole, count*n)
	if err != nil {
		return err
	}
	c.m.Vectors[name] = all[prm.Index*n : (prm.Index+1)*n]
	return nil
}

// alias stores the vector named primary (or, when absent, fallback) under primary's
// canonical name time_first.
func (c *canon) alias(primary, fallback string, n int) error {
	src := primary
	if _, ok := c.renamed[src]; !ok {
		src = fallback
	}
	v, err := c.vec(src, n)
	if err != nil {
		return err
	}
	c.m.Vectors[fallback] = v
	return nil
}

// perHead broadcasts a per-head scalar parameter to all C channels.
func (c *canon) perHead(name string, heads int, fn func(float64) float64) error {
	v, err := c.vec(name, heads)
	if err != nil {
		return err
	}
	n := c.m.Config.HeadSize
	out := make([]float32, heads*n)
	for h, x := range v {
		if fn != nil {
			x = float32(fn(float64(x)))
		}
		for j := 0; j < n; j++ {
			out[h*n+j] = x
		}
	}
	c.m.Vectors[name] = out
	return nil
}

// maaW2 splits v6 time_maa_w2 into five [C, D] matrices. Official files store
// (5, D, C), rwkv.cpp and web-rwkv (5, C, D).
func (c *canon) maaW2(p string, D int) error {
	name := p + "att.time_maa_w2"
	t, err := c.get(name)
	if err != nil {
		return err
	}
	C := c.m.Config.Embd
	if len(t.Shape) != 3 || t.Shape[0] != 5 || t.Len() != 5*C*D {
		return fmt.Errorf("weights: tensor %q has shape %s, want [5, %d, %d] or [5, %d, %d]", name, t.ShapeString(), D, C, C, D)
	}
	v := make([]float32, t.Len())
	if err := DecodeFloat32(v, t.DType, t.Data); err != nil {
		return fmt.Errorf("weights: tensor %q: %w", name, err)
	}
	transposed := t.Shape[1] == D && t.Shape[2] == C && !(C == D && (c.ggml || c.webStyle()))
	for j := 0; j < 5; j++ {
		part := v[j*C*D : (j+1)*C*D]
		if transposed {
			part = transpose(part, D, C)
		}
		dst := fmt.Sprintf("%s.%d", name, j)
		c.m.Matrices[dst] = f32Matrix(dst, part, C, D)
	}
	return nil
}
