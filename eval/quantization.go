package eval

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/rwkvgo/rwkvgo/engine"
)

// QuantizationResult compares a model whose weights were quantized at load
// with the same model unquantized, on the reference's greedy continuation
// of a prompt (teacher forcing: both models read the same tokens, so the
// figures of step t do not depend on earlier disagreements).
type QuantizationResult struct {
	// Steps is the number of compared positions: the logits after the
	// prompt, then after each of the Steps-1 generated tokens.
	Steps int `json:"steps"`
	// MaxAbsErr is the largest |quantized - reference| logit over every
	// step and vocabulary entry; RMSErr the root mean square of the same
	// differences.
	MaxAbsErr float64 `json:"max_abs_err"`
	RMSErr    float64 `json:"rms_err"`
	// MaxAbsLogit is the largest |reference logit|, the scale of the errors.
	MaxAbsLogit float64 `json:"max_abs_logit"`
	// Agree is the number of steps whose greedy (argmax) tokens are equal;
	// Agreement is Agree / Steps.
	Agree     int     `json:"agree"`
	Agreement float64 `json:"agreement"`
	// FirstDivergence is the first step whose greedy tokens differ (Steps
	// when none does): the quantized model's own greedy continuation equals
	// the reference's for exactly this many tokens.
	FirstDivergence int `json:"first_divergence"`
}

// CompareQuantized feeds prompt to fresh sessions of ref and q, then steps
// both through steps-1 tokens of ref's greedy continuation, comparing their
// logits at each of the steps positions. progress, when not nil, receives a
// line every 32 steps.
func CompareQuantized(ref, q *engine.Model, prompt []int, steps int, progress io.Writer) (QuantizationResult, error) {
	var r QuantizationResult
	if len(prompt) == 0 || steps < 1 {
		return r, errors.New("eval: a quantization comparison needs a prompt and at least one step")
	}
	if ref.Config().Vocab != q.Config().Vocab {
		return r, fmt.Errorf("eval: vocabularies differ (%d and %d)", ref.Config().Vocab, q.Config().Vocab)
	}
	sr, err := ref.NewSession()
	if err != nil {
		return r, err
	}
	defer sr.Close()
	sq, err := q.NewSession()
	if err != nil {
		return r, err
	}
	defer sq.Close()
	in := prompt
	r.FirstDivergence = -1
	var sq2 float64
	n := 0
	for step := 0; step < steps; step++ {
		lr, err := sr.Feed(in)
		if err != nil {
			return r, err
		}
		lq, err := sq.Feed(in)
		if err != nil {
			return r, err
		}
		for i, v := range lr {
			d := math.Abs(float64(lq[i]) - float64(v))
			r.MaxAbsErr = max(r.MaxAbsErr, d)
			r.MaxAbsLogit = max(r.MaxAbsLogit, math.Abs(float64(v)))
			sq2 += d * d
			n++
		}
		tr, tq := argmax(lr), argmax(lq)
		if tr == tq {
			r.Agree++
		} else if r.FirstDivergence < 0 {
			r.FirstDivergence = step
		}
		r.Steps++
		in = []int{tr}
		if progress != nil && (step+1)%32 == 0 {
			fmt.Fprintf(progress, "step %d/%d: max |err| %.4g, agreement %d/%d\n", step+1, steps, r.MaxAbsErr, r.Agree, r.Steps)
		}
	}
	if r.FirstDivergence < 0 {
		r.FirstDivergence = r.Steps
	}
	r.RMSErr = math.Sqrt(sq2 / float64(n))
	r.Agreement = float64(r.Agree) / float64(r.Steps)
	return r, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
