package engine

import (
	"errors"
	"fmt"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// ErrNoDeviceDecoder is returned by NewDecoder on a backend without a
// device-resident decode loop (backend.DeviceDecoder), such as the pure-Go
// one.
var ErrNoDeviceDecoder = errors.New("engine: the backend has no device-resident decode loop")

// ErrDecoding is returned when a session that occupies a Decoder row is
// stepped or changed.
var ErrDecoding = errors.New("engine: the session is generating on a decoder")

// decodeDepth is the number of launches a decoder's results ring holds.
const decodeDepth = 4

// Decoder runs batched generation with the decode loop on the device
// (backend.DeviceDecoder): each sequence's next token id lives in device
// memory, the embedding reads it there, the fused device sampler draws
// the next one from logits that never leave the device, stop tokens and
// token budgets are checked there, and only 16 bytes per sequence (the
// token, flags and optional log-probability) reach the host, through a
// mapped ring, without a per-step synchronization: Launch queues step t+1
// before Read returns step t's tokens. On a backend that captures graphs
// (backend.GraphCapturer) each step size (a power of two, the active rows
// padded with idle ones) is captured once and replayed with one launch.
//
// The tokens are those of sampler.Generate with the same settings, seed
// and sequence id (greedy and sampled), for the settings the device
// sampler implements (sampler.Config.FusedSupported; settings in float32,
// see bindings.Sampler): Add refuses others with an error wrapping
// backend.ErrDecodeUnsupported. A Decoder is not safe for
// concurrent use; its methods take the model's lock.
type Decoder struct {
	m      *Model
	loop   backend.DecodeLoop
	rows   []decodeRow
	cap    int // rows rounded up to a power of two (the step sizes' bound)
	s      scratchCache
	graphs map[int]backend.Graph
	// graphStates is the state pool's generation (statePool.gen) the
	// graphs were captured with: a pool that moved (grew) invalidates them.
	graphStates uint64
	noGraphs    bool
	pending     []uint64 // committed, unread launches, oldest first
	res         []backend.DecodeResult
	out         []DecodeToken
	reqs        []*Request
	rowsOf      []int
	committed   uint64 // launches committed (the number of the next one)
	top         []backend.DecodeTop
	err         error // a failed launch: the decoder is unusable
}

// decodeRow is the host's view of one row.
type decodeRow struct {
	s        *Session
	active   bool
	from     uint64 // the first launch whose results belong to this occupant
	next     int    // index of the row's next token
	logprobs bool
	top      int // alternatives listed with each token (TopLogprobs)
	req      Request
}

// DecodeRequest is one sequence to generate for (Decoder.Add).
type DecodeRequest struct {
	// Session is fed Prompt (non-empty) from its current state; then
	// tokens are drawn as by sampler.Generate with Sampler's settings,
	// Seq and MaxTokens (>= 1). The history of the penalties is Prompt
	// and the drawn tokens, or only the latter with PenalizeGeneratedOnly.
	Session               *Session
	Prompt                []int
	Sampler               sampler.Config
	Seq                   uint64
	MaxTokens             int
	PenalizeGeneratedOnly bool
	// Logprobs asks for each token's log-probability under the model;
	// TopLogprobs (0..20, with Logprobs) for that many most likely
	// tokens with theirs, computed on the device.
	Logprobs    bool
	TopLogprobs int
}

// DecodeToken is a token drawn for one row.
type DecodeToken struct {
	Row     int
	Session *Session
	// Token is the id (-1 when every token was filtered out: Err is then
	// set). Index is its 0-based index in the row's generation.
	Token int
	Index int
	// Logprob is its log-probability under the model (Logprobs requests),
	// TopLogprobs the most likely tokens (TopLogprobs requests; most
	// likely first, the lower id on ties).
	Logprob     float64
	TopLogprobs []TokenLogprob
	// Done says the row finished with this token: Reason StopToken (Token
	// is a stop token, which sampler.Generate does not emit) or
	// StopLength; the row is free again.
	Done   bool
	Reason sampler.StopReason
	// Err is set when nothing survived the sampler's filters (wraps
	// sampler.ErrNoCandidates).
	Err error
}

// NewDecoder returns a decoder of up to rows (1..256) concurrent sequences
// on the model's backend; an error wraps ErrNoDeviceDecoder when the
// backend has no device loop, backend.ErrDecodeUnsupported when it cannot
// take the model (its vocabulary). Its buffers (device ring, activations)
// are allocated here, once.
func (m *Model) NewDecoder(rows int) (*Decoder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newDecoderLocked(rows)
}

func (m *Model) newDecoderLocked(rows int) (*Decoder, error) {
	if m.closed {
		return nil, ErrClosed
	}
	dd, ok := m.be.(backend.DeviceDecoder)
	if !ok {
		return nil, ErrNoDeviceDecoder
	}
	if rows < 1 || rows > 256 {
		return nil, fmt.Errorf("engine: a decoder of %d rows (want 1..256)", rows)
	}
	loop, err := dd.NewDecodeLoop(rows, m.cfg.Vocab, decodeDepth)
	if err != nil {
		return nil, fmt.Errorf("engine: device decode loop: %w", err)
	}
	d := &Decoder{m: m, loop: loop, rows: make([]decodeRow, rows), cap: pow2(rows), graphs: map[int]backend.Graph{},
		res: make([]backend.DecodeResult, rows)}
	if m.liveDecoders == nil {
		m.liveDecoders = map[*Decoder]struct{}{}
	}
	m.liveDecoders[d] = struct{}{}
	// Every buffer at its final size now, so that no later step allocates
	// and captured graphs never see them move.
	d.s.get(m.be, m.cfg, d.cap)
	d.s.head(m.be, m.cfg, d.cap)
	if err := m.be.Err(); err != nil {
		d.closeLocked()
		return nil, fmt.Errorf("engine: decoder buffers: %w", err)
	}
	return d, nil
}

// pow2 returns the smallest power of two >= n.
func pow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// Rows returns the number of rows.
func (d *Decoder) Rows() int { return len(d.rows) }

// Active returns the number of rows generating.
func (d *Decoder) Active() int {
	n := 0
	for i := range d.rows {
		if d.rows[i].active {
			n++
		}
	}
	return n
}

// Pending returns the number of launched steps whose tokens Read has not
// returned yet.
func (d *Decoder) Pending() int { return len(d.pending) }

// Add admits requests into free rows: their prompts are fed in one batched
// step (their logits stay on the device) and their first tokens drawn on
// the device, to be returned by Read. It returns the rows. Settings the
// device sampler lacks are refused with an error (nothing is fed then).
func (d *Decoder) Add(reqs []DecodeRequest) ([]int, error) {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := d.usable(); err != nil {
		return nil, err
	}
	// Each round of the prefill in which prompts end is an admission
	// launch.
	rounds := 0
	for _, q := range reqs {
		rounds = max(rounds, (len(q.Prompt)+MaxChunk-1)/MaxChunk)
	}
	if len(d.pending)+rounds >= decodeDepth {
		return nil, fmt.Errorf("engine: %d unread launches: Read before adding prompts of %d chunks", len(d.pending), rounds)
	}
	rows := make([]int, 0, len(reqs))
	undo := func() {
		for _, r := range rows {
			d.loop.ClearRow(r)
			d.rows[r].s.dec = nil
			d.rows[r] = decodeRow{}
		}
	}
	for i, q := range reqs {
		switch {
		case q.Session == nil || q.Session.m != m:
			undo()
			return nil, fmt.Errorf("engine: decode request %d: no session of this model", i)
		case q.Session.closed:
			undo()
			return nil, ErrClosed
		case q.Session.dec != nil:
			undo()
			return nil, fmt.Errorf("engine: decode request %d: %w", i, ErrDecoding)
		case len(q.Prompt) == 0 || q.MaxTokens < 1:
			undo()
			return nil, fmt.Errorf("engine: decode request %d: %d prompt tokens, %d max tokens", i, len(q.Prompt), q.MaxTokens)
		case q.TopLogprobs < 0 || q.TopLogprobs > backend.MaxTopLogprobs || q.TopLogprobs > 0 && !q.Logprobs:
			undo()
			return nil, fmt.Errorf("engine: decode request %d: %d top log-probabilities (0..%d, with Logprobs)", i, q.TopLogprobs, backend.MaxTopLogprobs)
		}
		if err := q.Sampler.Validate(); err != nil {
			undo()
			return nil, err
		}
		if q.Sampler.Detector.Enabled() {
			undo()
			return nil, fmt.Errorf("engine: the repetition detector: %w", backend.ErrDecodeUnsupported)
		}
		row := -1
		for r := range d.rows {
			if !d.rows[r].active && d.rows[r].s == nil {
				row = r
				break
			}
		}
		if row < 0 {
			undo()
			return nil, fmt.Errorf("engine: no free decoder row for request %d (%d rows)", i, len(d.rows))
		}
		if err := m.states.resident(q.Session); err != nil {
			undo()
			return nil, err
		}
		hist := q.Prompt
		if q.PenalizeGeneratedOnly {
			hist = nil
		}
		err := d.loop.SetRow(row, backend.DecodeRow{Slot: q.Session.slot, Sampler: q.Sampler, Seq: q.Seq, History: hist,
			Remaining: q.MaxTokens, Logprobs: q.Logprobs, TopLogprobs: q.TopLogprobs})
		if err != nil {
			undo()
			return nil, err
		}
		q.Session.dec = d
		d.rows[row] = decodeRow{s: q.Session, logprobs: q.Logprobs, top: q.TopLogprobs}
		rows = append(rows, row)
	}
	// The prefill: the logits of each prompt's last token stay on the
	// device, where step draws the first tokens (admit).
	d.reqs = d.reqs[:0]
	for i, q := range reqs {
		r := &d.rows[rows[i]].req
		*r = Request{Session: q.Session, Tokens: q.Prompt, admitRow: rows[i] + 1}
		d.reqs = append(d.reqs, r)
	}
	m.admitting = d
	err := m.stepLocked(d.reqs)
	m.admitting = nil
	for _, r := range d.reqs {
		r.Tokens = nil
	}
	if err == nil {
		err = d.err
	}
	if err != nil {
		undo()
		d.fail(err)
		return nil, err
	}
	for _, r := range rows {
		d.rows[r].active = true
		d.rows[r].next = 0
	}
	return rows, nil
}

// admit is the step's admission draw (Model.step): row i of logits for
// decoder row rows[i] (-1: none).
func (d *Decoder) admit(logits backend.Tensor, rows []int) {
	d.loop.Admit(logits, rows)
	l, err := d.loop.Commit()
	if err != nil {
		d.err = err
		return
	}
	for _, r := range rows {
		if r >= 0 {
			d.rows[r].from = l
		}
	}
	d.committed = l + 1
	d.pending = append(d.pending, l)
}

// decodeResume is a sequence whose prompt the host has fed and whose
// tokens up to Step it has drawn (Decoder.resume).
type decodeResume struct {
	Session *Session
	Sampler sampler.Config
	Seq     uint64
	// Token is the last token drawn (the next step feeds it) and Step its
	// index + 1: the index of the next token drawn.
	Token, Step int
	// History is the penalties' history before the next draw.
	History []int
	// Remaining is the number of tokens still to draw (>= 1).
	Remaining   int
	Logprobs    bool
	TopLogprobs int
}

// resume makes a free row continue q's generation: the next launch feeds
// q.Token and draws token q.Step as sampler.Sampler.Sample would (seed,
// q.Seq, q.Step). It returns the row. An error wrapping
// backend.ErrDecodeUnsupported (settings the device lacks, no free row)
// leaves the decoder as it was; the sequence is then stepped on the host.
func (d *Decoder) resume(q decodeResume) (int, error) {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := d.usable(); err != nil {
		return -1, err
	}
	s := q.Session
	switch {
	case s == nil || s.m != m:
		return -1, errors.New("engine: decoder resume: no session of this model")
	case s.closed:
		return -1, ErrClosed
	case s.dec != nil:
		return -1, ErrDecoding
	case q.Remaining < 1:
		return -1, fmt.Errorf("engine: decoder resume: %d tokens remaining", q.Remaining)
	case q.Sampler.Detector.Enabled():
		return -1, fmt.Errorf("engine: the repetition detector: %w", backend.ErrDecodeUnsupported)
	}
	row := -1
	for r := range d.rows {
		if !d.rows[r].active && d.rows[r].s == nil {
			row = r
			break
		}
	}
	if row < 0 {
		return -1, fmt.Errorf("engine: no free decoder row (%d rows): %w", len(d.rows), backend.ErrDecodeUnsupported)
	}
	if err := m.states.resident(s); err != nil {
		return -1, err
	}
	err := d.loop.SetRow(row, backend.DecodeRow{Slot: s.slot, Token: q.Token, Sampler: q.Sampler, Seq: q.Seq,
		Step: uint64(q.Step), History: q.History, Remaining: q.Remaining, Logprobs: q.Logprobs, TopLogprobs: q.TopLogprobs})
	if err != nil {
		return -1, err // the row stays idle
	}
	s.dec = d
	d.rows[row] = decodeRow{s: s, active: true, from: d.committed, next: q.Step, logprobs: q.Logprobs, top: q.TopLogprobs}
	return row, nil
}

// session returns the session generating on row (nil: none).
func (d *Decoder) session(row int) *Session {
	if row < 0 || row >= len(d.rows) {
		return nil
	}
	return d.rows[row].s
}

// Launch queues one decode step for every active row: it feeds each row's
// last token and draws its next one, returned by a later Read. It does
// nothing when no row is active. At most 3 launches may be unread.
func (d *Decoder) Launch() error {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	hi := -1
	for r := range d.rows {
		if d.rows[r].active {
			hi = r
		}
	}
	if hi < 0 {
		return nil
	}
	if len(d.pending) >= decodeDepth-1 {
		return fmt.Errorf("engine: %d unread launches: Read before launching", len(d.pending))
	}
	n := min(pow2(hi+1), len(d.rows))
	be := m.be
	s, h := d.s.get(be, m.cfg, n), d.s.head(be, m.cfg, n)
	if gc, ok := be.(backend.GraphCapturer); ok && !d.noGraphs {
		if d.graphStates != m.states.gen {
			d.closeGraphs()
			d.graphStates = m.states.gen
		}
		g := d.graphs[n]
		if g == nil {
			if err := gc.BeginCapture(); err != nil {
				return d.fail(err)
			}
			d.enqueue(n, s, h)
			var err error
			if g, err = gc.EndCapture(); err != nil {
				return d.fail(err)
			}
			d.graphs[n] = g
		}
		g.Launch()
	} else {
		d.enqueue(n, s, h)
	}
	if err := be.Err(); err != nil {
		return d.fail(err)
	}
	l, err := d.loop.Commit()
	if err != nil {
		return d.fail(err)
	}
	d.committed = l + 1
	d.pending = append(d.pending, l)
	return nil
}

// enqueue queues one decode step over rows [0, n).
func (d *Decoder) enqueue(n int, s *scratch, h *headScratch) {
	m := d.m
	be := m.be
	d.loop.BeginStep(n)
	d.loop.Embed(s.x, m.emb)
	be.LayerNorm(s.x, s.x, m.ln0w, m.ln0b, m.cfg.LayerNormEps)
	m.decode = true
	m.forward(s)
	be.LayerNorm(h.hid, s.x, m.lnOutW, m.lnOutB, m.cfg.LayerNormEps) // every row is an output row
	be.MatMul(h.logits, h.hid, m.head)
	d.loop.Sample(h.logits)
}

// Read waits for the oldest unread launch (an admission or a step) and
// returns the tokens it drew, one per row that drew one, in row order (nil
// when nothing is pending). A row whose token is Done is free again: its
// session may be used (its state has been fed every token but the last,
// as by sampler.Generate). The slice is reused by the next Read.
func (d *Decoder) Read() ([]DecodeToken, error) {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := d.usable(); err != nil {
		return nil, err
	}
	if len(d.pending) == 0 {
		return nil, nil
	}
	l := d.pending[0]
	hi := 0
	for r := range d.rows {
		if d.rows[r].s != nil {
			hi = r + 1
		}
	}
	if _, err := d.loop.Read(l, true, d.res[:max(hi, 1)]); err != nil {
		return nil, d.fail(err)
	}
	copy(d.pending, d.pending[1:])
	d.pending = d.pending[:len(d.pending)-1]
	d.out = d.out[:0]
	for r := 0; r < hi; r++ {
		row := &d.rows[r]
		e := d.res[r]
		if !row.active || l < row.from || e.Flags&backend.DecodeIdle != 0 {
			continue
		}
		t := DecodeToken{Row: r, Session: row.s, Token: int(e.Token), Index: row.next, Done: e.Flags&backend.DecodeDone != 0}
		if row.logprobs {
			t.Logprob = float64(e.Logprob)
		}
		if row.top > 0 && e.Token >= 0 {
			if err := d.readTop(l, r, &t); err != nil {
				return nil, d.fail(err)
			}
		}
		switch {
		case e.Flags&backend.DecodeNoToken != 0:
			t.Err = fmt.Errorf("engine: decoder row %d, token %d: %w", r, row.next, sampler.ErrNoCandidates)
		case e.Flags&backend.DecodeStop != 0:
			t.Reason = sampler.StopToken
		case t.Done:
			t.Reason = sampler.StopLength
		}
		row.next++
		if t.Done {
			d.release(r)
		}
		d.out = append(d.out, t)
	}
	return d.out, nil
}

// readTop fills t.TopLogprobs with row r's alternatives in launch l (its
// own slice: the event keeps it).
func (d *Decoder) readTop(l uint64, r int, t *DecodeToken) error {
	n := d.rows[r].top
	if cap(d.top) < n {
		d.top = make([]backend.DecodeTop, backend.MaxTopLogprobs)
	}
	top := d.top[:n]
	if err := d.loop.ReadTop(l, r, top); err != nil {
		return err
	}
	t.TopLogprobs = make([]TokenLogprob, 0, n)
	for _, a := range top {
		if a.Token < 0 {
			break
		}
		t.TopLogprobs = append(t.TopLogprobs, TokenLogprob{Token: int(a.Token), Logprob: float64(a.Logprob)})
	}
	return nil
}

// release frees row r on the host (its device row is done or cleared).
func (d *Decoder) release(r int) {
	if s := d.rows[r].s; s != nil {
		s.dec = nil
	}
	d.rows[r] = decodeRow{}
}

// Remove ends the generation of row's sequence: its tokens still in
// flight are dropped, and its session is free again. The step launched
// last may already have fed the row's last token read (as sampler.Generate
// does before it returns a token).
func (d *Decoder) Remove(row int) error {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if row < 0 || row >= len(d.rows) {
		return fmt.Errorf("engine: decoder row %d outside [0, %d)", row, len(d.rows))
	}
	return d.removeLocked(row)
}

func (d *Decoder) removeLocked(row int) error {
	if d.rows[row].s == nil {
		return nil
	}
	var err error
	if d.loop != nil && d.err == nil && d.rows[row].active {
		err = d.loop.ClearRow(row)
	}
	d.release(row)
	return err
}

// removeSession removes s's row (the model's lock held).
func (d *Decoder) removeSession(s *Session) {
	for r := range d.rows {
		if d.rows[r].s == s {
			d.removeLocked(r)
		}
	}
}

// Close releases the decoder: rows still generating are removed first.
// Model.Close closes the decoders still open.
func (d *Decoder) Close() error {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	d.closeLocked()
	return nil
}

func (d *Decoder) closeLocked() {
	delete(d.m.liveDecoders, d)
	for r := range d.rows {
		d.release(r)
	}
	d.closeGraphs()
	if d.loop != nil {
		d.loop.Close()
		d.loop = nil
	}
	d.s.freeAll(d.m.be)
	d.m.be.Err() // a failure while closing leaves nothing to report
	if d.err == nil {
		d.err = errors.New("engine: decoder is closed")
	}
}

func (d *Decoder) closeGraphs() {
	for n, g := range d.graphs {
		g.Close()
		delete(d.graphs, n)
	}
}

func (d *Decoder) usable() error {
	if d.m.closed {
		return ErrClosed
	}
	return d.err
}

// fail makes the decoder unusable after err (the device loop's state is no
// longer known): every row is released and later calls return err.
func (d *Decoder) fail(err error) error {
	err = fmt.Errorf("engine: device decode loop: %w", err)
	if errors.Is(err, ErrWeightsUnreadable) {
		d.m.markBroken(err)
	}
	d.m.be.Err()
	d.closeLocked()
	d.err = err
	return err
}
