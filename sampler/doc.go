// Package sampler turns next-token logits into tokens: logits processors,
// a counter-based random number generator, search strategies (greedy,
// sampling, beam search, contrastive search), repetition metrics and a live
// repetition detector. It is the CPU reference for a fused GPU sampler, so
// every step is specified exactly below.
//
// # Processing
//
// A Sampler copies the float32 logits to float64 and runs the stages of
// Config.Order (DefaultOrder unless changed); a filtered token has logit
// -Inf. The default order is
//
//	penalties -> ngram -> bias -> temperature -> top_k -> top_p -> min_p -> typical -> draw
//
// The stages are:
//
//   - penalties: RepetitionPenalty (CTRL / Hugging Face: each distinct token
//     of the last PenaltyWindow history tokens gets logit/p if logit > 0,
//     else logit*p), then PresenceFrequencyPenalty (logit[t] -= presence*[t
//     occurs] + frequency*count[t], with the decayed counts of DecayedCounts
//     over the same window).
//   - ngram: NoRepeatNGram over the whole history (Hugging Face
//     no_repeat_ngram_size).
//   - bias: Config.LogitBias is added (-Inf bans), then Config.Banned are set
//     to -Inf.
//   - temperature: logits/T (skipped when T = 0, which means greedy).
//   - top_k, top_p, min_p, typical: TopK, TopP, MinP and Typical, each
//     computing probabilities over the tokens that survived the earlier
//     stages. Each keeps at least one token (top-k, top-p and min-p always
//     keep the most probable one).
//
// Four more stages, off by default, run where Config.Order puts them or at
// their default places (FullOrder):
//
//	penalties -> dry -> ngram_penalty -> ngram -> bias -> temperature ->
//	top_n_sigma -> top_k -> top_p -> min_p -> typical -> xtc -> draw
//
// They are:
//
//   - dry: the DRY penalty of llama.cpp (DRYPenalties), on token ids; its
//     sequence breakers are token sequences (text is encoded with the
//     model's tokenizer by Config.EncodeDRYBreakers).
//   - ngram_penalty: NGramPenalty, alpha times the number of times the
//     n-gram a candidate would complete occurs in the window.
//   - top_n_sigma: TopNSigma (llama.cpp's top-n-sigma).
//   - xtc: XTC (llama.cpp's Exclude Top Choices), applied at a step when
//     XTCUniform(seed, seq, step), word 1 of the step's Philox block, is <=
//     the XTC probability.
//
// Mirostat 2.0 (Config.Mirostat = 2) replaces the truncation stages: after
// the last stage, MirostatTruncate keeps the tokens whose surprise is within
// the sequence's mu, and SampleState updates mu (MirostatUpdate) from the
// drawn token, keeping it in a per-sequence State.
//
// Probabilities are Softmax: max-subtracted exponentials in float64,
// normalized by their sum taken in ascending token-id order. Rankings (top-k,
// top-p) order tokens by logit (equivalently probability) descending, ties by
// token id ascending; typical orders by its score ascending, ties by id
// ascending.
//
// # Choosing the token
//
// With temperature 0 the token is Argmax of the processed logits (lowest id
// on ties), with no randomness. Otherwise it is Draw(p, u): p the final
// distribution, u = Uniform(seed, seq, step), and the token is the first, in
// ascending token-id order over tokens with p > 0, whose float64 cumulative
// probability exceeds u (the last such token if rounding leaves none).
//
// # Fast path
//
// Sample's token is defined by the pipeline above, but Sample usually
// reaches it without copying the V logits to float64, without sorting and
// without V calls to math.Exp, when only the penalty, DRY, n-gram penalty,
// n-gram and bias stages precede temperature (as in the default order), XTC
// over the untruncated distribution being the last stage; otherwise Sample
// runs the pipeline as written:
//
//   - Only the tokens named by the history window, DRY, the n-gram penalty,
//     the n-gram ban, the bias and the banned list change before the
//     temperature; every other token's processed logit float64(logit)/T is a
//     strictly increasing function of its float32 logit, so greedy decoding,
//     top-k (a heap of the k largest)
//     and min-p (a logit threshold) are decided on the float32 logits plus
//     those few tokens, then on the exact float64 logits of the candidates.
//
//   - Top-p, typical sampling and a draw from the untruncated distribution
//     need the normaliser of all V tokens. They use weights from a fast
//     exponential with a bounded relative error and accept a decision only
//     if it holds for every value within that bound and the reference's own
//     float64 rounding (cumulative masses more than ~1e-10 away from the
//     cut); otherwise, which happens at exact ties of cumulative mass and
//     about once in 10^5 draws, the reference pipeline decides.
//
//   - Top-n-sigma, XTC and Mirostat 2.0's truncation over the untruncated
//     vocabulary are thresholds on the processed logit: top-n-sigma's from
//     vectorised moment sums with an error bound against the reference's
//     sequential float64 sums, XTC's and Mirostat's from that normaliser and
//     its bound. Tokens within the error band of a threshold make the
//     reference decide. XTC removes a few top tokens; the draw then runs
//     over the rest of the vocabulary as above. SampleState takes the same
//     path with the sequence's mu.
//
//   - The weights, maxima and threshold scans run in AVX-512 kernels where
//     the CPU has them (AVX2 or Go otherwise).
//
//   - After the first truncation, the remaining stages and the draw run the
//     reference functions on the surviving tokens in ascending id order,
//     which computes bit for bit what they compute over the full vocabulary.
//
//   - When top-p, typical sampling or Mirostat keeps thousands of tokens
//     and is the last truncation, the kept tokens are not collected: the
//     weight kernel also sums the weights above two exponent thresholds,
//     per id block; further dense passes move the thresholds until they
//     bracket the cut (top-p and typical, whose kept set is then every
//     token above a logit) or sit on both sides of Mirostat's band, only
//     the tokens between them are ranked exactly, and the draw walks the
//     per-block sums of the kept tokens, then the one block holding the
//     target. The same error margins decide when the reference must. With
//     AVX-512, the top-p and typical brackets come from passes of a kernel
//     that sums the weights above eight thresholds at once (the first
//     placed above the cut's lower bound, the next spread evenly over the
//     bracket), usually one pass; more while the bracket holds thousands of
//     tokens (flat distributions, whose cut may also lie between the two
//     default thresholds).
//
//   - Typical sampling of a flat distribution keeps the tokens around the
//     mean exponent and drops the most probable ones: the weight of such an
//     interval is the difference of the weights above two thresholds, so
//     the eight-threshold passes bracket the cut's score with four pairs,
//     the tokens of the two bands are ranked exactly, and the draw walks
//     the per-block weights of the interval.
//
//   - A wide min-p truncation (thousands of kept tokens) keeps the tokens
//     above a logit: one dense pass sums their per-block weights, and the
//     draw walks them. Top-p before min-p is skipped whenever its cut
//     provably lies below min-p's threshold.
//
//   - XTC firing after a wide top-p, min-p or typical truncation removes its
//     few top tokens from the kept set's per-block weights.
//
//   - A wide top-p followed by more stages (typical sampling, min-p) is
//     bracketed and decided the same way, without the draw; the tokens
//     ranked at or above its cut (one threshold scan) become the candidates
//     of the next stages. When no token ranked below the cut lies within
//     1e-9 of its exponent, and likewise for a wide min-p, the kept set is
//     every token above an exponent instead: the weight kernels give the
//     others weight 0 from then on, and the next top-p, min-p or typical
//     stage is decided over the dense sums of the kept tokens as above.
//
//   - The weighted selections over long lists (the cut of the dense
//     stages, the threshold of the reference top-p and typical) first sum
//     a histogram of the keys (1024 equal-width buckets), then select only
//     within the bucket where the cumulative weight reaches the target.
//
//   - Top-k finds its threshold by vectorised scans at bisected distances
//     below the maximum and a quickselect of the k-th largest logit.
//
// TopP and Typical themselves rank only down to the cut: a mass-weighted
// quickselect finds a threshold whose upper set holds the required mass (with
// a margin), and only that set is sorted (by a stable radix sort of the keys'
// bits when it is large) and walked; the probabilities and their
// accumulation order are those of a full sort, so the kept sets are
// identical, ties included.
//
// # Random numbers
//
// The generator is Philox4x32-10 (Salmon et al. 2011, identical to Random123
// and cuRAND) keyed by the seed and counted by (step, sequence id):
//
//	key     = {uint32(seed), uint32(seed >> 32)}
//	counter = {uint32(step), uint32(step >> 32), uint32(seq), uint32(seq >> 32)}
//	u       = float(out[0] >> 8) * 2^-24        // in [0, 1), exact in float32
//
// where step is the 0-based index of the generated token within its sequence
// and out[0] the first output word. The same (seed, seq, step) always gives
// the same uniform, on any machine, independently of GOMAXPROCS and of the
// tokens drawn before.
//
// # Search and metrics
//
// Generate runs greedy decoding, sampling or contrastive search with stop
// tokens, stop strings (StopMatcher) and the repetition Detector;
// BeamSearch runs Hugging Face style beam search. Both drive a Model, the
// small interface the engine implements. SeqRep, UniqSeq, Rep, WRep and
// ComputeMetrics measure repetition in token sequences.
//
// Library code never prints; invalid settings are reported as errors by
// Config.Validate and New.
package sampler
