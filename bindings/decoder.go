package bindings

import (
	"errors"
	"fmt"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// MaxDecodeStops is the most stop tokens a row of a device decode loop
// checks on the device (sampler.Config.StopTokens).
const MaxDecodeStops = cDecodeMaxStop

// maxDecodeRows is the most rows of a decode loop (rwkvcu_decoder_create).
const maxDecodeRows = 4096

// decodeLoop is the device-resident decode loop of librwkvcu
// (rwkvcu_decoder_*) over a device sampler: backend.DecodeLoop.
type decodeLoop struct {
	b    *Backend
	smp  *Sampler
	h    ptr
	rows int
	// Scratch reused by every call (no allocation per step).
	tokens []int32
	flags  []uint32
	lps    []float32
	stop   []int32
	admit  []int32
	topIDs []int32
	topLPs []float32
	// Out-parameters of the C calls, kept here so that passing their
	// addresses allocates nothing.
	launch uint64
	ready  int32
}

// NewDecodeLoop creates a decode loop of rows rows over a vocabulary of
// vocab ids with a results ring of depth launches (backend.DeviceDecoder).
func (b *Backend) NewDecodeLoop(rows, vocab, depth int) (backend.DecodeLoop, error) {
	if rows < 1 || rows > maxDecodeRows || vocab < 1 || vocab > MaxSamplerVocab {
		return nil, fmt.Errorf("cuda: NewDecodeLoop: %d rows over a vocabulary of %d (at most %d and %d): %w: %w",
			rows, vocab, maxDecodeRows, MaxSamplerVocab, backend.ErrDecodeUnsupported, ErrInvalidArgument)
	}
	smp, err := b.NewSampler(rows, vocab)
	if err != nil {
		return nil, err
	}
	var h ptr
	if rc := b.api.decoderCreate(b.ctx, smp.h, int32(depth), &h); rc != StatusOK {
		err := b.callErr("rwkvcu_decoder_create", rc)
		smp.Close()
		return nil, err
	}
	return &decodeLoop{b: b, smp: smp, h: h, rows: rows,
		tokens: make([]int32, rows), flags: make([]uint32, rows), lps: make([]float32, rows), admit: make([]int32, rows),
		topIDs: make([]int32, cDecodeMaxTop), topLPs: make([]float32, cDecodeMaxTop)}, nil
}

func (d *decodeLoop) Rows() int { return d.rows }

func (d *decodeLoop) usable(op string) error {
	if d.h == nil || d.b.ctx == nil {
		return fmt.Errorf("cuda: DecodeLoop.%s: loop or backend is closed: %w", op, ErrInvalidArgument)
	}
	return nil
}

// SetRow configures row: its sampler row (Sampler.SetRow, which says which
// settings the device lacks, wrapping ErrNotSupported), its history, then
// the loop's row. At most MaxDecodeStops stop tokens.
func (d *decodeLoop) SetRow(row int, r backend.DecodeRow) error {
	if err := d.usable("SetRow"); err != nil {
		return err
	}
	if len(r.Sampler.StopTokens) > MaxDecodeStops {
		return fmt.Errorf("cuda: DecodeLoop.SetRow: %d stop tokens (the device checks at most %d): %w: %w",
			len(r.Sampler.StopTokens), MaxDecodeStops, backend.ErrDecodeUnsupported, ErrNotSupported)
	}
	if r.Slot < 0 || r.Remaining < 1 {
		return fmt.Errorf("cuda: DecodeLoop.SetRow: slot %d, %d tokens remaining: %w", r.Slot, r.Remaining, ErrInvalidArgument)
	}
	if r.TopLogprobs < 0 || r.TopLogprobs > cDecodeMaxTop || (r.TopLogprobs > 0 && !r.Logprobs) {
		return fmt.Errorf("cuda: DecodeLoop.SetRow: %d top log-probabilities (0..%d, with Logprobs): %w",
			r.TopLogprobs, cDecodeMaxTop, ErrInvalidArgument)
	}
	if err := d.smp.SetRow(row, r.Sampler, r.Seq); err != nil {
		if errors.Is(err, ErrNotSupported) {
			err = fmt.Errorf("%w: %w", backend.ErrDecodeUnsupported, err)
		}
		return err
	}
	if err := d.smp.Observe(row, r.History); err != nil {
		return err
	}
	d.stop = d.stop[:0]
	for _, id := range r.Sampler.StopTokens {
		d.stop = append(d.stop, int32(id))
	}
	var stop *int32
	if len(d.stop) > 0 {
		stop = &d.stop[0]
	}
	lp := int32(0)
	if r.Logprobs {
		lp = 1
	}
	if rc := d.b.api.decoderSetRow(d.h, int32(row), int32(r.Slot), int32(r.Token), r.Step, int32(r.Remaining), lp, int32(r.TopLogprobs), stop, int32(len(d.stop))); rc != StatusOK {
		return d.b.callErr("rwkvcu_decoder_set_row", rc)
	}
	return nil
}

// ClearRow makes row idle.
func (d *decodeLoop) ClearRow(row int) error {
	if err := d.usable("ClearRow"); err != nil {
		return err
	}
	if rc := d.b.api.decoderSetRow(d.h, int32(row), -1, 0, 0, 0, 0, 0, nil, 0); rc != StatusOK {
		return d.b.callErr("rwkvcu_decoder_set_row", rc)
	}
	return nil
}

// BeginStep begins a decode step over rows [0, n).
func (d *decodeLoop) BeginStep(n int) {
	if d.b.live() {
		d.b.check("rwkvcu_decoder_begin_step", d.b.api.decoderBeginStep(d.b.ctx, d.h, int32(n)))
	}
}

// Embed sets out[i] = emb[next token of row i].
func (d *decodeLoop) Embed(out, emb backend.Tensor) {
	o, e := d.b.h(out), d.b.h(emb)
	if d.b.live() {
		d.b.check("rwkvcu_decoder_embed", d.b.api.decoderEmbed(d.b.ctx, d.h, o, e))
	}
}

// Sample draws row i from logits row i.
func (d *decodeLoop) Sample(logits backend.Tensor) {
	l := d.b.h(logits)
	if d.b.live() {
		d.b.check("rwkvcu_decoder_sample", d.b.api.decoderSample(d.b.ctx, d.h, l))
	}
}

// Admit draws row rows[i] from logits row i where rows[i] >= 0.
func (d *decodeLoop) Admit(logits backend.Tensor, rows []int) {
	l := d.b.h(logits)
	if !d.b.live() {
		return
	}
	if len(rows) == 0 || len(rows) > d.rows {
		d.b.failf("DecodeLoop.Admit: %d rows for a loop of %d", len(rows), d.rows)
		return
	}
	m := d.admit[:len(rows)]
	for i, r := range rows {
		m[i] = int32(r)
	}
	d.b.check("rwkvcu_decoder_admit", d.b.api.decoderAdmit(d.b.ctx, d.h, l, &m[0], int32(len(m))))
}

// Commit ends the launch queued last.
func (d *decodeLoop) Commit() (uint64, error) {
	if err := d.usable("Commit"); err != nil {
		return 0, err
	}
	if rc := d.b.api.decoderCommit(d.h, &d.launch); rc != StatusOK {
		return 0, d.b.callErr("rwkvcu_decoder_commit", rc)
	}
	return d.launch, nil
}

// Read writes the results of launch for rows [0, len(out)).
func (d *decodeLoop) Read(launch uint64, wait bool, out []backend.DecodeResult) (bool, error) {
	if err := d.usable("Read"); err != nil {
		return false, err
	}
	n := len(out)
	if n > d.rows {
		return false, fmt.Errorf("cuda: DecodeLoop.Read: %d rows of a loop of %d: %w", n, d.rows, ErrInvalidArgument)
	}
	w := int32(0)
	if wait {
		w = 1
	}
	d.ready = 0
	if rc := d.b.api.decoderRead(d.h, launch, w, &d.ready, &d.tokens[0], &d.flags[0], &d.lps[0], int32(n)); rc != StatusOK {
		return false, d.b.callErr("rwkvcu_decoder_read", rc)
	}
	if d.ready == 0 {
		return false, nil
	}
	for i := range out {
		out[i] = backend.DecodeResult{Token: d.tokens[i], Flags: backend.DecodeFlags(d.flags[i]), Logprob: d.lps[i]}
	}
	return true, nil
}

// ReadTop writes the most likely tokens of row's draw in launch (read).
func (d *decodeLoop) ReadTop(launch uint64, row int, out []backend.DecodeTop) error {
	if err := d.usable("ReadTop"); err != nil {
		return err
	}
	n := len(out)
	if n > cDecodeMaxTop {
		return fmt.Errorf("cuda: DecodeLoop.ReadTop: %d alternatives (at most %d): %w", n, cDecodeMaxTop, ErrInvalidArgument)
	}
	if n == 0 {
		return nil
	}
	if rc := d.b.api.decoderReadTop(d.h, launch, int32(row), &d.topIDs[0], &d.topLPs[0], int32(n)); rc != StatusOK {
		return d.b.callErr("rwkvcu_decoder_read_top", rc)
	}
	for i := range out {
		out[i] = backend.DecodeTop{Token: d.topIDs[i], Logprob: d.topLPs[i]}
	}
	return nil
}

// Close frees the loop and its sampler (waiting for their work).
func (d *decodeLoop) Close() error {
	if d.h == nil {
		return nil
	}
	if d.b.ctx != nil {
		d.b.api.decoderDestroy(d.h)
	}
	d.h = nil
	return d.smp.Close()
}

// BeginCapture starts capturing the queued operations as a graph
// (backend.GraphCapturer; BeginGraph with the default staging).
func (b *Backend) BeginCapture() error { return b.BeginGraph(0) }

// EndCapture ends the capture (backend.GraphCapturer; EndGraph).
func (b *Backend) EndCapture() (backend.Graph, error) {
	g, err := b.EndGraph()
	if err != nil {
		return nil, err
	}
	return g, nil
}

var (
	_ backend.DeviceDecoder = (*Backend)(nil)
	_ backend.GraphCapturer = (*Backend)(nil)
)
