package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TransformerConfig is the shape of the transformer baseline.
type TransformerConfig struct {
	Layers int `json:"layers"`
	Embd   int `json:"width"`
	Vocab  int `json:"vocab"`
	Heads  int `json:"heads"`
	// FFN is the MLP width (0: 4*Embd).
	FFN  int    `json:"ffn"`
	Seed uint64 `json:"-"`
}

// Transformer is the baseline of the scaling study: a pre-LayerNorm GPT-style
// decoder (LayerNorm, fused QKV projection, causal softmax attention over a KV
// cache, output projection, LayerNorm, MLP with squared-ReLU) with random
// float32 weights, run on the same backend as the RWKV model with the same
// operations. It has no positional encoding (which would not change the
// cost) and serves one sequence; it exists only to be measured against.
type Transformer struct {
	cfg     TransformerConfig
	be      backend.Backend
	att     backend.Attender // be's Attention
	emb     backend.Tensor
	head    backend.Tensor
	lnOutW  backend.Tensor
	lnOutB  backend.Tensor
	layers  []tLayer
	owned   []backend.Tensor
	scratch map[int]*tScratch
	hid     backend.Tensor
	logits  backend.Tensor
	out     []float32
	tokens  []int32
	lastRow []int
}

type tLayer struct {
	ln1w, ln1b, ln2w, ln2b backend.Tensor
	wqkv, wo, w1, w2       backend.Tensor
}

type tScratch struct {
	x, xx, qkv, q, k, v, y, o, h backend.Tensor
}

// NewTransformer builds the baseline with random weights on be.
func NewTransformer(be backend.Backend, cfg TransformerConfig) (*Transformer, error) {
	if cfg.FFN <= 0 {
		cfg.FFN = 4 * cfg.Embd
	}
	if cfg.Layers <= 0 || cfg.Embd <= 0 || cfg.Vocab <= 0 || cfg.Heads <= 0 || cfg.Embd%cfg.Heads != 0 {
		return nil, fmt.Errorf("bench: bad transformer shape %+v", cfg)
	}
	att, ok := be.(backend.Attender)
	if !ok {
		return nil, fmt.Errorf("bench: the %s backend has no Attention (backend.Attender), which the transformer baseline needs", be.Name())
	}
	t := &Transformer{cfg: cfg, be: be, att: att, scratch: map[int]*tScratch{}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7f))
	C, F, V := cfg.Embd, cfg.FFN, cfg.Vocab
	mat := func(rows, cols int) backend.Tensor {
		v := make([]float32, rows*cols)
		sd := 1 / math.Sqrt(float64(cols))
		for i := range v {
			v[i] = float32(rng.NormFloat64() * sd)
		}
		x := be.UploadF32(rows, cols, v)
		t.owned = append(t.owned, x)
		return x
	}
	vec := func(val float32) backend.Tensor {
		v := make([]float32, C)
		for i := range v {
			v[i] = val + float32(0.1*(rng.Float64()-0.5))
		}
		x := be.UploadF32(1, C, v)
		t.owned = append(t.owned, x)
		return x
	}
	t.emb = mat(V, C)
	for i := 0; i < cfg.Layers; i++ {
		t.layers = append(t.layers, tLayer{
			ln1w: vec(1), ln1b: vec(0), ln2w: vec(1), ln2b: vec(0),
			wqkv: mat(3*C, C), wo: mat(C, C), w1: mat(F, C), w2: mat(C, F),
		})
	}
	t.lnOutW, t.lnOutB = vec(1), vec(0)
	t.head = mat(V, C)
	t.hid, t.logits = be.New(1, C), be.New(1, V)
	t.owned = append(t.owned, t.hid, t.logits)
	t.out = make([]float32, V)
	if err := be.Err(); err != nil {
		t.Close()
		return nil, fmt.Errorf("bench: transformer weights: %w", err)
	}
	return t, nil
}

// Config returns the baseline's shape (FFN filled in).
func (t *Transformer) Config() TransformerConfig { return t.cfg }

// Params returns the number of weights.
func (t *Transformer) Params() int64 {
	C, F, V := int64(t.cfg.Embd), int64(t.cfg.FFN), int64(t.cfg.Vocab)
	return 2*V*C + int64(t.cfg.Layers)*(4*C*C+2*C*F+4*C) + 2*C
}

// Close frees the weights and buffers (not the backend).
func (t *Transformer) Close() {
	for _, x := range t.owned {
		t.be.Free(x)
	}
	t.owned = nil
	for _, s := range t.scratch {
		for _, x := range []backend.Tensor{s.x, s.xx, s.qkv, s.q, s.k, s.v, s.y, s.o, s.h} {
			t.be.Free(x)
		}
	}
	t.scratch = map[int]*tScratch{}
}

// KVCache holds the keys and values of one sequence for every layer.
type KVCache struct {
	t      *Transformer
	k, v   []backend.Tensor
	cap    int
	pos    int
	closed bool
}

// NewCache allocates a KV cache for up to capacity positions.
func (t *Transformer) NewCache(capacity int) (*KVCache, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("bench: KV cache of %d positions", capacity)
	}
	c := &KVCache{t: t, cap: capacity}
	for range t.layers {
		c.k = append(c.k, t.be.New(capacity, t.cfg.Embd))
		c.v = append(c.v, t.be.New(capacity, t.cfg.Embd))
	}
	if err := t.be.Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: KV cache: %w", err)
	}
	return c, nil
}

// Len returns the number of positions held.
func (c *KVCache) Len() int { return c.pos }

// Bytes returns the size of the keys and values held (Len positions).
func (c *KVCache) Bytes() int64 { return kvBytes(c.t.cfg, c.pos) }

func kvBytes(cfg TransformerConfig, positions int) int64 {
	return 2 * 4 * int64(cfg.Layers) * int64(cfg.Embd) * int64(positions)
}

// FillSynthetic stores n positions of random keys and values (standard
// normal) after the current ones without running the model: it stands for a
// prefill of n tokens at a fraction of its cost.
func (c *KVCache) FillSynthetic(n int, seed uint64) error {
	if c.pos+n > c.cap {
		return fmt.Errorf("bench: filling %d positions past %d of a %d-position cache", n, c.pos, c.cap)
	}
	rng := rand.New(rand.NewPCG(seed, 0xcace))
	C := c.t.cfg.Embd
	const chunk = 1024
	buf := make([]float32, chunk*C)
	for l := range c.k {
		for _, x := range []backend.Tensor{c.k[l], c.v[l]} {
			for p := c.pos; p < c.pos+n; p += chunk {
				rows := min(chunk, c.pos+n-p)
				b := buf[:rows*C]
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				c.t.be.Write(x, p, b)
			}
		}
	}
	c.pos += n
	return c.t.be.Err()
}

// Close frees the cache.
func (c *KVCache) Close() {
	if c.closed {
		return
	}
	c.closed = true
	for i := range c.k {
		c.t.be.Free(c.k[i])
		c.t.be.Free(c.v[i])
	}
}

func (t *Transformer) scratchFor(n int) *tScratch {
	if s, ok := t.scratch[n]; ok {
		return s
	}
	be, C := t.be, t.cfg.Embd
	s := &tScratch{x: be.New(n, C), xx: be.New(n, C), qkv: be.New(n, 3*C), q: be.New(n, C), k: be.New(n, C),
		v: be.New(n, C), y: be.New(n, C), o: be.New(n, C), h: be.New(n, t.cfg.FFN)}
	t.scratch[n] = s
	return s
}

// Step runs tokens (the next positions of the sequence in c) and returns the
// logits after the last one, owned by t and overwritten by the next call.
func (t *Transformer) Step(c *KVCache, tokens []int) ([]float32, error) {
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("bench: transformer step without tokens")
	}
	if c.closed || c.t != t {
		return nil, errors.New("bench: KV cache closed or of another model")
	}
	if c.pos+n > c.cap {
		return nil, fmt.Errorf("bench: KV cache full (%d of %d positions, %d more)", c.pos, c.cap, n)
	}
	t.tokens = t.tokens[:0]
	for _, tok := range tokens {
		if tok < 0 || tok >= t.cfg.Vocab {
			return nil, fmt.Errorf("bench: token %d out of range [0, %d)", tok, t.cfg.Vocab)
		}
		t.tokens = append(t.tokens, int32(tok))
	}
	be, C := t.be, t.cfg.Embd
	const eps = 1e-5
	s := t.scratchFor(n)
	be.Embed(s.x, t.emb, t.tokens)
	for l, ly := range t.layers {
		be.LayerNorm(s.xx, s.x, ly.ln1w, ly.ln1b, eps)
		be.MatMul(s.qkv, s.xx, ly.wqkv)
		be.Slice(s.q, s.qkv, 0)
		be.Slice(s.k, s.qkv, C)
		be.Slice(s.v, s.qkv, 2*C)
		t.att.Attention(s.y, s.q, s.k, s.v, c.k[l], c.v[l], c.pos, t.cfg.Heads)
		be.MatMul(s.o, s.y, ly.wo)
		be.Zip(s.x, s.x, s.o, backend.Add)
		be.LayerNorm(s.xx, s.x, ly.ln2w, ly.ln2b, eps)
		be.MatMul(s.h, s.xx, ly.w1)
		be.Map(s.h, s.h, backend.ReLUSquare)
		be.MatMul(s.o, s.h, ly.w2)
		be.Zip(s.x, s.x, s.o, backend.Add)
	}
	t.lastRow = append(t.lastRow[:0], n-1)
	be.GatherRows(t.hid, s.x, t.lastRow)
	be.LayerNorm(t.hid, t.hid, t.lnOutW, t.lnOutB, eps)
	be.MatMul(t.logits, t.hid, t.head)
	be.Read(t.logits, 0, t.out)
	if err := be.Err(); err != nil {
		return nil, fmt.Errorf("bench: transformer on %s: %w", be.Name(), err)
	}
	c.pos += n
	return t.out, nil
}
