package sampler

// SeqRep returns seq-rep-n of seq, the fraction of repeated n-grams:
// 1 - |unique n-grams| / |n-grams|, over the len(seq)-n+1 overlapping
// n-grams. It is 0 when seq has no n-gram (len(seq) < n) or n < 1.
func SeqRep(seq []int, n int) float64 {
	if n < 1 || len(seq) < n {
		return 0
	}
	total := len(seq) - n + 1
	seen := make(map[string]struct{}, total)
	for i := 0; i < total; i++ {
		seen[ngramKey(seq[i:i+n])] = struct{}{}
	}
	return 1 - float64(len(seen))/float64(total)
}

func ngramKey(g []int) string {
	b := make([]byte, 0, 8*len(g))
	for _, t := range g {
		u := uint64(t)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
	}
	return string(b)
}

// UniqSeq returns uniq-seq of seq: the number of distinct tokens.
func UniqSeq(seq []int) int {
	seen := make(map[int]struct{}, len(seq))
	for _, t := range seq {
		seen[t] = struct{}{}
	}
	return len(seen)
}

// Rep returns rep/l of a token sequence, the token-level repetition of
// Welleck et al. 2019 ("Neural text degeneration with unlikelihood
// training") applied to the sequence's own tokens as the next-token
// predictions and as their context:
//
//	rep/l = (1/T) * #{ t in [0, T) : seq[t] in seq[max(0, t-l) : t] }
//
// with T = len(seq): the fraction of tokens that repeat one of the l
// preceding tokens. It is 0 for an empty sequence or l < 1.
func Rep(seq []int, l int) float64 {
	return TeacherForcedRep(seq, seq, l)
}

// WRep returns wrep/l of a generated continuation gen against a reference
// continuation ref of the same prompt: the fraction of positions that repeat
// one of the l preceding generated tokens and differ from the reference
// token at that position,
//
//	wrep/l = (1/T) * #{ t in [0, T) : gen[t] in gen[max(0, t-l) : t] and (t >= len(ref) or gen[t] != ref[t]) }
//
// with T = len(gen). Positions past the end of ref count as wrong. This is
// the paper's "wrong repetition" with the generated text as its own context
// and ref as the ground truth.
func WRep(gen, ref []int, l int) float64 {
	if l < 1 || len(gen) == 0 {
		return 0
	}
	n := 0
	for t, x := range gen {
		if inWindow(gen, t, l, x) && (t >= len(ref) || x != ref[t]) {
			n++
		}
	}
	return float64(n) / float64(len(gen))
}

// TeacherForcedRep computes rep/l exactly as defined by Welleck et al. for
// next-token predictions under teacher forcing: pred[t] is the model's top-1
// prediction given the ground truth prefix ctx[:t]. With T = len(pred)
// (which must not exceed len(ctx); extra predictions are ignored):
//
//	rep/l = (1/T) * #{ t : pred[t] in ctx[max(0, t-l) : t] }
//
// Use TeacherForcedWRep for the wrong-repetition variant.
func TeacherForcedRep(pred, ctx []int, l int) float64 {
	r, _ := teacherForced(pred, ctx, l)
	return r
}

// TeacherForcedWRep computes wrep/l of Welleck et al. under teacher forcing:
// the fraction of predictions pred[t] that occur in ctx[max(0, t-l) : t] and
// differ from the ground truth token ctx[t]. Predictions at positions t >=
// len(ctx) are ignored.
func TeacherForcedWRep(pred, ctx []int, l int) float64 {
	_, w := teacherForced(pred, ctx, l)
	return w
}

func teacherForced(pred, ctx []int, l int) (rep, wrep float64) {
	if len(pred) > len(ctx) {
		pred = pred[:len(ctx)]
	}
	if l < 1 || len(pred) == 0 {
		return 0, 0
	}
	var r, w int
	for t, x := range pred {
		if inWindow(ctx, t, l, x) {
			r++
			if x != ctx[t] {
				w++
			}
		}
	}
	n := float64(len(pred))
	return float64(r) / n, float64(w) / n
}

// inWindow reports whether x occurs in s[max(0, t-l) : t].
func inWindow(s []int, t, l, x int) bool {
	lo := t - l
	if lo < 0 {
		lo = 0
	}
	for _, y := range s[lo:t] {
		if y == x {
			return true
		}
	}
	return false
}

// Metrics holds the repetition metrics of one token sequence, as printed by
// `rwkvgo metrics`: seq_rep_n = SeqRep(n), uniq_seq = UniqSeq, rep_l =
// Rep(l), and, when a reference continuation is given, wrep_l = WRep(l);
// tokens is the sequence length.
type Metrics struct {
	SeqRep2 float64  `json:"seq_rep_2"`
	SeqRep3 float64  `json:"seq_rep_3"`
	SeqRep4 float64  `json:"seq_rep_4"`
	UniqSeq int      `json:"uniq_seq"`
	Rep16   float64  `json:"rep_16"`
	Rep32   float64  `json:"rep_32"`
	Rep128  float64  `json:"rep_128"`
	WRep16  *float64 `json:"wrep_16,omitempty"`
	WRep32  *float64 `json:"wrep_32,omitempty"`
	WRep128 *float64 `json:"wrep_128,omitempty"`
	Tokens  int      `json:"tokens"`
}

// ComputeMetrics computes Metrics of seq. When ref is non-nil the wrep
// fields are filled with WRep(seq, ref, l); otherwise they are nil.
func ComputeMetrics(seq, ref []int) Metrics {
	m := Metrics{
		SeqRep2: SeqRep(seq, 2),
		SeqRep3: SeqRep(seq, 3),
		SeqRep4: SeqRep(seq, 4),
		UniqSeq: UniqSeq(seq),
		Rep16:   Rep(seq, 16),
		Rep32:   Rep(seq, 32),
		Rep128:  Rep(seq, 128),
		Tokens:  len(seq),
	}
	if ref != nil {
		w16, w32, w128 := WRep(seq, ref, 16), WRep(seq, ref, 32), WRep(seq, ref, 128)
		m.WRep16, m.WRep32, m.WRep128 = &w16, &w32, &w128
	}
	return m
}
