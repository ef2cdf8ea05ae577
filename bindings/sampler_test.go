package bindings

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// The device sampler tests run on any backend opener: the cgo bindings
// (TestSampler, build tag cuda) and the purego loader (TestPuregoSampler,
// on the library named by $RWKVGO_CUDA_LIB).

// TestPuregoSampler runs the device sampler tests through the purego
// loader on the library named by $RWKVGO_CUDA_LIB; skipped when it is not
// set.
func TestPuregoSampler(t *testing.T) {
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		t.Skip("RWKVGO_CUDA_LIB not set")
	}
	runSamplerTests(t, func(t testing.TB) *Backend {
		b, err := OpenLibrary(lib, 0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func runSamplerTests(t *testing.T, open func(testing.TB) *Backend) {
	t.Run("Table", func(t *testing.T) { testSamplerTable(t, open) })
	t.Run("Generate", func(t *testing.T) { testSamplerGenerate(t, open) })
	t.Run("Filtered", func(t *testing.T) { testSamplerFiltered(t, open) })
	t.Run("Rebias", func(t *testing.T) { testSamplerRebias(t, open) })
	t.Run("Errors", func(t *testing.T) { testSamplerErrors(t, open) })
}

// rounded returns cfg with the settings the device keeps in float32
// rounded to float32: the Go sampler with these settings is the device's
// reference.
func rounded(cfg sampler.Config) sampler.Config {
	r := func(x float64) float64 { return float64(float32(x)) }
	cfg.Temperature, cfg.TopP, cfg.MinP = r(cfg.Temperature), r(cfg.TopP), r(cfg.MinP)
	cfg.RepetitionPenalty, cfg.PresencePenalty = r(cfg.RepetitionPenalty), r(cfg.PresencePenalty)
	cfg.FrequencyPenalty, cfg.PenaltyDecay = r(cfg.FrequencyPenalty), r(cfg.PenaltyDecay)
	if cfg.LogitBias != nil {
		m := make(map[int]float64, len(cfg.LogitBias))
		for id, v := range cfg.LogitBias {
			m[id] = r(v)
		}
		cfg.LogitBias = m
	}
	return cfg
}

// samplerRow is one row of a table case.
type samplerRow struct {
	cfg  sampler.Config
	hist int // prompt length observed before the first draw
}

// samplerCase is one configuration of the table: rows sampled together in
// every call, over steps.
type samplerCase struct {
	name  string
	v     int
	quant bool // logits rounded to quarters: many exact ties
	rows  []samplerRow
	steps []uint64
}

// cfgWith returns the default configuration changed by f.
func cfgWith(f func(*sampler.Config)) sampler.Config {
	c := sampler.DefaultConfig()
	f(&c)
	return c
}

// seeded returns n rows of cfg with a prompt of hist tokens; each row gets
// its own seed in newCase.
func seeded(n, hist int, cfg sampler.Config) []samplerRow {
	rows := make([]samplerRow, n)
	for i := range rows {
		rows[i] = samplerRow{cfg: cfg, hist: hist}
	}
	return rows
}

var (
	steps5 = []uint64{0, 1, 2, 3, 7, 100, 1 << 33}
	steps2 = []uint64{3, 4}
)

var samplerTable = []samplerCase{
	{name: "greedy", v: 1000, quant: true, rows: seeded(2, 0, cfgWith(func(c *sampler.Config) { c.Temperature = 0 })), steps: steps2},
	{name: "temperature1", v: 256, rows: seeded(16, 0, sampler.DefaultConfig()), steps: steps5},
	{name: "temperature0.7", v: 1000, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.Temperature = 0.7 })), steps: steps5},
	{name: "top-k5", v: 1000, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.TopK = 5; c.Temperature = 0.8 })), steps: steps5},
	{name: "top-k5/ties", v: 1000, quant: true, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.TopK = 5 })), steps: steps5},
	{name: "top-p0.9", v: 1000, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.TopP = 0.9 })), steps: steps5},
	{name: "top-p0.3/ties", v: 1000, quant: true, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.TopP = 0.3 })), steps: steps5},
	{name: "min-p0.05", v: 1000, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) { c.MinP = 0.05; c.Temperature = 0.6 })), steps: steps5},
	{name: "repetition1.3", v: 1000, rows: seeded(16, 60, cfgWith(func(c *sampler.Config) { c.RepetitionPenalty = 1.3 })), steps: steps5},
	{name: "presence-frequency/decay1", v: 1000, quant: true,
		rows: seeded(16, 80, cfgWith(func(c *sampler.Config) { c.PresencePenalty = 0.4; c.FrequencyPenalty = 0.75 })), steps: steps5},
	{name: "presence-frequency/decay0.9", v: 1000,
		rows: seeded(16, 80, cfgWith(func(c *sampler.Config) { c.PresencePenalty = 0.5; c.FrequencyPenalty = 0.3; c.PenaltyDecay = 0.9 })), steps: steps5},
	{name: "bias-bans", v: 1000, rows: seeded(16, 0, cfgWith(func(c *sampler.Config) {
		c.TopK = 20
		c.LogitBias = map[int]float64{3: 2.5, 17: -1.25, 400: math.Inf(-1), 999: 0.3}
		c.Banned = []int{0, 1, 2, 500}
	})), steps: steps5},
	{name: "mixed-rows", v: 1000, rows: []samplerRow{
		{cfg: cfgWith(func(c *sampler.Config) { c.Temperature = 0 }), hist: 20},
		{cfg: cfgWith(func(c *sampler.Config) { c.Temperature = 0.9; c.TopK = 40; c.TopP = 0.85; c.MinP = 0.02 })},
		{cfg: cfgWith(func(c *sampler.Config) { c.RepetitionPenalty = 1.2; c.PenaltyDecay = 0.95; c.FrequencyPenalty = 0.1 }), hist: 50},
		{cfg: cfgWith(func(c *sampler.Config) { c.LogitBias = map[int]float64{5: 4, 6: math.Inf(-1)}; c.TopP = 0.5 }), hist: 10},
		{cfg: sampler.DefaultConfig()},
	}, steps: steps5},
	{name: "V65536", v: 65536, rows: []samplerRow{
		{cfg: cfgWith(func(c *sampler.Config) { c.TopK = 50; c.TopP = 0.9; c.RepetitionPenalty = 1.3 }), hist: 200},
		{cfg: cfgWith(func(c *sampler.Config) {
			c.Temperature = 1.3
			c.MinP = 0.01
			c.PresencePenalty = 0.3
			c.FrequencyPenalty = 0.2
			c.PenaltyDecay = 0.9
			c.Banned = []int{7, 65535}
		}), hist: 200},
		{cfg: cfgWith(func(c *sampler.Config) { c.TopP = 0.95; c.LogitBias = map[int]float64{40000: 3} }), hist: 50},
		{cfg: sampler.DefaultConfig()},
	}, steps: []uint64{0, 9, 10}},
}

// genSamplerLogits returns n rows of v logits: N(0, 3), or N(0, 2)
// rounded to quarters.
func genSamplerLogits(rng *rand.Rand, n, v int, quant bool) []float32 {
	l := make([]float32, n*v)
	for i := range l {
		if quant {
			l[i] = float32(math.Round(rng.NormFloat64()*8) / 4)
		} else {
			l[i] = float32(rng.NormFloat64() * 3)
		}
	}
	return l
}

// genPrompt returns n tokens drawn mostly from a few hot ids, so tokens repeat.
func genPrompt(rng *rand.Rand, v, n int) []int {
	hot := make([]int, 8)
	for i := range hot {
		hot[i] = rng.IntN(v)
	}
	h := make([]int, n)
	for i := range h {
		if rng.IntN(3) > 0 {
			h[i] = hot[rng.IntN(len(hot))]
		} else {
			h[i] = rng.IntN(v)
		}
	}
	return h
}

// goRow is the Go reference of one device row: its sampler, sequence id
// and history.
type goRow struct {
	s    *sampler.Sampler
	seq  uint64
	hist []int
}

// setupRows configures every row of ds from rows (seeds and sequence ids
// from rng), observes each row's prompt, and returns the Go references.
func setupRows(t *testing.T, ds *Sampler, rng *rand.Rand, v int, rows []samplerRow) []goRow {
	t.Helper()
	ref := make([]goRow, len(rows))
	for i, r := range rows {
		cfg := r.cfg
		cfg.Seed = rng.Uint64()
		seq := uint64(rng.IntN(4))
		if err := ds.SetRow(i, cfg, seq); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		hist := genPrompt(rng, v, r.hist)
		if err := ds.Observe(i, hist); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		s, err := sampler.New(rounded(cfg))
		if err != nil {
			t.Fatal(err)
		}
		ref[i] = goRow{s: s, seq: seq, hist: hist}
	}
	return ref
}

// compareDraw checks the device's draw of row i (token, probability)
// against the Go sampler for the same logits, history and step, and
// appends the token to the Go history as the device did to its own.
func compareDraw(t *testing.T, what string, r *goRow, logits []float32, step uint64, tok int, prob float32) {
	t.Helper()
	want, err := r.s.Sample(logits, r.hist, r.seq, step)
	if errors.Is(err, sampler.ErrNoCandidates) {
		want = NoToken
	} else if err != nil {
		t.Fatal(err)
	}
	if tok != want {
		t.Fatalf("%s step %d: device token %d, Go %d", what, step, tok, want)
	}
	if want == NoToken {
		if prob != 0 {
			t.Fatalf("%s step %d: probability %v for no token", what, step, prob)
		}
		return
	}
	p, err := r.s.Probs(logits, r.hist)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(prob)-p[want]) > 1e-5*p[want] {
		t.Fatalf("%s step %d token %d: device probability %v, Go %v", what, step, want, prob, p[want])
	}
	r.hist = append(r.hist, want)
}

// testSamplerTable draws every case's rows together at each of its steps
// and compares each row's token and probability with the Go sampler
// (the device records each draw in the row's history; so does the test).
func testSamplerTable(t *testing.T, open func(testing.TB) *Backend) {
	b := open(t)
	defer b.Close()
	for ci, c := range samplerTable {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.v > 4096 {
				t.Skip("large vocabulary in -short mode")
			}
			rng := rand.New(rand.NewPCG(uint64(ci), 17))
			n := len(c.rows)
			ds, err := b.NewSampler(n, c.v)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			ref := setupRows(t, ds, rng, c.v, c.rows)
			logits := genSamplerLogits(rng, n, c.v, c.quant)
			lt := b.UploadF32(n, c.v, logits)
			defer b.Free(lt)
			for _, step := range c.steps {
				toks, probs, err := ds.Sample(lt, step)
				if err != nil {
					t.Fatal(err)
				}
				if len(toks) != n || len(probs) != n {
					t.Fatalf("%d tokens and %d probabilities for %d rows", len(toks), len(probs), n)
				}
				for i := range ref {
					compareDraw(t, fmt.Sprintf("row %d (seed %#x seq %d)", i, ref[i].s.Config().Seed, ref[i].seq),
						&ref[i], logits[i*c.v:(i+1)*c.v], step, toks[i], probs[i])
				}
			}
		})
	}
}

// testSamplerGenerate is a multi-step generation: the logits of each step
// depend on the token drawn before, the device keeps its own penalty
// state, and the Go reference appends every drawn token to its history.
// It also samples fewer logit rows than the sampler has.
func testSamplerGenerate(t *testing.T, open func(testing.TB) *Backend) {
	const v, n, steps = 300, 3, 24
	b := open(t)
	defer b.Close()
	rng := rand.New(rand.NewPCG(99, 1))
	ds, err := b.NewSampler(n+1, v) // the last row is never sampled
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rows := []samplerRow{
		{cfg: cfgWith(func(c *sampler.Config) { c.RepetitionPenalty = 1.5; c.PresencePenalty = 0.5; c.FrequencyPenalty = 0.5 }), hist: 30},
		{cfg: cfgWith(func(c *sampler.Config) {
			c.Temperature = 0.8
			c.TopP = 0.95
			c.FrequencyPenalty = 1
			c.PenaltyDecay = 0.9
		}), hist: 30},
		{cfg: cfgWith(func(c *sampler.Config) { c.Temperature = 0; c.RepetitionPenalty = 2; c.FrequencyPenalty = 0.3 }), hist: 5},
	}
	ref := setupRows(t, ds, rng, v, rows)
	lt := b.New(n, v)
	defer b.Free(lt)
	logits := make([]float32, n*v)
	prev := make([]int, n)
	// Peaked logits so that without the penalties the same few tokens
	// would win again and again.
	base := genSamplerLogits(rng, 1, v, false)
	for i := range base {
		base[i] *= 0.3
	}
	base[10], base[20], base[30] = 6, 5.5, 5
	for step := uint64(0); step < steps; step++ {
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(step, uint64(prev[i])))
			for j := 0; j < v; j++ {
				logits[i*v+j] = base[j] + float32(r.NormFloat64()*0.5)
			}
		}
		b.Write(lt, 0, logits)
		toks, probs, err := ds.Sample(lt, step)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != n {
			t.Fatalf("%d tokens for %d logit rows", len(toks), n)
		}
		for i := range ref {
			compareDraw(t, fmt.Sprintf("row %d", i), &ref[i], logits[i*v:(i+1)*v], step, toks[i], probs[i])
			prev[i] = toks[i]
		}
	}
	for i, r := range ref {
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(r.hist[rows[i].hist:])))); distinct < 4 {
			t.Errorf("row %d drew only %d distinct tokens: the penalties did not act", i, distinct)
		}
	}
}

// testSamplerFiltered: a row whose every token is banned gets NoToken,
// probability 0 and an error wrapping sampler.ErrNoCandidates, while the
// other rows are drawn; the row's history is unchanged.
func testSamplerFiltered(t *testing.T, open func(testing.TB) *Backend) {
	const v = 256
	b := open(t)
	defer b.Close()
	ds, err := b.NewSampler(3, v)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	all := make([]int, v)
	for i := range all {
		all[i] = i
	}
	rng := rand.New(rand.NewPCG(3, 3))
	bias := map[int]float64{}
	for i := 0; i < v; i += 2 {
		bias[i] = math.Inf(-1)
	}
	rows := []samplerRow{
		{cfg: cfgWith(func(c *sampler.Config) { c.Banned = all; c.RepetitionPenalty = 1.2 })},
		{cfg: cfgWith(func(c *sampler.Config) { c.TopK = 3 }), hist: 10},
		{cfg: cfgWith(func(c *sampler.Config) { c.Temperature = 0; c.LogitBias = bias })},
	}
	// Row 2 bans the even ids through LogitBias and the odd ones through Banned.
	for i := 1; i < v; i += 2 {
		rows[2].cfg.Banned = append(rows[2].cfg.Banned, i)
	}
	ref := setupRows(t, ds, rng, v, rows)
	logits := genSamplerLogits(rng, 3, v, false)
	lt := b.UploadF32(3, v, logits)
	defer b.Free(lt)
	for step := uint64(0); step < 3; step++ {
		toks, probs, err := ds.Sample(lt, step)
		if !errors.Is(err, sampler.ErrNoCandidates) {
			t.Fatalf("step %d: error %v, want one wrapping sampler.ErrNoCandidates", step, err)
		}
		if toks[0] != NoToken || toks[2] != NoToken || probs[0] != 0 || probs[2] != 0 {
			t.Fatalf("step %d: tokens %v probabilities %v, want NoToken with probability 0 in rows 0 and 2", step, toks, probs)
		}
		for i := range ref {
			compareDraw(t, fmt.Sprintf("row %d", i), &ref[i], logits[i*v:(i+1)*v], step, toks[i], probs[i])
		}
	}
	// Lifting the ban of row 0 (SetRow clears the history): it draws again.
	cfg := rows[0].cfg
	cfg.Banned = nil
	cfg.Seed = 5
	if err := ds.SetRow(0, cfg, 0); err != nil {
		t.Fatal(err)
	}
	ref[0].s, _ = sampler.New(rounded(cfg))
	ref[0].seq, ref[0].hist = 0, nil
	toks, probs, err := ds.Sample(lt, 3)
	if !errors.Is(err, sampler.ErrNoCandidates) {
		t.Fatalf("error %v, want one wrapping sampler.ErrNoCandidates (row 2)", err)
	}
	for i := range ref {
		compareDraw(t, fmt.Sprintf("row %d", i), &ref[i], logits[i*v:(i+1)*v], 3, toks[i], probs[i])
	}
}

// testSamplerRebias: setting a row again replaces its bias (and clears it
// when the new configuration has none), leaving the other rows' alone.
func testSamplerRebias(t *testing.T, open func(testing.TB) *Backend) {
	const v = 256
	b := open(t)
	defer b.Close()
	ds, err := b.NewSampler(2, v)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rng := rand.New(rand.NewPCG(4, 4))
	logits := genSamplerLogits(rng, 2, v, false)
	lt := b.UploadF32(2, v, logits)
	defer b.Free(lt)
	greedyBias := func(id int, bias float64) sampler.Config {
		return cfgWith(func(c *sampler.Config) { c.Temperature = 0; c.LogitBias = map[int]float64{id: bias} })
	}
	for _, cfgs := range [][2]sampler.Config{
		{greedyBias(7, 100), greedyBias(9, 100)},
		{greedyBias(8, 100), cfgWith(func(c *sampler.Config) { c.Temperature = 0 })},
		{cfgWith(func(c *sampler.Config) { c.Temperature = 0 }), greedyBias(11, 100)},
	} {
		ref := make([]goRow, 2)
		for i, cfg := range cfgs {
			if err := ds.SetRow(i, cfg, 0); err != nil {
				t.Fatal(err)
			}
			ref[i].s, _ = sampler.New(rounded(cfg))
		}
		toks, probs, err := ds.Sample(lt, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ref {
			compareDraw(t, fmt.Sprintf("row %d", i), &ref[i], logits[i*v:(i+1)*v], 0, toks[i], probs[i])
		}
	}
}

// testSamplerErrors: bad arguments and settings the device cannot honour
// are refused with errors wrapping ErrInvalidArgument or ErrNotSupported;
// a closed sampler reports errors; Close is idempotent and nil-safe.
func testSamplerErrors(t *testing.T, open func(testing.TB) *Backend) {
	const v = 64
	b := open(t)
	defer b.Close()
	for _, sz := range [][2]int{{0, v}, {1, 0}, {-1, v}, {1, MaxSamplerVocab + 1}, {math.MaxInt, v}} {
		if _, err := b.NewSampler(sz[0], sz[1]); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NewSampler(%d, %d): error %v, want ErrInvalidArgument", sz[0], sz[1], err)
		}
	}
	ds, err := b.NewSampler(2, v)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Rows() != 2 || ds.Vocab() != v {
		t.Fatalf("Rows %d Vocab %d", ds.Rows(), ds.Vocab())
	}
	for _, c := range []struct {
		name string
		cfg  sampler.Config
		want error
	}{
		{"penalty window", cfgWith(func(c *sampler.Config) { c.PenaltyWindow = 8 }), ErrNotSupported},
		{"no-repeat n-gram", cfgWith(func(c *sampler.Config) { c.NoRepeatNGram = 3 }), ErrNotSupported},
		{"typical", cfgWith(func(c *sampler.Config) { c.Typical = 0.9 }), ErrNotSupported},
		{"DRY", cfgWith(func(c *sampler.Config) { c.DRYMultiplier = 0.8 }), ErrNotSupported},
		{"XTC", cfgWith(func(c *sampler.Config) { c.XTCProbability = 0.5 }), ErrNotSupported},
		{"top-n-sigma", cfgWith(func(c *sampler.Config) { c.TopNSigma = 1 }), ErrNotSupported},
		{"n-gram penalty", cfgWith(func(c *sampler.Config) { c.NGramPenalty = 0.5 }), ErrNotSupported},
		{"order", cfgWith(func(c *sampler.Config) {
			c.Order = slices.Clone(sampler.DefaultOrder)
			c.Order[0], c.Order[2] = c.Order[2], c.Order[0]
		}), ErrNotSupported},
		{"tiny temperature", cfgWith(func(c *sampler.Config) { c.Temperature = 1e-60 }), ErrNotSupported},
		{"huge presence", cfgWith(func(c *sampler.Config) { c.PresencePenalty = 1e300 }), ErrNotSupported},
		{"huge bias", cfgWith(func(c *sampler.Config) { c.LogitBias = map[int]float64{1: -1e300} }), ErrNotSupported},
		{"invalid top-p", cfgWith(func(c *sampler.Config) { c.TopP = 0 }), ErrInvalidArgument},
		{"zero config", sampler.Config{}, ErrInvalidArgument},
		{"bias id", cfgWith(func(c *sampler.Config) { c.LogitBias = map[int]float64{v: 1} }), ErrInvalidArgument},
		{"banned id", cfgWith(func(c *sampler.Config) { c.Banned = []int{v + 5} }), ErrInvalidArgument},
	} {
		err := ds.SetRow(0, c.cfg, 0)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want one wrapping %v", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	// Accepted: the default order spelt out; generation-level settings.
	ok := cfgWith(func(c *sampler.Config) {
		c.Order = slices.Clone(sampler.DefaultOrder)
		c.StopTokens = []int{1}
		c.StopStrings = []string{"x"}
	})
	if err := ds.SetRow(1, ok, 0); err != nil {
		t.Errorf("default order: %v", err)
	}
	for _, row := range []int{-1, 2} {
		if err := ds.SetRow(row, ok, 0); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SetRow(%d): error %v", row, err)
		}
		if err := ds.Observe(row, []int{1}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Observe(%d): error %v", row, err)
		}
	}
	for _, toks := range [][]int{{1, v}, {-1}, {math.MaxInt}} {
		if err := ds.Observe(0, toks); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Observe(%v): error %v", toks, err)
		}
	}
	if err := ds.Observe(0, nil); err != nil {
		t.Errorf("Observe(nil): %v", err)
	}
	// Logits of the wrong shape, type or backend.
	wrongCols := b.New(1, v+1)
	tooMany := b.New(3, v)
	freed := b.New(1, v)
	b.Free(freed)
	bf16 := b.Upload(backend.BF16, 1, v, make([]byte, 2*v))
	for _, c := range []struct {
		name string
		x    backend.Tensor
	}{{"cols", wrongCols}, {"rows", tooMany}, {"freed", freed}, {"bf16", bf16}, {"nil", nil}} {
		if _, _, err := ds.Sample(c.x, 0); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Sample(%s): error %v", c.name, err)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	b.Free(wrongCols)
	b.Free(tooMany)
	b.Free(bf16)
	// A failed operation pending on the backend is reported by Sample.
	good := b.New(2, v)
	b.New(-1, 1)
	if _, _, err := ds.Sample(good, 0); err == nil {
		t.Error("Sample did not report the pending backend error")
	}
	if _, _, err := ds.Sample(good, 0); err != nil {
		t.Errorf("Sample after the pending error was reported: %v", err)
	}
	b.Free(good)

	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ds.SetRow(0, sampler.DefaultConfig(), 0); err == nil {
		t.Error("SetRow on a closed sampler")
	}
	if err := ds.Observe(0, []int{1}); err == nil {
		t.Error("Observe on a closed sampler")
	}
	if _, _, err := ds.Sample(nil, 0); err == nil {
		t.Error("Sample on a closed sampler")
	}
	var nilSampler *Sampler
	if err := nilSampler.Close(); err != nil {
		t.Fatal(err)
	}
	if err := nilSampler.SetRow(0, sampler.DefaultConfig(), 0); err == nil {
		t.Error("SetRow on a nil sampler")
	}
	// After the backend is closed, the sampler reports errors.
	ds2, err := b.NewSampler(1, v)
	if err != nil {
		t.Fatal(err)
	}
	ds2.Close()
	ds3, err := b.NewSampler(1, v)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := ds3.Observe(0, []int{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Observe after the backend closed: %v", err)
	}
	if err := ds3.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewSampler(1, v); err == nil {
		t.Error("NewSampler on a closed backend")
	}
}
