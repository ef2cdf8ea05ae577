package sampler

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Model is the view of a language model that the search strategies need.
// An RWKV state is constant-size, so Fork is cheap.
//
// A Model holds a recurrent state. Step feeds tokens (at least one) from the
// current state, advances the state past them, and returns the logits for the
// next token after the last one (length = vocabulary size) and the final
// hidden state of the last token (the vector fed to the output head, after
// the final layer norm). Only contrastive search uses hidden; a model may
// return nil hidden otherwise. The returned slices are owned by the caller.
//
// Fork returns an independent copy of the current state; stepping one does
// not affect the other. Close releases the model's resources; a closed model
// must not be used.
type Model interface {
	Step(tokens []int) (logits []float32, hidden []float32, err error)
	Fork() (Model, error)
	Close() error
}

// StopReason says why generation ended.
type StopReason string

// Stop reasons.
const (
	StopLength     StopReason = "length"      // MaxTokens reached
	StopToken      StopReason = "stop_token"  // a Config.StopTokens token was chosen
	StopString     StopReason = "stop_string" // a Config.StopStrings string appeared
	StopRepetition StopReason = "repetition"  // the detector fired with action stop
)

// DetectorEvent records one firing of the repetition detector.
type DetectorEvent struct {
	// Step is the 0-based index of the generated token after which it fired.
	Step int
	// SeqRep is the measured seq-rep-N over the window.
	SeqRep float64
	// Action is the action taken.
	Action DetectorAction
}

// ContrastiveConfig configures contrastive search (Su et al. 2022, Hugging
// Face semantics): among the TopK most probable next tokens v, choose the one
// maximizing (1-Alpha)*p(v) - Alpha*max_j cos(h_v, h_j), where h_v is the
// hidden state after feeding v and h_j are the hidden states of every
// previous token (prompt included). Ties go to the more probable candidate,
// then the lower id. Alpha 0 is greedy decoding.
type ContrastiveConfig struct {
	// Alpha is the degeneration penalty weight in [0, 1].
	Alpha float64
	// TopK is the number of candidates, >= 1.
	TopK int
}

// Validate reports an invalid contrastive setting.
func (c *ContrastiveConfig) Validate() error {
	if !(c.Alpha >= 0 && c.Alpha <= 1) {
		return fmt.Errorf("sampler: contrastive penalty alpha must be in [0, 1], got %v", c.Alpha)
	}
	if c.TopK < 1 {
		return fmt.Errorf("sampler: contrastive top-k must be >= 1, got %d", c.TopK)
	}
	return nil
}

// Options configures Generate.
type Options struct {
	// MaxTokens is the maximum number of tokens to generate, >= 1.
	MaxTokens int
	// Seq is the sequence id keying the random draws (see PhiloxBlock).
	Seq uint64
	// Decode decodes tokens; required when Config.StopStrings is set, and
	// when set Result.Text is filled.
	Decode Decoder
	// PenalizeGeneratedOnly restricts the penalty and n-gram history to the
	// generated tokens; by default the history is prompt followed by the
	// generated tokens (as Hugging Face).
	PenalizeGeneratedOnly bool
	// Contrastive selects contrastive search instead of sampling; the
	// sampler's penalty, n-gram and bias stages still apply (Sampler.Adjust),
	// its temperature and truncation stages do not.
	Contrastive *ContrastiveConfig
	// OnToken, when set, is called after each emitted token with the text it
	// releases (possibly empty while a stop string may be forming); an error
	// aborts generation.
	OnToken func(id int, text []byte) error
}

// Result is the outcome of Generate.
type Result struct {
	// Tokens are the generated tokens, without a final stop token. When a
	// stop string ends generation they include the tokens that formed it.
	Tokens []int
	// Text is the decoded output without the stop string (nil without a
	// decoder).
	Text []byte
	// Reason says why generation ended.
	Reason StopReason
	// Events lists the detector firings.
	Events []DetectorEvent
}

// Generate feeds prompt (non-empty) to m and generates up to opts.MaxTokens
// tokens with s: greedy when s.Greedy(), otherwise sampling where the n-th
// generated token (n from 0) is drawn with SampleState(..., opts.Seq, n,
// st), st one State for the whole generation (Mirostat's mu);
// contrastive search when opts.Contrastive is set. Generation ends at a stop
// token, a stop string, the detector (action stop), or MaxTokens. With the
// detector action escalate, each firing multiplies the repetition penalty by
// EscalateRepetition and adds EscalatePresence to the presence penalty for
// the remaining tokens.
//
// Generate advances m's state and never closes m; models it forks are closed
// before it returns.
func Generate(m Model, prompt []int, s *Sampler, opts Options) (*Result, error) {
	if len(prompt) == 0 {
		return nil, errors.New("sampler: empty prompt")
	}
	if opts.MaxTokens < 1 {
		return nil, fmt.Errorf("sampler: max tokens must be >= 1, got %d", opts.MaxTokens)
	}
	if opts.Contrastive != nil {
		if err := opts.Contrastive.Validate(); err != nil {
			return nil, err
		}
	}
	cfg := s.Config()
	stop, err := NewStopMatcher(cfg.StopStrings, opts.Decode)
	if err != nil {
		return nil, err
	}
	var det *Detector
	if cfg.Detector.Enabled() {
		if det, err = NewDetector(cfg.Detector); err != nil {
			return nil, err
		}
	}

	res := &Result{Reason: StopLength}
	if opts.Decode != nil {
		res.Text = []byte{}
	}
	history := append([]int(nil), prompt...)
	hist := func() []int {
		if opts.PenalizeGeneratedOnly {
			return history[len(prompt):]
		}
		return history
	}

	var next func(step int) (int, error)
	var cleanup func()
	if opts.Contrastive == nil {
		logits, _, err := m.Step(prompt)
		if err != nil {
			return nil, err
		}
		st := s.NewState()
		next = func(step int) (int, error) {
			id, err := s.SampleState(logits, hist(), opts.Seq, uint64(step), st)
			if err != nil {
				return 0, err
			}
			if !s.IsStopToken(id) && step+1 < opts.MaxTokens {
				if logits, _, err = m.Step([]int{id}); err != nil {
					return 0, err
				}
			}
			return id, nil
		}
	} else {
		cs, err := newContrastive(m, prompt, *opts.Contrastive)
		if err != nil {
			return nil, err
		}
		cleanup = cs.close
		next = func(int) (int, error) { return cs.next(s, hist()) }
	}
	if cleanup != nil {
		defer cleanup()
	}

	for step := 0; step < opts.MaxTokens; step++ {
		id, err := next(step)
		if err != nil {
			return nil, err
		}
		if s.IsStopToken(id) {
			res.Reason = StopToken
			break
		}
		history = append(history, id)
		res.Tokens = append(res.Tokens, id)
		text, stopped, err := stop.Push(id)
		if err != nil {
			return nil, err
		}
		res.Text = append(res.Text, text...)
		if opts.OnToken != nil {
			if err := opts.OnToken(id, text); err != nil {
				return nil, err
			}
		}
		if stopped {
			res.Reason = StopString
			break
		}
		if det != nil {
			if fired, v := det.Observe(id); fired {
				act := det.Config().Action
				res.Events = append(res.Events, DetectorEvent{Step: step, SeqRep: v, Action: act})
				if act == DetectStop {
					res.Reason = StopRepetition
					break
				}
				if act == DetectEscalate {
					dc := det.Config()
					cfg.RepetitionPenalty *= dc.EscalateRepetition
					cfg.PresencePenalty += dc.EscalatePresence
					if s, err = New(cfg); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if res.Reason != StopString {
		tail := stop.Flush()
		res.Text = append(res.Text, tail...)
		if opts.OnToken != nil && len(tail) > 0 {
			if err := opts.OnToken(-1, tail); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// contrastive holds the state of a contrastive search.
type contrastive struct {
	cfg    ContrastiveConfig
	root   Model // the caller's model; never closed here
	cur    Model // current state; owned when != root
	logits []float32
	ctx    [][]float32 // hidden states of every token fed so far
}

// newContrastive feeds the prompt one token at a time to collect the hidden
// state of every prompt token.
func newContrastive(m Model, prompt []int, cfg ContrastiveConfig) (*contrastive, error) {
	c := &contrastive{cfg: cfg, root: m, cur: m}
	for _, t := range prompt {
		lg, h, err := m.Step([]int{t})
		if err != nil {
			return nil, err
		}
		if h == nil {
			return nil, errors.New("sampler: contrastive search needs the model's hidden state")
		}
		c.logits = lg
		c.ctx = append(c.ctx, h)
	}
	return c, nil
}

func (c *contrastive) close() {
	if c.cur != c.root {
		c.cur.Close()
	}
}

func (c *contrastive) next(s *Sampler, history []int) (int, error) {
	adj, err := s.Adjust(c.logits, history)
	if err != nil {
		return 0, err
	}
	p := Softmax(adj)
	if p == nil {
		return 0, ErrNoCandidates
	}
	cands := survivorsByLogit(adj)
	if len(cands) > c.cfg.TopK {
		cands = cands[:c.cfg.TopK]
	}
	var (
		best      = -1
		bestScore float64
		bestModel Model
		bestLg    []float32
		bestH     []float32
	)
	for _, id := range cands {
		f, err := c.cur.Fork()
		if err != nil {
			closeModel(bestModel)
			return 0, err
		}
		lg, h, err := f.Step([]int{id})
		if err == nil && h == nil {
			err = errors.New("sampler: contrastive search needs the model's hidden state")
		}
		if err != nil {
			f.Close()
			closeModel(bestModel)
			return 0, err
		}
		maxSim := math.Inf(-1)
		for _, hj := range c.ctx {
			maxSim = math.Max(maxSim, cosine(h, hj))
		}
		score := (1-c.cfg.Alpha)*p[id] - c.cfg.Alpha*maxSim
		if best < 0 || score > bestScore {
			closeModel(bestModel)
			best, bestScore, bestModel, bestLg, bestH = id, score, f, lg, h
		} else {
			f.Close()
		}
	}
	if c.cur != c.root {
		c.cur.Close()
	}
	c.cur, c.logits = bestModel, bestLg
	c.ctx = append(c.ctx, bestH)
	return best, nil
}

func closeModel(m Model) {
	if m != nil {
		m.Close()
	}
}

// cosine returns the cosine similarity of a and b in float64; 0 when either
// is the zero vector.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range min(len(a), len(b)) {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// BeamConfig configures BeamSearch.
type BeamConfig struct {
	// NumBeams is the beam width, >= 1.
	NumBeams int
	// LengthPenalty is the exponent lp of the length normalization: a
	// finished hypothesis scores sum(logprob) / len^lp. Hugging Face's
	// default is 1.
	LengthPenalty float64
	// EarlyStopping stops as soon as NumBeams hypotheses are finished;
	// otherwise search stops when no running beam can beat the worst
	// finished hypothesis under the heuristic best_running_sum / cur_len^lp.
	EarlyStopping bool
	// MaxTokens is the maximum number of generated tokens, >= 1.
	MaxTokens int
}

// Hypothesis is one beam search result.
type Hypothesis struct {
	// Tokens are the generated tokens without the final stop token.
	Tokens []int
	// SumLogProb is the sum of the log-probabilities of the generated tokens,
	// the stop token included.
	SumLogProb float64
	// Score is SumLogProb / Length^LengthPenalty.
	Score float64
	// Length is the generated length used for the score: len(Tokens), plus
	// one when the hypothesis ended with a stop token.
	Length int
}

type beam struct {
	model  Model
	owned  bool
	tokens []int
	score  float64
	logits []float32
}

type beamCand struct {
	beam, token int
	score       float64
}

// BeamSearch runs beam search with Hugging Face semantics and returns up to
// NumBeams hypotheses, best first. s, which may be nil, supplies the stop
// tokens and the penalty, n-gram and bias stages (Sampler.Adjust, history =
// prompt followed by the beam's tokens) applied to the logits before
// log-softmax; its temperature and truncation stages are not used.
//
// Each step: every running beam's log-softmax is added to its score; the best
// max(2, 1+len(StopTokens))*NumBeams candidates overall are ranked by score
// descending, then beam index, then token id ascending. In rank order, a stop
// token ranked below NumBeams is skipped, one ranked within NumBeams finishes
// its beam as a hypothesis of length cur (cur = generated tokens counting
// this step's), and other candidates become the next beams until NumBeams
// are chosen. The search is done when NumBeams hypotheses are kept and either
// EarlyStopping is set or the worst kept score >= best candidate score /
// cur^LengthPenalty. At MaxTokens the running beams are added as hypotheses
// (unless done). Only the best NumBeams hypotheses are kept. The search
// starts from the single prompt state; each chosen beam forks its parent's
// model state.
//
// BeamSearch advances m's state and never closes m; models it forks are closed
// before it returns. With NumBeams 1 and no stop tokens it returns the greedy
// continuation.
func BeamSearch(m Model, prompt []int, s *Sampler, cfg BeamConfig) ([]Hypothesis, error) {
	if len(prompt) == 0 {
		return nil, errors.New("sampler: empty prompt")
	}
	if cfg.NumBeams < 1 {
		return nil, fmt.Errorf("sampler: number of beams must be >= 1, got %d", cfg.NumBeams)
	}
	if cfg.MaxTokens < 1 {
		return nil, fmt.Errorf("sampler: max tokens must be >= 1, got %d", cfg.MaxTokens)
	}
	if !finite(cfg.LengthPenalty) {
		return nil, fmt.Errorf("sampler: length penalty must be finite, got %v", cfg.LengthPenalty)
	}
	if s == nil {
		var err error
		if s, err = New(DefaultConfig()); err != nil {
			return nil, err
		}
	}
	nStops := len(s.stops)
	nKeep := max(2, 1+nStops) * cfg.NumBeams

	logits, _, err := m.Step(prompt)
	if err != nil {
		return nil, err
	}
	beams := []*beam{{model: m, logits: logits}}
	defer func() {
		for _, b := range beams {
			if b.owned {
				b.model.Close()
			}
		}
	}()
	hyps := &hypotheses{n: cfg.NumBeams, lp: cfg.LengthPenalty}
	hist := make([]int, 0, len(prompt)+cfg.MaxTokens)

	for cur := 1; ; cur++ {
		var cands []beamCand
		for bi, b := range beams {
			hist = append(append(hist[:0], prompt...), b.tokens...)
			adj, err := s.Adjust(b.logits, hist)
			if err != nil {
				return nil, err
			}
			lp := logSoftmax(adj)
			if lp == nil {
				continue
			}
			top := survivorsByLogit(adj)
			if len(top) > nKeep {
				top = top[:nKeep]
			}
			for _, t := range top {
				cands = append(cands, beamCand{beam: bi, token: t, score: b.score + lp[t]})
			}
		}
		if len(cands) == 0 {
			if hyps.len() == 0 {
				return nil, ErrNoCandidates
			}
			break
		}
		sort.SliceStable(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if a.score != b.score {
				return a.score > b.score
			}
			if a.beam != b.beam {
				return a.beam < b.beam
			}
			return a.token < b.token
		})
		if len(cands) > nKeep {
			cands = cands[:nKeep]
		}
		var chosen []beamCand
		for rank, c := range cands {
			if s.IsStopToken(c.token) {
				if rank >= cfg.NumBeams {
					continue
				}
				hyps.add(append([]int(nil), beams[c.beam].tokens...), c.score, cur)
			} else {
				chosen = append(chosen, c)
			}
			if len(chosen) == cfg.NumBeams {
				break
			}
		}
		done := hyps.isDone(cands[0].score, cur, cfg.EarlyStopping) || len(chosen) == 0
		if done || cur == cfg.MaxTokens {
			if !done {
				for _, c := range chosen {
					toks := append(append([]int(nil), beams[c.beam].tokens...), c.token)
					hyps.add(toks, c.score, cur)
				}
			}
			break
		}
		next, err := advanceBeams(beams, chosen)
		if err != nil {
			return nil, err
		}
		beams = next
	}
	return hyps.sorted(), nil
}

// advanceBeams builds the next beams: each chosen candidate forks its parent's
// model (an owned parent's last child takes the parent's model over) and
// feeds its token. Parents without children are closed. On error every model
// forked here is closed and beams keeps ownership of its models.
func advanceBeams(beams []*beam, chosen []beamCand) ([]*beam, error) {
	lastChild := map[int]int{}
	for i, c := range chosen {
		lastChild[c.beam] = i
	}
	next := make([]*beam, 0, len(chosen))
	taken := map[int]bool{}
	var forked []Model
	fail := func(err error) ([]*beam, error) {
		for _, f := range forked {
			f.Close()
		}
		return nil, err
	}
	for i, c := range chosen {
		p := beams[c.beam]
		var mdl Model
		if p.owned && lastChild[c.beam] == i {
			mdl = p.model
			taken[c.beam] = true
		} else {
			f, err := p.model.Fork()
			if err != nil {
				return fail(err)
			}
			forked = append(forked, f)
			mdl = f
		}
		nb := &beam{model: mdl, owned: true, score: c.score,
			tokens: append(append([]int(nil), p.tokens...), c.token)}
		next = append(next, nb)
		lg, _, err := mdl.Step([]int{c.token})
		if err != nil {
			return fail(err)
		}
		nb.logits = lg
	}
	for bi, b := range beams {
		if b.owned && !taken[bi] {
			b.model.Close()
		}
		// Ownership moved to next (or the model is closed).
		b.owned = false
	}
	return next, nil
}

// logSoftmax returns log Softmax(l) in float64 (-Inf for -Inf logits), or nil
// when every logit is -Inf.
func logSoftmax(l []float64) []float64 {
	m := math.Inf(-1)
	for _, x := range l {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return nil
	}
	z := 0.0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			z += math.Exp(x - m)
		}
	}
	lz := m + math.Log(z)
	out := make([]float64, len(l))
	for i, x := range l {
		out[i] = x - lz
	}
	return out
}

// hypotheses keeps the n best finished hypotheses (Hugging Face
// BeamHypotheses).
type hypotheses struct {
	n     int
	lp    float64
	list  []Hypothesis
	worst float64
}

func (h *hypotheses) len() int { return len(h.list) }

func (h *hypotheses) add(tokens []int, sum float64, length int) {
	score := sum / math.Pow(float64(length), h.lp)
	if len(h.list) < h.n || score > h.worst {
		h.list = append(h.list, Hypothesis{Tokens: tokens, SumLogProb: sum, Score: score, Length: length})
		if len(h.list) > h.n {
			wi := 0
			for i, x := range h.list {
				if x.Score < h.list[wi].Score {
					wi = i
				}
			}
			h.list = append(h.list[:wi], h.list[wi+1:]...)
		}
		h.worst = math.Inf(1)
		for _, x := range h.list {
			h.worst = math.Min(h.worst, x.Score)
		}
	}
}

func (h *hypotheses) isDone(bestSum float64, cur int, early bool) bool {
	if len(h.list) < h.n {
		return false
	}
	if early {
		return true
	}
	return h.worst >= bestSum/math.Pow(float64(cur), h.lp)
}

// sorted returns the hypotheses best first (stable for equal scores).
func (h *hypotheses) sorted() []Hypothesis {
	out := append([]Hypothesis(nil), h.list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}
