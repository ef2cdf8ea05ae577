// Fused sampler kernels (declarations and contract in sample.cuh).
//
// # Algorithm
//
// One block of kThreads threads per row. Thread t owns the contiguous id range
// [t*C, t*C + C), C = ceil(V / kThreads) rounded up to a multiple of 4, read
// with float4 loads when V % 4 == 0 and the pointers are 16-byte aligned. So
// "thread order, then position in the chunk" is ascending token-id order,
// which the draw and the top-p tie rule need.
//
// The processed logit x[i] is never stored (a row of doubles does not fit in
// shared memory): every pass recomputes it from logits, bias and counts,
// which stay in L1/L2. The passes are
//
//   1. max:    m = max x, number of finite x, argmax (lowest id on ties).
//              Greedy rows stop here.
//   2. top-k:  radix select of the k-th largest x over the 64-bit
//              order-preserving key of the double, 11 bits per pass, with an
//              early exit as soon as the candidates left are all equal
//              (usually 3-4 passes).
//   3. top-p:  the same radix select, weighted by probability mass instead
//              of by count (the first pass also yields Z), then one extra
//              pass only if several tokens tie at the cut-off value.
//   4. draw:   per-thread masses of the surviving tokens, a block-wide
//              exclusive scan in thread (= id) order, and the owner of the
//              crossing point walks its chunk to the token.
//   5. record: counts *= decay, counts[token] += 1.
//
// min-p needs no pass: it is a predicate on the token's own weight.
//
// # Numerical contract
//
// The decisions (which token survives which stage, which token is drawn) are
// those of sampler/ computed on the same float64 values:
//
//   - y = double(logit); repetition penalty y/p or y*p; y - (presence +
//     frequency*c); y + double(bias); x = y / T. These are the Go sampler's
//     float64 operations, in its order, each correctly rounded (written with
//     __dadd_rn / __dmul_rn so that nvcc cannot fuse them): x is bit-identical
//     to the Go sampler's processed logit whenever the count c is (always for
//     penalty_decay = 1, where counts are small integers; with decay < 1 the
//     float32 counts differ from DecayedCounts' float64 ones by a few float32
//     ulps).
//   - Rankings compare the doubles x exactly (ties by id ascending), so the
//     top-k threshold, the top-p order and greedy argmax are exact.
//   - w = exp(x - m) in float64, as Go's Softmax (CUDA's exp and Go's
//     math.Exp may differ by one ulp).
//   - Probability masses are summed in 128-bit fixed point, W = sum of
//     floor(w * 2^80): integer sums are exact, so they do not depend on
//     summation order or thread scheduling, and the total error is below
//     V * 2^-80 (2^-60 for V = 2^20) relative to Z >= 1, far below Go's own
//     float64 rounding (~ V * 2^-53). Every mass decision is then an exact
//     integer comparison: top-p keeps a token iff the mass ranked before it
//     is < top_p * Z (top_p is a float, so top_p * Z is an exact rational);
//     the draw takes the first surviving token, ascending id, whose
//     inclusive cumulative mass exceeds u * Z (u = k * 2^-24 exactly). When
//     u = 0 it takes the first surviving token with w > 0, as Go does.
//   - min-p keeps w >= min_p: Go's p >= min_p * p_max with p = w / Z and
//     p_max = 1 / Z, without the two roundings of the division.
//
// So token ids differ from the Go sampler only when a Go float64 rounding
// difference (summation order, exp ulp, division by Z) lands exactly on a
// decision boundary: a relative distance of ~1e-16, never seen in practice.
// The whole kernel is deterministic (integer atomics, fixed reduction
// trees), whatever the scheduling.
//
// Not on the device: PenaltyWindow > 0 (the window is the whole history),
// NoRepeatNGram, Typical, a custom stage order, logits that are NaN or +Inf
// (Go rejects them; here they are treated as banned).
#include "sample.cuh"

#include <float.h>
#include <math.h>

#include "ptx_wrappers.cuh"

namespace rwkv_sample {

constexpr int kThreads = 512;           // threads per row
constexpr int kWarps = kThreads / 32;   //
constexpr int kBins = 2048;             // radix histogram bins (11-bit digits)
constexpr int kLimb = 40;               // fixed point: w*2^80 = hi*2^40 + lo
constexpr int kObserveThreads = 256;    // observe: ids per block

typedef unsigned long long u64;
typedef unsigned __int128 u128;

// Philox4x32-10 constants (sampler/philox.go).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

/// philox_word0 returns word 0 of Philox4x32-10 with key (seed lo, seed hi)
/// and counter (step lo, step hi, seq lo, seq hi): sampler.PhiloxBlock.
__device__ __forceinline__ uint32_t philox_word0(u64 seed, u64 seq, u64 step) {
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  uint32_t c0 = uint32_t(step), c1 = uint32_t(step >> 32), c2 = uint32_t(seq), c3 = uint32_t(seq >> 32);
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const u64 p0 = u64(kPhiloxM0) * c0, p1 = u64(kPhiloxM1) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
  }
  return c0;
}

/// okey maps a double (not NaN, zero canonicalized to +0) to a 64-bit key
/// with the same order; ofrom inverts it.
__device__ __forceinline__ u64 okey(double x) {
  const u64 b = u64(__double_as_longlong(x));
  return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}
__device__ __forceinline__ double ofrom(u64 k) {
  return __longlong_as_double((long long)((k >> 63) ? (k & 0x7fffffffffffffffull) : ~k));
}

/// Fixed-point weight floor(w * 2^80) of w in [0, 1], as two 40-bit limbs.
struct Limbs {
  u64 hi, lo;
};
__device__ __forceinline__ Limbs to_fixed(double w) {
  const double a = w * 1099511627776.0;  // * 2^40, exact
  const u64 hi = u64(a);                 // truncation, <= 2^40
  const double f = a - double(hi);       // exact fraction in [0, 1)
  return Limbs{hi, u64(f * 1099511627776.0)};
}
__device__ __forceinline__ u128 limbs128(u64 hi, u64 lo) { return (u128(hi) << kLimb) + lo; }

/// to_double converts a fixed-point mass (units 2^-80) to a double.
__device__ __forceinline__ double to_double(u128 v) {
  return (double(u64(v >> 64)) * 18446744073709551616.0 + double(u64(v))) * 8.271806125530277e-25;  // 2^-80
}

__device__ __forceinline__ u128 shfl_up128(u128 v, int d) {
  const u64 hi = __shfl_up_sync(0xffffffffu, u64(v >> 64), d);
  const u64 lo = __shfl_up_sync(0xffffffffu, u64(v), d);
  return (u128(hi) << 64) | lo;
}

/// Shared memory of the sample kernel (~41 KiB, static).
struct Smem {
  u64 hist_hi[kBins];          // radix histogram: mass, high limb
  u64 hist_lo[kBins];          // radix histogram: mass, low limb
  unsigned hist_cnt[kBins];    // radix histogram: count
  u64 red[4][kWarps];          // per-warp partial results of block reductions
  // Results broadcast by warp 0 / a single thread.
  u64 b_hi, b_lo, b_need_hi, b_need_lo;
  double b_w;
  unsigned b_group;
  int b_done, b_bin, b_id;
};

/// The row being sampled: its inputs, settings and the filters decided so far.
struct Row {
  const float* logits;
  const float* bias;   // NULL: none
  const float* counts; // read only by the passes; written by record()
  int V, C, begin, end; // chunk length; this thread's ids [begin, end)
  bool vec, need_counts, rep, pf, div_t;
  double rp, pres, freq, temp;
  double mx;           // max x (set after pass 1)
  bool topk, topp, minp;
  double thk;          // top-k: keep x >= thk
  u64 keyp;            // top-p: keep key > keyp, or key == keyp and id <= icutp
  int icutp;
  double mp;           // min-p: keep w >= mp
};

__device__ __forceinline__ void load4(const float* p, int i0, int V, bool vec, float out[4]) {
  if (vec) {
    const float4 v = *reinterpret_cast<const float4*>(p + i0);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) out[q] = i0 + q < V ? p[i0 + q] : 0.f;
  }
}

/// eval4 computes the processed logits x of ids i0..i0+3 (-inf: filtered or
/// beyond V), exactly as the Go sampler's penalties, bias and temperature
/// stages (see the numerical contract). greedy rows skip the temperature.
__device__ __forceinline__ void eval4(const Row& r, int i0, double x[4]) {
  float lg[4], bs[4], ct[4];
  load4(r.logits, i0, r.V, r.vec, lg);
  if (r.bias) load4(r.bias, i0, r.V, r.vec, bs);
  if (r.need_counts) load4(r.counts, i0, r.V, r.vec, ct);
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    double y = lg[q];
    if (r.need_counts && ct[q] > 0.f) {
      if (r.rep) y = y > 0 ? y / r.rp : __dmul_rn(y, r.rp);
      if (r.pf) y = __dadd_rn(y, -__dadd_rn(r.pres, __dmul_rn(r.freq, double(ct[q]))));
    }
    if (r.bias) y = __dadd_rn(y, double(bs[q]));
    if (r.div_t) y = y / r.temp;
    if (!(y > -INFINITY && y < INFINITY) || i0 + q >= r.V) y = -INFINITY;  // NaN, +-inf, padding
    x[q] = y == 0 ? 0.0 : y;  // -0 -> +0: Go compares them equal
  }
}

/// weight returns w = exp(x - m) (Go's Softmax numerator).
__device__ __forceinline__ double weight(const Row& r, double x) { return exp(x - r.mx); }

/// survives applies the filters decided so far to token i with processed
/// logit x (finite), computing its weight w.
__device__ __forceinline__ bool survives(const Row& r, int i, double x, double& w) {
  if (r.topk && x < r.thk) return false;
  if (r.topp) {
    const u64 k = okey(x);
    if (k < r.keyp || (k == r.keyp && i > r.icutp)) return false;
  }
  w = weight(r, x);
  return !(r.minp && w < r.mp);
}

// ---- block reductions (every thread of the block calls them, uniformly) ----

/// block_sum_scan returns the exclusive prefix of v over threads in index
/// order, and the total in *total. Integer: exact, order-independent.
__device__ u128 block_scan128(Smem& s, u128 v, u128* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  u128 inc = v;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const u128 o = shfl_up128(inc, d);
    if (lane >= d) inc += o;
  }
  __syncthreads();  // previous users of s.red are done
  if (lane == 31) {
    s.red[0][warp] = u64(inc >> 64);
    s.red[1][warp] = u64(inc);
  }
  __syncthreads();
  u128 before = 0, all = 0;
  for (int w = 0; w < kWarps; ++w) {
    const u128 t = (u128(s.red[0][w]) << 64) | s.red[1][w];
    if (w < warp) before += t;
    all += t;
  }
  *total = all;
  return before + inc - v;
}

/// block_max_arg: max of v over the block and the lowest id holding it
/// (v = -inf, id = INT_MAX for none); also sums cnt.
__device__ void block_max_arg(Smem& s, double& v, int& id, int& cnt) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const double ov = __shfl_xor_sync(0xffffffffu, v, d);
    const int oid = __shfl_xor_sync(0xffffffffu, id, d);
    cnt += __shfl_xor_sync(0xffffffffu, cnt, d);
    if (ov > v || (ov == v && oid < id)) v = ov, id = oid;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    s.red[0][warp] = u64(__double_as_longlong(v));
    s.red[1][warp] = u64(unsigned(id));
    s.red[2][warp] = u64(unsigned(cnt));
  }
  __syncthreads();
  v = -INFINITY, id = INT_MAX, cnt = 0;
  for (int w = 0; w < kWarps; ++w) {
    const double ov = __longlong_as_double((long long)s.red[0][w]);
    const int oid = int(unsigned(s.red[1][w]));
    if (ov > v || (ov == v && oid < id)) v = ov, id = oid;
    cnt += int(unsigned(s.red[2][w]));
  }
}

/// block_minmax64: min and max of keys over the block.
__device__ void block_minmax64(Smem& s, u64& mn, u64& mx) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const u64 a = __shfl_xor_sync(0xffffffffu, mn, d), b = __shfl_xor_sync(0xffffffffu, mx, d);
    mn = a < mn ? a : mn;
    mx = b > mx ? b : mx;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) s.red[0][warp] = mn, s.red[1][warp] = mx;
  __syncthreads();
  mn = ~0ull, mx = 0;
  for (int w = 0; w < kWarps; ++w) {
    mn = s.red[0][w] < mn ? s.red[0][w] : mn;
    mx = s.red[1][w] > mx ? s.red[1][w] : mx;
  }
}

/// block_min_int: min of v over the block.
__device__ int block_min_int(Smem& s, int v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const int o = __shfl_xor_sync(0xffffffffu, v, d);
    v = o < v ? o : v;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) s.red[3][threadIdx.x >> 5] = u64(unsigned(v));
  __syncthreads();
  v = INT_MAX;
  for (int w = 0; w < kWarps; ++w) {
    const int o = int(unsigned(s.red[3][w]));
    v = o < v ? o : v;
  }
  return v;
}

/// ceil_mul returns ceil(p * z) for a float p in (0, 1) and an integer z
/// < 2^100, exactly (p = m * 2^-sh with a 24-bit integer m).
__device__ __forceinline__ u128 ceil_mul(float p, u128 z) {
  int e;
  const double f = frexp(double(p), &e);  // p = f * 2^e, f in [0.5, 1)
  const u64 m = u64(f * 16777216.0);      // exact: p is a float
  const int sh = 24 - e;                   // >= 24
  const u128 prod = z * m;                 // < 2^124
  if (sh >= 127) return prod != 0 ? 1 : 0;
  const u128 one = u128(1) << sh;
  return (prod + one - 1) >> sh;
}

/// radix_select finds v* = max{ v : W(x >= v) >= need } over the surviving
/// tokens, where W counts tokens (MASS = false, need = k) or sums their
/// fixed-point weights (MASS = true, need = ceil(top_p * Z), computed from
/// the first pass, whose histogram covers every survivor). It returns the
/// key of v*, sets *above = W(x > v*), *group = number of tokens with x ==
/// v*, and for MASS *need_out = the need.
template <bool MASS>
__device__ u64 radix_select(const Row& r, Smem& s, u128 need, float top_p, u128* above, unsigned* group,
                            u128* need_out) {
  const int lane = threadIdx.x & 31;
  u64 prefix = 0;
  int pbits = 0, shift = 64;
  u128 acc = 0;
  for (int pass = 0; pass < 6; ++pass) {
    const int width = pass < 5 ? 11 : 9;
    shift -= width;
    const int nb = 1 << width;
    for (int b = threadIdx.x; b < nb; b += kThreads) {
      s.hist_cnt[b] = 0;
      if (MASS) s.hist_hi[b] = 0, s.hist_lo[b] = 0;
    }
    __syncthreads();
    u64 kmin = ~0ull, kmax = 0;
    // Every lane runs the same number of steps (C / 4), so the warp can
    // aggregate its updates: lanes hitting the same bin are merged and one
    // leader adds their count and mass (the first pass sends almost every
    // token to a few exponent bins).
    for (int j = 0; j < r.C; j += 4) {
      const int i0 = r.begin + j;
      double x[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
      if (i0 < r.end) eval4(r, i0, x);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        double w = 0;
        unsigned d = ~0u;  // no bin
        if (x[q] != -INFINITY && survives(r, i0 + q, x[q], w)) {
          const u64 k = okey(x[q]);
          if (!pbits || (k >> (64 - pbits)) == (prefix >> (64 - pbits))) {
            d = unsigned(k >> shift) & unsigned(nb - 1);
            kmin = k < kmin ? k : kmin;
            kmax = k > kmax ? k : kmax;
          }
        }
        if (!__any_sync(0xffffffffu, d != ~0u)) continue;
        const unsigned peers = __match_any_sync(0xffffffffu, d);
        const bool lead = d != ~0u && lane == __ffs(peers) - 1;
        Limbs l{0, 0};
        if (MASS && d != ~0u) l = to_fixed(w);
        if (__any_sync(0xffffffffu, d != ~0u && peers != (1u << lane))) {
          // Some bin has several lanes: sum each group's limbs.
          u64 shi = 0, slo = 0;
          for (int src = 0; src < 32; ++src) {
            const u64 h = MASS ? __shfl_sync(0xffffffffu, l.hi, src) : 0;
            const u64 o = MASS ? __shfl_sync(0xffffffffu, l.lo, src) : 0;
            if ((peers >> src) & 1u) shi += h, slo += o;
          }
          l = Limbs{shi, slo};
        }
        if (lead) {
          atomicAdd(&s.hist_cnt[d], unsigned(__popc(peers)));
          if (MASS && l.hi) atomicAdd(&s.hist_hi[d], l.hi);
          if (MASS && l.lo) atomicAdd(&s.hist_lo[d], l.lo);
        }
      }
    }
    block_minmax64(s, kmin, kmax);  // also orders the histogram atomics before the reads below
    if (threadIdx.x < 32) {
      // Warp 0: lane l sums bins [nb - (l+1)*per, nb - l*per), the highest first.
      const int per = nb / 32, top = nb - lane * per;
      u128 lw = 0;
      unsigned lc = 0;
      for (int b = top - 1; b >= top - per; --b) {
        lw += MASS ? limbs128(s.hist_hi[b], s.hist_lo[b]) : u128(s.hist_cnt[b]);
        lc += s.hist_cnt[b];
      }
      u128 inc = lw;
      unsigned cinc = lc;
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const u128 o = shfl_up128(inc, d);
        const unsigned oc = __shfl_up_sync(0xffffffffu, cinc, d);
        if (lane >= d) inc += o, cinc += oc;
      }
      const u128 tot = (u128(__shfl_sync(0xffffffffu, u64(inc >> 64), 31)) << 64) |
                       __shfl_sync(0xffffffffu, u64(inc), 31);
      const unsigned ctot = __shfl_sync(0xffffffffu, cinc, 31);
      u128 nd = need;
      if (MASS && pass == 0) {
        nd = ceil_mul(top_p, tot);
        if (nd == 0) nd = 1;
      }
      const unsigned ball = __ballot_sync(0xffffffffu, inc >= nd);
      const bool done = kmin == kmax || ball == 0;
      if (lane == 0) {
        s.b_need_hi = u64(nd >> 64), s.b_need_lo = u64(nd);
        s.b_done = done;
        if (done) s.b_group = ctot;
      }
      if (!done && lane == __ffs(ball) - 1) {
        u128 a = inc - lw;  // mass of the bins above this lane's
        int b = top - 1;
        for (; b > top - per; --b) {
          const u128 wb = MASS ? limbs128(s.hist_hi[b], s.hist_lo[b]) : u128(s.hist_cnt[b]);
          if (a + wb >= nd) break;
          a += wb;
        }
        s.b_bin = b;
        s.b_hi = u64(a >> 64), s.b_lo = u64(a);
        s.b_group = s.hist_cnt[b];
      }
    }
    __syncthreads();
    need = (u128(s.b_need_hi) << 64) | s.b_need_lo;
    if (MASS && pass == 0) *need_out = need;
    *group = s.b_group;
    if (s.b_done) {
      // Every candidate left has the same key (or, never expected, the
      // histogram could not reach need: keep the lowest candidate).
      *above = acc;
      const u64 key = kmin;
      __syncthreads();  // s.b_* is rewritten by the next user
      return key;
    }
    const u128 a = (u128(s.b_hi) << 64) | s.b_lo;
    acc += a;
    need -= a;
    prefix |= u64(s.b_bin) << shift;
    pbits += width;
    __syncthreads();  // histogram and s.b_* are rewritten by the next pass
  }
  *above = acc;
  return prefix;
}

/// record applies one observed token to a count: decay, then +1 for the
/// token itself. A present token never decays to 0 (counts stop at FLT_MIN),
/// so presence is "count > 0" for the whole history.
__device__ __forceinline__ float record(float c, bool hit, float decay) {
  if (decay != 1.f && c > 0.f) {
    c = __fmul_rn(c, decay);
    if (c < FLT_MIN) c = FLT_MIN;
  }
  return hit ? __fadd_rn(c, 1.f) : c;
}

/// block_sum_double: the sum of v over the block in a fixed order (a
/// shuffle tree per warp, then the warps in order): deterministic.
__device__ double block_sum_double(Smem& s, double v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) s.red[0][threadIdx.x >> 5] = u64(__double_as_longlong(v));
  __syncthreads();
  double t = 0;
  for (int w = 0; w < kWarps; ++w) t += __longlong_as_double((long long)s.red[0][w]);
  return t;
}

/// block_max_double: the max of v over the block.
__device__ double block_max_double(Smem& s, double v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const double o = __shfl_xor_sync(0xffffffffu, v, d);
    v = o > v ? o : v;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) s.red[1][threadIdx.x >> 5] = u64(__double_as_longlong(v));
  __syncthreads();
  double m = -INFINITY;
  for (int w = 0; w < kWarps; ++w) {
    const double o = __longlong_as_double((long long)s.red[1][w]);
    m = o > m ? o : m;
  }
  return m;
}

/// model_lse returns log sum exp of a raw logits row, as the serving
/// scheduler computes it on the host (max, then the sum of exp(x - max) in
/// float64), with a block-order sum: log softmax(logits)[i] = logits[i] -
/// model_lse.
__device__ double model_lse(Smem& s, const float* lg, int begin, int end) {
  double m = -INFINITY;
  for (int i = begin; i < end; ++i) m = fmax(m, double(lg[i]));
  m = block_max_double(s, m);
  double z = 0;
  for (int i = begin; i < end; ++i) z += exp(double(lg[i]) - m);
  z = block_sum_double(s, z);
  return m + log(z);
}

/// loop_top writes the n most likely ids of a raw logits row (highest
/// first, the lowest id on ties) and their log-probabilities (x - lse) into
/// decoder row `row`'s top list of the current launch, token -1 past the
/// last finite logit. The whole block: round k picks the largest logit
/// after pick k-1 in that order, so no list is kept in registers.
__device__ void loop_top(Smem& s, const rwkvcu_sample_loop& lp, int row, const float* lg, int begin, int end, int n,
                         double lse) {
  const uint32_t launch = *lp.counter - 1u;
  rwkvcu_decode_top* out =
      lp.top + (size_t(launch % uint32_t(lp.depth)) * size_t(lp.R) + size_t(row)) * RWKVCU_DECODE_MAX_TOP;
  double pv = INFINITY;
  int pid = -1;
  for (int k = 0; k < n; ++k) {
    double v = -INFINITY;
    int id = INT_MAX, cnt = 0;
    for (int i = begin; i < end; ++i) {
      const double x = double(lg[i]);
      if ((x < pv || (x == pv && i > pid)) && x > v) v = x, id = i;
    }
    block_max_arg(s, v, id, cnt);
    if (threadIdx.x == 0) {
      out[k].token = id == INT_MAX ? -1 : id;
      out[k].logprob = id == INT_MAX ? 0.f : float(v - lse);
    }
    pv = v, pid = id;
  }
}

/// loop_entry writes a decode ring entry for decoder row `row` of the
/// current launch (thread 0 only).
__device__ __forceinline__ void loop_entry(const rwkvcu_sample_loop& lp, int row, int32_t token, uint32_t flags,
                                           float logprob) {
  const uint32_t launch = *lp.counter - 1u;
  rwkvcu_decode_entry* e = lp.ring + size_t(launch % uint32_t(lp.depth)) * size_t(lp.R) + size_t(row);
  e->token = token;
  e->flags = flags;
  e->logprob = logprob;
  e->launch = launch;
}

/// k_sample: one block per row (see the file comment and sample.cuh). LOOP:
/// the decode loop's sampler (rwkvcu_launch_sample_loop); block b samples
/// logits row b for decoder (and sampler) row lp.map[b].
template <bool LOOP>
__global__ void __launch_bounds__(kThreads) k_sample(const float* logits, int V, const rwkvcu_sample_row* rows,
                                                     float* counts, const float* bias, u64 step, int32_t* tokens,
                                                     float* probs, int vec, rwkvcu_sample_loop lp) {
  __shared__ Smem s;
  const int lrow = blockIdx.x;
  int row = lrow;
  if (LOOP) {
    row = lp.map ? lp.map[lrow] : lrow;
    if (row < 0 || row >= lp.R) return;  // the whole block: no decoder row
    const rwkvcu_decode_row& d = lp.rows[row];
    if (d.done || d.slot < 0) {
      if (threadIdx.x == 0) loop_entry(lp, row, -1, RWKVCU_DECODE_IDLE, 0.f);
      return;
    }
    step = d.step;
  }
  const rwkvcu_sample_row cfg = rows[row];
  const int C = ((V + kThreads - 1) / kThreads + 3) & ~3;

  Row r;
  r.logits = logits + size_t(lrow) * V;
  r.bias = bias && (!LOOP || lp.rows[row].biased) ? bias + size_t(row) * V : nullptr;
  float* const crow = counts + size_t(row) * V;
  r.counts = crow;
  r.V = V;
  r.C = C;
  r.begin = min(V, int(threadIdx.x) * C);
  r.end = min(V, r.begin + C);
  r.vec = vec != 0;
  r.rep = cfg.repetition_penalty != 1.f;
  r.pf = cfg.presence_penalty != 0.f || cfg.frequency_penalty != 0.f;
  r.need_counts = r.rep || r.pf;
  r.rp = cfg.repetition_penalty;
  r.pres = cfg.presence_penalty;
  r.freq = cfg.frequency_penalty;
  const bool greedy = !(cfg.temperature > 0.f);
  r.temp = cfg.temperature;
  r.div_t = !greedy && cfg.temperature != 1.f;
  r.mx = 0;
  r.topk = r.topp = r.minp = false;
  r.thk = 0, r.keyp = 0, r.icutp = INT_MAX, r.mp = 0;

  // Pass 1: max, finite count, argmax.
  double best = -INFINITY;
  int arg = INT_MAX, nfin = 0;
  for (int i0 = r.begin; i0 < r.end; i0 += 4) {
    double x[4];
    eval4(r, i0, x);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (x[q] == -INFINITY) continue;
      ++nfin;
      if (x[q] > best) best = x[q], arg = i0 + q;
    }
  }
  block_max_arg(s, best, arg, nfin);
  if (nfin == 0) {  // everything filtered: no token, state unchanged
    if (threadIdx.x == 0) {
      if (LOOP) {
        lp.rows[row].done = 1;
        loop_entry(lp, row, -1, RWKVCU_DECODE_NO_TOKEN | RWKVCU_DECODE_DONE, 0.f);
      } else {
        tokens[row] = -1;
        if (probs) probs[row] = 0.f;
      }
    }
    return;
  }
  r.mx = best;

  int token = arg;
  double prob = 1.0;
  if (!greedy) {
    // Top-k: keep x >= the k-th largest (ties kept); a no-op when k >= nfin.
    if (cfg.top_k > 0 && cfg.top_k < nfin) {
      u128 above, unused;
      unsigned group;
      r.thk = ofrom(radix_select<false>(r, s, u128(cfg.top_k), 0.f, &above, &group, &unused));
      r.topk = true;
    }
    // Top-p: keep a token iff the mass ranked before it is < top_p * Z.
    if (cfg.top_p < 1.f) {
      u128 above, need = 0;
      unsigned group;
      r.keyp = radix_select<true>(r, s, 0, cfg.top_p, &above, &group, &need);
      r.topp = true;
      if (group > 1) {
        // Ties at v*: kept in id order up to and including the first member
        // at which the cumulative mass reaches need. Per-thread masses of the
        // members, scanned in id order; the crossing thread walks its chunk.
        const u64 kp = r.keyp;
        r.topp = false;  // members are the survivors of the earlier stages
        u128 mine = 0;
        for (int i0 = r.begin; i0 < r.end; i0 += 4) {
          double x[4];
          eval4(r, i0, x);
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            double w;
            if (x[q] == -INFINITY || okey(x[q]) != kp || !survives(r, i0 + q, x[q], w)) continue;
            const Limbs l = to_fixed(w);
            mine += limbs128(l.hi, l.lo);
          }
        }
        u128 total;
        const u128 excl = block_scan128(s, mine, &total);
        const int first = block_min_int(s, above + excl + mine >= need ? int(threadIdx.x) : INT_MAX);
        if (int(threadIdx.x) == first) {
          u128 c = above + excl;
          int cut = r.end - 1;
          for (int i0 = r.begin; i0 < r.end; i0 += 4) {
            double x[4];
            eval4(r, i0, x);
            bool found = false;
            for (int q = 0; q < 4 && !found; ++q) {
              double w;
              if (x[q] == -INFINITY || okey(x[q]) != kp || !survives(r, i0 + q, x[q], w)) continue;
              const Limbs l = to_fixed(w);
              c += limbs128(l.hi, l.lo);
              if (c >= need) cut = i0 + q, found = true;
            }
            if (found) break;
          }
          s.b_id = cut;
        }
        __syncthreads();
        r.icutp = first == INT_MAX ? INT_MAX : s.b_id;
        r.topp = true;
        __syncthreads();
      }
    }
    // Min-p: a predicate on w, no pass.
    if (cfg.min_p > 0.f) {
      r.minp = true;
      r.mp = cfg.min_p < 1.f ? double(cfg.min_p) : 1.0;
    }

    // Draw: u = a * 2^-24; first survivor (ascending id) whose inclusive mass
    // exceeds u * Z. For a = 0, the first survivor with w > 0.
    const uint32_t a = philox_word0(cfg.seed, cfg.seq, step) >> 8;
    u128 mine = 0;
    int firstpos = INT_MAX;
    for (int i0 = r.begin; i0 < r.end; i0 += 4) {
      double x[4];
      eval4(r, i0, x);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        double w;
        if (x[q] == -INFINITY || !survives(r, i0 + q, x[q], w)) continue;
        const Limbs l = to_fixed(w);
        mine += limbs128(l.hi, l.lo);
        if (w > 0 && firstpos == INT_MAX) firstpos = i0 + q;
      }
    }
    u128 z;
    const u128 excl = block_scan128(s, mine, &z);
    const u128 target = z * a;  // compare (cumulative << 24) > a * Z
    const int first = block_min_int(s, ((excl + mine) << 24) > target ? int(threadIdx.x) : INT_MAX);
    const int lowest = block_min_int(s, firstpos);
    if (a != 0 && int(threadIdx.x) == first) {
      u128 c = excl;
      int tok = -1;
      double tw = 0;
      for (int i0 = r.begin; i0 < r.end && tok < 0; i0 += 4) {
        double x[4];
        eval4(r, i0, x);
        for (int q = 0; q < 4; ++q) {
          double w;
          if (x[q] == -INFINITY || !survives(r, i0 + q, x[q], w)) continue;
          const Limbs l = to_fixed(w);
          c += limbs128(l.hi, l.lo);
          if ((c << 24) > target) {
            tok = i0 + q, tw = w;
            break;
          }
        }
      }
      s.b_id = tok;
      s.b_w = tw;
    }
    if (a == 0 && int(threadIdx.x) == 0) {
      // The survivor at `lowest`: recompute its weight.
      const int i0 = lowest & ~3;
      double x[4];
      eval4(r, i0, x);
      s.b_id = lowest;
      s.b_w = weight(r, x[lowest - i0]);
    }
    __syncthreads();
    token = s.b_id;
    prob = s.b_w / to_double(z);
    __syncthreads();
  }

  if (LOOP) {
    const rwkvcu_decode_row& d = lp.rows[row];
    // Every thread reads the row before thread 0 updates it below.
    const bool want_lp = d.logprobs != 0;
    const int nstop = d.nstop < RWKVCU_DECODE_MAX_STOP ? d.nstop : RWKVCU_DECODE_MAX_STOP;
    bool stop = false;
    for (int i = 0; i < nstop; ++i) stop = stop || d.stop[i] == token;
    const int remaining = d.remaining;
    const u64 next_step = d.step + 1;
    const int ntop = want_lp ? min(d.top, RWKVCU_DECODE_MAX_TOP) : 0;
    float logprob = 0.f;
    if (want_lp) {  // the whole block
      const double lse = model_lse(s, r.logits, r.begin, r.end);
      logprob = token >= 0 ? float(double(r.logits[token]) - lse) : 0.f;
      if (ntop > 0 && lp.top) loop_top(s, lp, row, r.logits, r.begin, r.end, ntop, lse);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      uint32_t flags = 0;
      if (stop) flags = RWKVCU_DECODE_STOP | RWKVCU_DECODE_DONE;
      else if (remaining <= 1) flags = RWKVCU_DECODE_DONE;
      rwkvcu_decode_row& w = lp.rows[row];
      w.step = next_step;
      w.remaining = remaining - 1;
      if (flags & RWKVCU_DECODE_DONE) w.done = 1;
      lp.ids[row] = token;
      loop_entry(lp, row, token, flags, logprob);
    }
  } else if (threadIdx.x == 0) {
    tokens[row] = token;
    if (probs) probs[row] = float(prob);
  }
  // Record the token: every read of counts by this block is done (the last
  // barrier above), and each count is read and written by its owner only.
  const float decay = cfg.penalty_decay;
  if (decay != 1.f) {
    for (int i = r.begin; i < r.end; ++i) crow[i] = record(crow[i], i == token, decay);
  } else if (token >= r.begin && token < r.end) {
    crow[token] = __fadd_rn(crow[token], 1.f);
  }
}

/// k_observe: thread per id of one row; replays the n tokens in order, so the
/// result is bit-identical to recording them one sample at a time.
__global__ void __launch_bounds__(kObserveThreads) k_observe(float* counts, int V, const int32_t* tok, int n,
                                                             float decay) {
  __shared__ int32_t tile[kObserveThreads];
  const int i = blockIdx.x * kObserveThreads + threadIdx.x;
  float c = i < V ? counts[i] : 0.f;
  for (int base = 0; base < n; base += kObserveThreads) {
    __syncthreads();
    if (base + int(threadIdx.x) < n) tile[threadIdx.x] = tok[base + threadIdx.x];
    __syncthreads();
    const int m = min(kObserveThreads, n - base);
    for (int j = 0; j < m; ++j) c = record(c, tile[j] == i, decay);
  }
  if (i < V) counts[i] = c;
}

}  // namespace rwkv_sample

cudaError_t rwkvcu_launch_sample(cudaStream_t s, const float* logits, int32_t rows, int32_t V,
                                 const rwkvcu_sample_row* d_rows, float* d_counts, const float* d_bias,
                                 uint64_t step, int32_t* d_tokens, float* d_probs) {
  if (rows < 0 || V < 1 || V > RWKVCU_SAMPLE_MAX_VOCAB) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  if (!logits || !d_rows || !d_counts || !d_tokens) return cudaErrorInvalidValue;
  const auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const int vec = V % 4 == 0 && aligned(logits) && aligned(d_counts) && (!d_bias || aligned(d_bias));
  RWKV_LAUNCH(rwkv_sample::k_sample<false>, dim3(rows), dim3(rwkv_sample::kThreads), 0, s)(
      logits, V, d_rows, d_counts, d_bias, step, d_tokens, d_probs, vec, rwkvcu_sample_loop{});
  return cudaGetLastError();
}

cudaError_t rwkvcu_launch_sample_loop(cudaStream_t s, const float* logits, int32_t rows, int32_t V,
                                      const rwkvcu_sample_row* d_rows, float* d_counts, const float* d_bias,
                                      rwkvcu_sample_loop loop) {
  if (rows < 0 || V < 1 || V > RWKVCU_SAMPLE_MAX_VOCAB || loop.R < 1 || loop.depth < 1) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  if (!logits || !d_rows || !d_counts || !loop.rows || !loop.ids || !loop.ring || !loop.counter)
    return cudaErrorInvalidValue;
  const auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const int vec = V % 4 == 0 && aligned(logits) && aligned(d_counts) && (!d_bias || aligned(d_bias));
  RWKV_LAUNCH(rwkv_sample::k_sample<true>, dim3(rows), dim3(rwkv_sample::kThreads), 0, s)(
      logits, V, d_rows, d_counts, d_bias, 0, nullptr, nullptr, vec, loop);
  return cudaGetLastError();
}

namespace rwkv_sample {

/// k_decode_begin: one block; see rwkvcu_launch_decode_begin.
__global__ void k_decode_begin(const rwkvcu_decode_row* rows, int n, int32_t* batch_slots, uint32_t* counter) {
  if (batch_slots)
    for (int i = threadIdx.x; i < n; i += blockDim.x) batch_slots[i] = rows[i].done ? -1 : rows[i].slot;
  if (threadIdx.x == 0) *counter += 1u;
}

}  // namespace rwkv_sample

cudaError_t rwkvcu_launch_decode_begin(cudaStream_t s, const rwkvcu_decode_row* rows, int32_t n, int32_t* batch_slots,
                                       uint32_t* counter) {
  if (n < 0 || !counter || (n > 0 && (!rows || !batch_slots))) return cudaErrorInvalidValue;
  RWKV_LAUNCH(rwkv_sample::k_decode_begin, dim3(1), dim3(256), 0, s)(rows, n, n > 0 ? batch_slots : nullptr, counter);
  return cudaGetLastError();
}

cudaError_t rwkvcu_launch_sample_observe(cudaStream_t s, float* d_counts, int32_t V, int32_t row,
                                         const int32_t* d_tokens, int32_t n, float decay) {
  if (V < 1 || V > RWKVCU_SAMPLE_MAX_VOCAB || row < 0 || n < 0 || !d_counts) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (!d_tokens) return cudaErrorInvalidValue;
  const int blocks = (V + rwkv_sample::kObserveThreads - 1) / rwkv_sample::kObserveThreads;
  RWKV_LAUNCH(rwkv_sample::k_observe, dim3(blocks), dim3(rwkv_sample::kObserveThreads), 0, s)(
      d_counts + size_t(row) * V, V, d_tokens, n, decay);
  return cudaGetLastError();
}
