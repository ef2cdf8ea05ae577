package bench

import (
	"fmt"
	"math"
	"time"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// KernelConfig configures the kernel microbenchmarks.
type KernelConfig struct {
	// Shapes are the model shapes (width, heads, vocabulary) to run at.
	Shapes []Preset
	// Rows lists the numbers of rows per operation: independent sequences of
	// one token each (batched decode).
	Rows []int
	// Repeats timed calls per operation (default 20) after Warmup untimed
	// ones (default 3); the median is reported.
	Repeats, Warmup int
	// Flush evicts the caches before every timed call (the CPU's last-level
	// cache by writing twice its size; the GPU's L2 through EventTimer).
	Flush bool
	// Context is the KV-cache length of the Attention benchmark (default 4096).
	Context int
	// WeightType is the type of the weight matrices (F32 default, F16, BF16).
	WeightType backend.DType
	// Ops, if not empty, restricts the run to these operation names.
	Ops []string
}

// KernelResult is one operation at one shape.
type KernelResult struct {
	Op    string `json:"op"`
	Shape string `json:"shape"`
	Rows  int    `json:"rows"`
	// Dims describes the operands, e.g. "[1,768]x[3072,768]^T".
	Dims string `json:"dims"`
	// Bytes and FLOPs are the minimum memory traffic and arithmetic of one call.
	Bytes float64 `json:"bytes"`
	FLOPs float64 `json:"flops"`
	// Us summarises the timed calls in microseconds.
	Us Summary `json:"us"`
	// GBs and GFLOPs are the rates at the median time.
	GBs    float64 `json:"gb_s"`
	GFLOPs float64 `json:"gflop_s"`
	// PeakBWFrac and PeakFLOPFrac are the fractions of the device's peaks.
	PeakBWFrac   float64 `json:"peak_bw_frac"`
	PeakFLOPFrac float64 `json:"peak_flop_frac"`
	// VendorRatio is our median time / the vendor library's for the same
	// product (MatMul and MatMulT on backends implementing VendorMatMuler;
	// 0 otherwise).
	VendorRatio float64 `json:"vendor_ratio,omitempty"`
	// VendorUnavailable is why a backend implementing VendorMatMuler could
	// not run the vendor baseline (VendorRatio is then 0).
	VendorUnavailable string `json:"vendor_unavailable,omitempty"`
	// Timer is "cuda-events" or "go".
	Timer string `json:"timer"`
}

// kernel is one benchmarked call.
type kernel struct {
	op, dims     string
	bytes, flops float64
	run          func()
	vendor       func() error // optional vendor-library equivalent (VendorMatMuler)
}

// RunKernels times every backend operation at each shape and row count.
func RunKernels(be backend.Backend, cfg KernelConfig, dev Device, env *Env) ([]KernelResult, error) {
	if cfg.Repeats <= 0 {
		cfg.Repeats = 20
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 3
	}
	if cfg.Context <= 0 {
		cfg.Context = 4096
	}
	if len(cfg.Rows) == 0 {
		cfg.Rows = []int{1}
	}
	want := map[string]bool{}
	for _, o := range cfg.Ops {
		want[o] = true
	}
	tm := newTimer(be, cfg.Flush, dev.CacheBytes)
	var out []KernelResult
	for _, shape := range cfg.Shapes {
		for _, rows := range cfg.Rows {
			if rows < 1 {
				return out, fmt.Errorf("bench: %d rows", rows)
			}
			ks, free, err := buildKernels(be, shape, rows, cfg)
			if err != nil {
				return out, err
			}
			tag := fmt.Sprintf("kernels/%s/rows=%d", shape.Name, rows)
			env.progress().Begin(tag, len(ks))
			env.phase(tag)
			for _, k := range ks {
				if len(want) > 0 && !want[k.op] {
					env.progress().Add(1)
					continue
				}
				us, err := tm.time(k.run, cfg.Warmup, cfg.Repeats)
				if err != nil {
					free()
					return out, fmt.Errorf("bench: %s: %w", k.op, err)
				}
				r := KernelResult{Op: k.op, Shape: shape.Name, Rows: rows, Dims: k.dims, Bytes: k.bytes, FLOPs: k.flops,
					Us: Summarize(us), Timer: tm.name()}
				sec := r.Us.P50 / 1e6
				r.GBs, r.GFLOPs = k.bytes/sec/1e9, k.flops/sec/1e9
				if dev.PeakBytesPerSec > 0 {
					r.PeakBWFrac = k.bytes / sec / dev.PeakBytesPerSec
				}
				if dev.PeakFLOPs > 0 {
					r.PeakFLOPFrac = k.flops / sec / dev.PeakFLOPs
				}
				if k.vendor != nil {
					vendorUs, why, err := timeVendor(tm, be, k.vendor, cfg)
					if err != nil {
						free()
						return out, fmt.Errorf("bench: vendor %s: %w", k.op, err)
					}
					if vendorUs > 0 {
						r.VendorRatio = r.Us.P50 / vendorUs
					}
					r.VendorUnavailable = why
				}
				out = append(out, r)
				env.progress().Add(1)
			}
			env.sample()
			free()
			env.progress().End("")
		}
	}
	return out, nil
}

// timeVendor times a vendor-library call: its median microseconds, or the
// reason it is unavailable (a VendorMatMuler error that left no error
// recorded on the backend). A recorded error fails the benchmark.
func timeVendor(tm *timer, be backend.Backend, f func() error, cfg KernelConfig) (us float64, unavailable string, err error) {
	if ferr := f(); ferr != nil { // the first call also probes
		if berr := be.Err(); berr != nil {
			return 0, "", berr
		}
		return 0, ferr.Error(), nil
	}
	var callErr error
	vus, err := tm.time(func() {
		if e := f(); e != nil && callErr == nil {
			callErr = e
		}
	}, cfg.Warmup, cfg.Repeats)
	if err == nil {
		err = callErr
	}
	if err != nil {
		return 0, "", err
	}
	return Median(vus), "", nil
}

// VendorNotes summarises the vendor baseline of kernel results for a
// report's notes: one line per distinct reason it was unavailable.
func VendorNotes(res []KernelResult) []string {
	var notes []string
	seen := map[string]bool{}
	for _, r := range res {
		if r.VendorUnavailable != "" && !seen[r.VendorUnavailable] {
			seen[r.VendorUnavailable] = true
			notes = append(notes, "vendor baseline unavailable: "+r.VendorUnavailable)
		}
	}
	return notes
}

// timer times calls with device events when the backend has them, else with
// the Go clock (after Sync on asynchronous backends).
type timer struct {
	be    backend.Backend
	ev    backend.EventTimer
	flush bool
	buf   []byte
}

func newTimer(be backend.Backend, flush bool, cache int64) *timer {
	t := &timer{be: be, flush: flush}
	t.ev, _ = be.(backend.EventTimer)
	if flush && t.ev == nil {
		t.buf = make([]byte, 2*max(cache, 1<<20))
	}
	return t
}

func (t *timer) name() string {
	if t.ev != nil {
		return "device-events"
	}
	return "go"
}

func (t *timer) flushCaches() {
	if !t.flush {
		return
	}
	if t.ev != nil {
		t.ev.FlushL2()
		return
	}
	for i := 0; i < len(t.buf); i += 64 {
		t.buf[i]++
	}
}

// time runs f warmup times, then repeats timed times; microseconds per call.
func (t *timer) time(f func(), warmup, repeats int) ([]float64, error) {
	for i := 0; i < warmup; i++ {
		f()
	}
	if err := t.be.Err(); err != nil {
		return nil, err
	}
	if err := backend.Sync(t.be); err != nil {
		return nil, err
	}
	us := make([]float64, 0, repeats)
	for i := 0; i < repeats; i++ {
		t.flushCaches()
		if t.ev != nil {
			t.ev.StartTimer()
			f()
			d, err := t.ev.StopTimer()
			if err != nil {
				return nil, err
			}
			us = append(us, float64(d)/1e3)
			continue
		}
		if err := backend.Sync(t.be); err != nil {
			return nil, err
		}
		t0 := time.Now()
		f()
		if err := backend.Sync(t.be); err != nil {
			return nil, err
		}
		us = append(us, float64(time.Since(t0))/1e3)
	}
	return us, t.be.Err()
}

// pattern returns n deterministic pseudo-random values in [-scale, scale].
func pattern(n int, seed uint32, scale float32) []float32 {
	v := make([]float32, n)
	x := seed*2654435761 + 1
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = (float32(x)/float32(math.MaxUint32)*2 - 1) * scale
	}
	return v
}

// buildKernels allocates the operands of every operation at one shape.
func buildKernels(be backend.Backend, p Preset, n int, cfg KernelConfig) ([]kernel, func(), error) {
	C := p.Embd
	hs := p.HeadSize
	if hs <= 0 {
		hs = min(64, C)
	}
	H := C / hs
	F, V := 4*C, p.Vocab
	var owned []backend.Tensor
	seed := uint32(1)
	act := func(rows, cols int) backend.Tensor {
		seed++
		t := be.UploadF32(rows, cols, pattern(rows*cols, seed, 1))
		owned = append(owned, t)
		return t
	}
	wsize := float64(cfg.WeightType.Size())
	var encErr error
	weight := func(rows, cols int) backend.Tensor {
		seed++
		v := pattern(rows*cols, seed, float32(1/math.Sqrt(float64(cols))))
		var t backend.Tensor
		if cfg.WeightType == backend.F32 {
			t = be.UploadF32(rows, cols, v)
		} else {
			wt := weights.F16
			if cfg.WeightType == backend.BF16 {
				wt = weights.BF16
			}
			b, err := weights.Encode(wt, v)
			if err != nil && encErr == nil {
				encErr = err
			}
			t = be.Upload(cfg.WeightType, rows, cols, b)
		}
		owned = append(owned, t)
		return t
	}
	free := func() {
		for _, t := range owned {
			be.Free(t)
		}
	}
	fn := float64(n)
	nc := fn * float64(C) * 4 // bytes of one [n, C] activation
	x, y, z, out := act(n, C), act(n, C), act(n, C), act(n, C)
	vecC, vecC2 := act(1, C), act(1, C)
	tokens := make([]int32, n)
	for i := range tokens {
		tokens[i] = int32((i * 7919) % V)
	}
	// n sequences of one token, one state slot each.
	b := backend.Batch{Offsets: make([]int, n+1), Slots: make([]int, n)}
	for i := range b.Slots {
		b.Offsets[i+1], b.Slots[i] = i+1, i
	}
	state4 := act(n, 5*C)
	stateH := act(n, (2+hs)*C)
	var ks []kernel
	add := func(op, dims string, bytes, flops float64, run func()) {
		ks = append(ks, kernel{op: op, dims: dims, bytes: bytes, flops: flops, run: run})
	}
	dimsNC := fmt.Sprintf("[%d,%d]", n, C)

	emb := weight(V, C)
	add("Embed", fmt.Sprintf("[%d,%d] from [%d,%d]", n, C, V, C), fn*float64(C)*(wsize+4), 0, func() { be.Embed(out, emb, tokens) })
	add("LayerNorm", dimsNC, 2*nc+8*float64(C), 8*fn*float64(C), func() { be.LayerNorm(out, x, vecC, vecC2, 1e-5) })
	add("GroupNorm", fmt.Sprintf("%s, %d groups", dimsNC, H), 2*nc+8*float64(C), 8*fn*float64(C), func() { be.GroupNorm(out, x, vecC, vecC2, H, 64e-5) })
	// mm times out [n, o] = x [n, i] @ W^T for W [o, i]: MatMul with W as
	// stored, or with transposed, MatMulT with W^T [i, o] stored (the
	// channel mix's value projection, ffn-down, as the engine runs it; x is
	// dense here, the worst case of its zero skipping). The vendor baseline
	// is the same product by cuBLAS with W [o, i].
	mm := func(name string, o, i int, transposed bool) {
		xi, yo := act(n, i), act(n, o)
		bytes := float64(o)*float64(i)*wsize + fn*float64(i+o)*4
		k := kernel{op: "MatMul", bytes: bytes, flops: 2 * fn * float64(o) * float64(i)}
		var w backend.Tensor // [o, i], for MatMul and the vendor baseline
		if transposed {
			wt := weight(i, o)
			k.op, k.dims, k.run = "MatMulT", fmt.Sprintf("%s [%d,%d]x[%d,%d]", name, n, i, i, o), func() { be.MatMulT(yo, xi, wt) }
		} else {
			w = weight(o, i)
			k.dims, k.run = fmt.Sprintf("%s [%d,%d]x[%d,%d]^T", name, n, i, o, i), func() { be.MatMul(yo, xi, w) }
		}
		if vm, ok := be.(backend.VendorMatMuler); ok {
			if w == nil {
				w = weight(o, i)
			}
			k.vendor = func() error { return vm.VendorMatMul(yo, xi, w) }
		}
		ks = append(ks, k)
	}
	mm("att", C, C, false)
	mm("ffn-up", F, C, false)
	mm("ffn-down", C, F, true)
	mm("lora", 64, C, false)
	mm("head", V, C, false)
	// The fused operations of a decode step beside the products they
	// replace (backends with FusedProducts / FusedNorm only).
	if fp, ok := be.(backend.FusedProducts); ok {
		// group times MatMulGroup over products of [n, i] inputs (each its
		// own) and [o, i] weights with the given epilogue; bytes: the
		// weights once, the inputs and outputs, a bias row and a Lerp
		// (read, and Out read and written) when present.
		group := func(name string, count, o, i int, fa backend.Activation, bias, lerp bool) {
			ps := make([]backend.Product, count)
			bytes := 0.0
			for j := range ps {
				ps[j] = backend.Product{Out: act(n, o), In: act(n, i), W: weight(o, i), Act: fa}
				bytes += float64(o)*float64(i)*wsize + fn*float64(i+o)*4
				if bias {
					ps[j].Bias = act(1, o)
					bytes += float64(o) * 4
				}
				if lerp {
					ps[j].Lerp = act(n, o)
					bytes += 2 * fn * float64(o) * 4
				}
			}
			add("MatMulGroup", fmt.Sprintf("%s %dx[%d,%d]x[%d,%d]^T", name, count, n, i, o, i), bytes,
				2*float64(count)*fn*float64(o)*float64(i), func() { fp.MatMulGroup(ps) })
		}
		group("att-rkv", 3, C, C, backend.NoActivation, false, false)
		group("ffn-key+relu2", 1, F, C, backend.Activate(backend.ReLUSquare), false, false)
		group("value-residual", 1, C, 64, backend.Activate(backend.Sigmoid), true, true)
	}
	if fnorm, ok := be.(backend.FusedNorm); ok {
		// AddNormShiftMix as an RWKV-7 time-mix opening: x += residual,
		// LayerNorm, token shift through the state, six mixes. Bytes: x and
		// residual read, x, xx, prev and the six outputs written, the state
		// row read and written, the eight [1, C] vectors.
		outs, mixes := make([]backend.Tensor, 6), make([]backend.Tensor, 6)
		for j := range outs {
			outs[j], mixes[j] = act(n, C), act(1, C)
		}
		xin, xx, prev, res, st := act(n, C), act(n, C), act(n, C), act(n, C), act(n, 2*C)
		add("AddNormShiftMix", dimsNC+" x6", 13*nc+8*float64(C)*4, (8+6*3)*fn*float64(C), func() {
			be.BeginStep(b)
			fnorm.AddNormShiftMix(outs, xx, prev, xin, res, nil, vecC, vecC2, st, 0, mixes, backend.MixDelta, 1e-5)
		})
		if fl, ok := be.(backend.FusedNormLoRA); ok {
			// AddNormShiftMixLoRA as RWKV-6's time-mix opening: the
			// opening above, then five LoRA-downs [32, C] of the first
			// output with their tanh. Bytes: the opening's, the five
			// weights once and the LoRA outputs written.
			lo, w1 := make([]backend.Tensor, 5), make([]backend.Tensor, 5)
			for j := range lo {
				lo[j], w1[j] = act(n, 32), weight(32, C)
			}
			add("AddNormShiftMixLoRA", dimsNC+" x6, 5x[32,C]", 13*nc+8*float64(C)*4+5*32*float64(C)*wsize+5*fn*32*4,
				(8+6*3)*fn*float64(C)+2*5*32*fn*float64(C), func() {
					be.BeginStep(b)
					fl.AddNormShiftMixLoRA(outs, xx, prev, xin, res, nil, vecC, vecC2, st, 0, mixes, backend.MixDelta, 1e-5, lo, w1)
				})
		}
	}
	for _, u := range []struct {
		name  string
		f     backend.Unary
		flops float64
	}{{"Sigmoid", backend.Sigmoid, 4}, {"Tanh", backend.Tanh, 4}, {"SiLU", backend.SiLU, 5}, {"ReLUSquare", backend.ReLUSquare, 2},
		{"NegExpExp", backend.NegExpExp, 4}, {"V7Decay", backend.V7Decay, 6}} {
		add("Map/"+u.name, dimsNC, 2*nc, u.flops*fn*float64(C), func() { be.Map(out, x, u.f) })
	}
	add("Zip/Add", dimsNC, 3*nc, fn*float64(C), func() { be.Zip(out, x, y, backend.Add) })
	add("Zip/Mul", dimsNC, 3*nc, fn*float64(C), func() { be.Zip(out, x, y, backend.Mul) })
	wide := act(n, 5*64)
	lo := act(n, 64)
	add("Slice", fmt.Sprintf("[%d,64] of [%d,320]", n, n), 2*fn*64*4, 0, func() { be.Slice(lo, wide, 128) })
	rowsIdx := make([]int, n)
	for i := range rowsIdx {
		rowsIdx[i] = n - 1 - i
	}
	add("GatherRows", dimsNC, 2*nc, 0, func() { be.GatherRows(out, x, rowsIdx) })
	add("Shift", dimsNC, 4*nc, 0, func() { be.BeginStep(b); be.Shift(out, x, state4, C) })
	add("Mix", dimsNC, 4*nc, 3*fn*float64(C), func() { be.Mix(out, x, y, vecC, backend.MixDelta) })
	// MixN: RWKV-7's six token-shift mixes ([1, C] vectors) in one call.
	mixOuts, mixVecs := make([]backend.Tensor, 6), make([]backend.Tensor, 6)
	for j := range mixOuts {
		mixOuts[j], mixVecs[j] = act(n, C), act(1, C)
	}
	add("MixN", dimsNC+" x6", 8*nc+6*float64(C)*4, 6*3*fn*float64(C), func() { be.MixN(mixOuts, x, y, mixVecs, backend.MixDelta) })
	add("WKV4", dimsNC, 3*nc+2*3*nc+8*float64(C), 20*fn*float64(C), func() { be.BeginStep(b); be.WKV4(out, x, y, vecC, vecC2, state4, 2*C) })
	hstate := fn * float64(hs) * float64(C) * 4 // n heads states, read and written
	r, w, k, v, kk, a := act(n, C), act(n, C), act(n, C), act(n, C), act(n, C), act(n, C)
	add("WKV5", fmt.Sprintf("%s, %d heads of %d", dimsNC, H, hs), 5*nc+2*hstate, 6*fn*float64(hs)*float64(C), func() {
		be.BeginStep(b)
		be.WKV5(out, r, k, v, w, vecC, stateH, 2*C, H)
	})
	add("WKV7", fmt.Sprintf("%s, %d heads of %d", dimsNC, H, hs), 7*nc+2*hstate, 9*fn*float64(hs)*float64(C), func() {
		be.BeginStep(b)
		be.WKV7(out, r, w, k, v, kk, a, stateH, 2*C, H)
	})
	add("KeyV7", dimsNC, 5*nc, 8*fn*float64(C), func() { be.KeyV7(kk, z, a, vecC, vecC2, H) })
	add("ValueV7", dimsNC, 4*nc, 6*fn*float64(C), func() { be.ValueV7(z, y, x) })
	add("BonusV7", dimsNC, 5*nc, 5*fn*float64(C), func() { be.BonusV7(out, r, k, v, vecC, H) })
	// Attention: one sequence decoding n positions at the end of a cache of
	// Context positions (the same positions every call).
	L := cfg.Context
	kc, vc := act(L+n, C), act(L+n, C)
	qn, kn, vn := act(n, C), act(n, C), act(n, C)
	if att, ok := be.(backend.Attender); ok {
		add("Attention", fmt.Sprintf("%s over %d positions, %d heads", dimsNC, L, H),
			2*float64(L)*float64(C)*4+4*nc, fn*(4*float64(L)*float64(C)+5*float64(L)*float64(H)), func() {
				att.Attention(out, qn, kn, vn, kc, vc, L, H)
			})
	}
	logits := act(n, V)
	host := make([]float32, n*V)
	add("Read", fmt.Sprintf("[%d,%d] to host", n, V), 2*fn*float64(V)*4, 0, func() { be.Read(logits, 0, host) })
	hostC := make([]float32, n*C)
	add("Write", fmt.Sprintf("[%d,%d] from host", n, C), 2*nc, 0, func() { be.Write(out, 0, hostC) })
	if err := be.Err(); err != nil || encErr != nil {
		free()
		if err == nil {
			err = encErr
		}
		return nil, nil, fmt.Errorf("bench: kernel operands at %s: %w", p.Name, err)
	}
	return ks, free, nil
}
