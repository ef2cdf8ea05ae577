package engine

import "time"

// stepper is the seam between the Engine's loop and the computation of a
// step: the loop decides what every running sequence feeds (admission,
// retirement, chunked prefill, the prefill budget) and what becomes of each
// chosen token (stop tokens and strings, the detector, the length limit,
// streaming); the stepper feeds and chooses.
//
// hostStepper, the only implementation today, runs Model.Step and reads
// every sequence's logits back to choose with the Go sampler. A
// device-resident decode loop (an optional backend capability that keeps
// logits on the device and runs the fused device sampler there) plugs in
// as another stepper chosen by NewEngine when the backend offers it: it
// keeps per-sequence device state (a sampler row and its history) keyed by
// the job and released by retire, chooses on the device for the jobs whose
// settings it supports (sampler.Config.FusedSupported, no log-probabilities)
// and falls back to the host path for the others. The loop itself does not
// change.
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
