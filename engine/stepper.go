package engine

import (
	"errors"
	"time"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// stepper is the seam between the Engine's loop and the computation of a
// step: the loop decides what every running sequence feeds (admission,
// retirement, chunked prefill, the prefill budget) and what becomes of each
// chosen token (stop tokens and strings, the detector, the length limit,
// streaming); the stepper feeds and chooses.
//
// hostStepper runs Model.Step and reads every sequence's logits back to
// choose with the Go sampler: the prefill of every sequence, and the
// decode steps of the sequences the device loop (deviceLoop, below) does
// not run.
type stepper interface {
	// step feeds every job of batch its input (job.in, non-empty) in one
	// model step. For each job with job.sample set it then chooses the
	// job's next token into job.next (the token after job.history, the
	// job's step-th generated one; job.nextErr when none can be chosen),
	// and, when the job asked for log-probabilities, leaves the logits it
	// chose from in job.logits. It returns the time of the model step; an
	// error fails the whole batch.
	step(batch []*job) (time.Duration, error)
	// retire says that j has left the engine (finished, failed or
	// cancelled): whatever the stepper keeps for it can go.
	retire(j *job)
	// close releases the stepper when the engine stops.
	close()
}

// hostStepper runs a step with Model.Step and chooses tokens with the Go
// sampler on the host.
type hostStepper struct {
	m    *Model
	reqs []*Request
}

func (h *hostStepper) step(batch []*job) (time.Duration, error) {
	reqs := h.reqs[:0]
	for _, j := range batch {
		j.ereq.Session, j.ereq.Tokens = j.sess, j.in
		reqs = append(reqs, &j.ereq)
	}
	h.reqs = reqs
	t0 := time.Now()
	err := h.m.Step(reqs)
	d := time.Since(t0)
	clear(h.reqs)
	if err != nil {
		return d, err
	}
	for _, j := range batch {
		j.ereq.Tokens = nil
		if !j.sample {
			continue
		}
		j.next, j.nextErr = j.smp.SampleState(j.ereq.Logits, j.penaltyHistory(), j.req.Seq, uint64(j.step), j.mst)
		if j.req.Logprobs {
			j.logits = j.ereq.Logits
		}
	}
	return d, nil
}

func (h *hostStepper) retire(*job) {}

func (h *hostStepper) close() {}

// deviceLoop runs the Engine's decode steps on the device-resident decode
// loop (a Decoder of one row per running sequence) when the backend offers
// one (backend.DeviceDecoder). A sequence's prompt is fed and its first
// token drawn by the host path (prefill, with the prefix cache, is the
// same on every backend); then, when its settings allow (deviceEligible),
// it takes a decoder row and every later step runs on the device: the
// token ids, the sampler, the stop tokens and the token budget stay there,
// and only a 16-byte entry per sequence and step reaches the host, read
// one step behind the launch (the device never waits for the host). A
// sequence whose settings the device lacks is stepped on the host path
// until it ends.
type deviceLoop struct {
	d    *Decoder
	jobs []*job // by decoder row (nil: free)
	n    int    // sequences on the loop
	err  error  // a failed row release: the loop must be closed
}

// maxDeviceRows is the most rows of the Engine's decoder (NewDecoder's
// bound); sequences beyond them are stepped on the host.
const maxDeviceRows = 256

// newDeviceLoop returns the device loop of m with rows rows, or nil when
// the backend has none or cannot take the model (its vocabulary).
func newDeviceLoop(m *Model, rows int) (*deviceLoop, error) {
	if _, ok := m.be.(backend.DeviceDecoder); !ok {
		return nil, nil
	}
	d, err := m.NewDecoder(min(rows, maxDeviceRows))
	if err != nil {
		if errors.Is(err, ErrNoDeviceDecoder) || errors.Is(err, backend.ErrDecodeUnsupported) {
			return nil, nil
		}
		return nil, err
	}
	return &deviceLoop{d: d, jobs: make([]*job, d.Rows())}, nil
}

// deviceEligible is the rule that sends a sequence's decode steps to the
// device loop: settings the fused device sampler implements
// (sampler.Config.FusedSupported: no Mirostat, DRY, XTC, typical, ...), no
// repetition detector (its escalation changes the settings between steps
// on the host). Log-probabilities (the chosen token's and up to 20 most
// likely alternatives) are computed on the device. Every other
// sequence, and one that finds no free row or more stop tokens than the
// device checks, is stepped on the host path.
func deviceEligible(j *job) bool {
	return j.det == nil && j.scfg.FusedSupported() == nil
}

// attach moves j, whose prompt is fed and whose token j.pending is drawn
// but not fed, onto a free row. It reports false (j stays on the host
// path) for settings or sizes the device loop does not take; an error is a
// device failure.
func (l *deviceLoop) attach(j *job) (bool, error) {
	top := 0
	if j.req.Logprobs {
		top = j.req.TopLogprobs
	}
	row, err := l.d.resume(decodeResume{Session: j.sess, Sampler: j.scfg, Seq: j.req.Seq, Token: j.pending, Step: j.step,
		History: j.penaltyHistory(), Remaining: j.req.MaxTokens - j.step, Logprobs: j.req.Logprobs, TopLogprobs: top})
	if err != nil {
		if errors.Is(err, backend.ErrDecodeUnsupported) && l.d.err == nil {
			return false, nil
		}
		return false, err
	}
	j.row, j.inflight = row+1, 0
	l.jobs[row] = j
	l.n++
	return true, nil
}

// retire releases j's row: its tokens in flight are dropped.
func (l *deviceLoop) retire(j *job) {
	if j.row == 0 {
		return
	}
	r := j.row - 1
	if l.jobs[r] == j {
		l.jobs[r] = nil
		l.n--
	}
	if l.d.session(r) == j.sess {
		if err := l.d.Remove(r); err != nil && l.err == nil {
			l.err = err
		}
	}
	j.row, j.inflight = 0, 0
}

// close releases the decoder.
func (l *deviceLoop) close() { l.d.Close() }
