// cuemu: runs CUDA kernel source on the CPU.
//
// This header emulates the CUDA kernel language: the function and variable
// qualifiers, the built-in index variables, block barriers, warp collectives,
// atomics, shared memory and the device math intrinsics. The runtime API
// (memory, streams, events, graphs, launches) is in cuemu/runtime.h, which the
// shadow <cuda_runtime.h> includes; warp-level MMA, ldmatrix and cp.async are
// in cuemu/warp_mma.h. See cuda/emu/README.md for the overall design.
//
// Execution model
//   A launch runs its blocks one after another on the calling OS thread. The
//   threads of a block are fibers on that OS thread: each runs until it
//   reaches a synchronization point (__syncthreads, a warp collective) or
//   exits, then the scheduler resumes the next runnable fiber in the order
//   chosen by the schedule mode (forward, reverse or seeded random). Nothing
//   runs concurrently, so data races do not corrupt memory, but a missing
//   barrier does change results between schedule modes.
//
//   A barrier releases when every thread of the block waits at the same
//   __syncthreads call site; a warp collective releases when every existing
//   lane named in its mask waits at the same call site with the same mask.
//   Anything else (threads at different barriers, a barrier some threads can
//   no longer reach because they exited, a lane calling with a mask that
//   excludes itself) fails the launch with cudaErrorLaunchFailure and a
//   message naming file:line; see cuemuGetLastErrorDetail().
//
// Failure unwinding
//   When a block fails, its fibers are abandoned where they stand: the
//   scheduler stops resuming them, the remaining blocks are not run and the
//   launch returns the error. The fiber stacks are reinitialised by the next
//   launch. This is the emulator's equivalent of a longjmp out of every
//   thread: destructors of kernel locals do not run (device code has no
//   owning locals in practice), and no state outside the abandoned stacks is
//   left inconsistent. Library code never aborts or prints.
//
// Context switch
//   On x86-64 fibers switch with a hand-written routine that saves only the
//   callee-saved general registers (a few nanoseconds). The fibers share
//   the OS thread's MXCSR and x87 control word: device code has no dynamic
//   floating-point environment (rounding is chosen per intrinsic), so
//   kernel code never changes them, and saving and reloading them per
//   switch (ldmxcsr, fldcw) cost more than the rest of the switch.
//   Elsewhere, and under AddressSanitizer or ThreadSanitizer (which must
//   see stack switches), ucontext is used. Define CUEMU_FORCE_UCONTEXT to
//   select ucontext explicitly.
//
//   A fiber that waits (barrier, warp collective, exit) resumes the next
//   runnable fiber of the scheduler's round itself (suspend); only the end
//   of a round returns to the scheduler.
#pragma once

// Standard headers come first: the kernel-language macros defined below
// (threadIdx, __shared__, ...) must not leak into them.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuemu/vector_types.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CUEMU_SANITIZER_ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CUEMU_SANITIZER_ 1
#endif
#if defined(__x86_64__) && !defined(CUEMU_SANITIZER_) && !defined(CUEMU_FORCE_UCONTEXT)
#define CUEMU_SWITCH_ASM 1
#else
#define CUEMU_SWITCH_UCONTEXT 1
#include <ucontext.h>
#endif

/// CUEMU is defined when kernel source is compiled by the emulator; use it to
/// select emulator-specific code (the PTX wrappers do).
#ifndef CUEMU
#define CUEMU 1
#endif
/// __CUDA_ARCH__ is 800: kernels take their device code paths, and the
/// emulator provides the sm_80 feature set (mma.sync m16n8k16, ldmatrix,
/// cp.async), not sm_90 features such as TMA or wgmma. __CUDACC__ is not
/// defined, since code guarded by it usually expects nvcc itself.
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
#endif

// ---- error codes -------------------------------------------------------------

/// cudaError_t is the subset of CUDA's error codes the emulator returns, with
/// CUDA's numeric values.
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorAssert = 710,
  cudaErrorIllegalInstruction = 715,
  cudaErrorMisalignedAddress = 716,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

/// cuemuSchedule selects the order in which the scheduler resumes the fibers
/// of a block.
enum cuemuSchedule {
  cuemuScheduleForward = 0,  ///< thread 0 first (linear thread index order)
  cuemuScheduleReverse = 1,  ///< highest thread index first
  cuemuScheduleRandom = 2,   ///< a seeded random permutation, redrawn every pass
};

namespace cuemu {

/// Site identifies one synchronization call site in kernel source: its
/// address is the identity used to match barriers, and it names the file,
/// line and operation in error messages.
struct Site {
  const char* file;
  int line;
  const char* what;
};

/// CUEMU_SITE(what) yields a pointer to a Site unique to the macro expansion.
#define CUEMU_SITE(what)                                               \
  ([]() -> const ::cuemu::Site* {                                      \
    static const ::cuemu::Site cuemu_site_{__FILE__, __LINE__, what};  \
    return &cuemu_site_;                                               \
  }())

namespace detail {

#if defined(CUEMU_SWITCH_ASM)
// cuemu_switch_x86_64 saves the callee-saved general registers on the
// current stack, stores the stack pointer in *save_sp, and resumes the
// context whose stack pointer is to_sp (see "Context switch" above).
extern "C" void cuemu_switch_x86_64(void** save_sp, void* to_sp);
__asm__(
    ".pushsection .text.cuemu_switch_x86_64,\"axG\",@progbits,cuemu_switch_x86_64,comdat\n"
    ".weak cuemu_switch_x86_64\n"
    ".hidden cuemu_switch_x86_64\n"
    ".type cuemu_switch_x86_64,@function\n"
    "cuemu_switch_x86_64:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size cuemu_switch_x86_64, .-cuemu_switch_x86_64\n"
    ".popsection\n");
#endif

enum class FiberState : uint8_t { Run, Barrier, Warp, Done };

struct Fiber;
/// WarpFn performs a warp collective once every participating lane has
/// arrived: lanes[i] for each bit i of mask holds that lane's inputs (in) and
/// receives its outputs (out).
using WarpFn = void (*)(Fiber* lanes, uint32_t mask);

/// PendingCopy is one cp.async copy waiting for its group to be awaited: the
/// source bytes are read when the copy is issued, the destination is written
/// when cp.async.wait_group retires the group.
struct PendingCopy {
  void* dst;
  unsigned char bytes[16];
  uint32_t size;
  uint32_t group;
};

struct Fiber {
  void* sp = nullptr;  // saved stack pointer (asm switch)
#if defined(CUEMU_SWITCH_UCONTEXT)
  ucontext_t uc;
#endif
  FiberState st = FiberState::Done;
  uint3 tid{};
  unsigned lin = 0;              // linear thread index in the block
  const Site* site = nullptr;    // where the fiber waits
  uint32_t mask = 0;             // warp collective mask
  WarpFn fn = nullptr;           // warp collective operation
  const void* in = nullptr;      // this lane's collective inputs
  void* out = nullptr;           // this lane's collective outputs
  int res = 0;                   // __syncthreads_count/and/or result
  uint32_t cp_group = 0;         // current (uncommitted) cp.async group
  std::vector<PendingCopy> cp_pending;
};

/// Exec is the per-OS-thread execution state of the launch in progress (one
/// block at a time) and the fiber stacks reused between launches.
struct Exec {
  std::vector<Fiber> f;
  std::vector<char*> stacks;
  size_t stack_bytes = 0, page = 4096;
  std::vector<uint32_t> warp_wait, warp_done, warp_present;
  std::vector<unsigned> order;
  unsigned pos = 0;  // position in order of the running fiber (this round)
  unsigned n = 0, n_done = 0, bar_count = 0, bar_pred = 0;
  const Site* bar_site = nullptr;
  bool bar_mismatch = false;
  void* sched_sp = nullptr;
#if defined(CUEMU_SWITCH_UCONTEXT)
  ucontext_t sched_uc;
#endif
  void (*entry)(void*) = nullptr;
  void* arg = nullptr;
  uint3 bid{};
  dim3 grid, block;
  unsigned char* dyn = nullptr;
  size_t dyn_size = 0, dyn_cap = 0;
  bool active = false, failed = false;
  cudaError_t err = cudaSuccess;
  std::string msg;

  ~Exec() {
    for (char* s : stacks) munmap(s, stack_bytes + page);
    std::free(dyn);
  }
};

inline thread_local Exec* t_exec = nullptr;
inline thread_local Fiber* t_cur = nullptr;

/// exec returns this OS thread's execution state.
inline Exec& exec() {
  static thread_local Exec e;
  return e;
}

/// last_detail is the message of the last error recorded on this OS thread.
inline std::string& last_detail() {
  static thread_local std::string s;
  return s;
}

/// format returns printf-style formatted text.
inline std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

inline std::string where(const Site* s) {
  return s ? format("%s at %s:%d", s->what, s->file, s->line) : std::string("(no site)");
}
inline std::string thread_name(const Fiber& f) { return format("thread (%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z); }

/// next_runnable returns the first position from k in the round's order
/// whose fiber can run, or e.n.
inline unsigned next_runnable(const Exec& e, unsigned k) {
  while (k < e.n && e.f[e.order[k]].st != FiberState::Run) ++k;
  return k;
}

/// suspend suspends the current fiber and resumes the next runnable
/// fiber of the round directly (the one the scheduler would resume next),
/// or the scheduler at the end of the round or after a failure: one switch
/// per suspension instead of two through the scheduler.
inline void suspend() {
  Exec& e = *t_exec;
  Fiber* me = t_cur;
  e.pos = e.failed ? e.n : next_runnable(e, e.pos + 1);
  if (e.pos < e.n) {
    Fiber* next = &e.f[e.order[e.pos]];
    t_cur = next;
#if defined(CUEMU_SWITCH_ASM)
    cuemu_switch_x86_64(&me->sp, next->sp);
#else
    swapcontext(&me->uc, &next->uc);
#endif
    return;
  }
#if defined(CUEMU_SWITCH_ASM)
  cuemu_switch_x86_64(&me->sp, e.sched_sp);
#else
  swapcontext(&me->uc, &e.sched_uc);
#endif
}

/// fail records a launch failure in the running block and abandons the
/// calling fiber (it is never resumed). It must be called from kernel code.
[[noreturn]] inline void fail(cudaError_t err, const std::string& msg) {
  Exec& e = *t_exec;
  if (!e.failed) {
    e.failed = true;
    e.err = err;
    e.msg = format("block (%u,%u,%u) %s: ", e.bid.x, e.bid.y, e.bid.z, thread_name(*t_cur).c_str()) + msg;
  }
  suspend();
  __builtin_unreachable();
}

/// retire_copies performs the pending cp.async copies of fiber f whose group
/// is older than keep_from.
inline void retire_copies(Fiber& f, uint32_t keep_from) {
  size_t k = 0;
  for (PendingCopy& c : f.cp_pending) {
    if (c.group < keep_from)
      std::memcpy(c.dst, c.bytes, c.size);
    else
      f.cp_pending[k++] = c;
  }
  f.cp_pending.resize(k);
}

inline void fiber_main() {
  Exec& e = *t_exec;
  bool threw = false;
#if defined(__cpp_exceptions)
  try {
    e.entry(e.arg);
  } catch (...) {
    threw = true;
  }
#else
  e.entry(e.arg);
#endif
  if (threw) fail(cudaErrorLaunchFailure, "kernel code threw a C++ exception");
  Fiber& me = *t_cur;
  retire_copies(me, UINT32_MAX);  // outstanding cp.async copies complete
  me.st = FiberState::Done;
  ++e.n_done;
  e.warp_done[me.lin >> 5] |= 1u << (me.lin & 31);
  suspend();
  __builtin_unreachable();
}

/// syncthreads is __syncthreads (op 0), __syncthreads_count (1),
/// __syncthreads_and (2) and __syncthreads_or (3).
inline int syncthreads(const Site* s, int op = 0, int pred = 0) {
  Exec& e = *t_exec;
  Fiber* me = t_cur;
  me->st = FiberState::Barrier;
  me->site = s;
  if (e.bar_count == 0) {
    e.bar_site = s;
    e.bar_pred = 0;
  } else if (s != e.bar_site) {
    e.bar_mismatch = true;
  }
  e.bar_pred += pred != 0;
  if (++e.bar_count == e.n) {
    if (e.bar_mismatch) {
      const Fiber* other = nullptr;
      for (unsigned i = 0; i < e.n && !other; ++i)
        if (e.f[i].site != s) other = &e.f[i];
      fail(cudaErrorLaunchFailure,
           format("divergent barrier: threads wait at different call sites: %s (%s) and %s (%s)",
                  where(s).c_str(), thread_name(*me).c_str(), where(other->site).c_str(),
                  thread_name(*other).c_str()));
    }
    int r = op == 1 ? int(e.bar_pred) : op == 2 ? e.bar_pred == e.n : op == 3 ? e.bar_pred != 0 : 0;
    for (unsigned i = 0; i < e.n; ++i) {
      e.f[i].st = FiberState::Run;
      e.f[i].res = r;
    }
    e.bar_count = 0;
    e.bar_mismatch = false;
    return r;  // the last thread to arrive continues without a switch
  }
  suspend();
  return me->res;
}

/// warp_collective makes the calling lane take part in a warp collective.
/// It returns once every existing lane of mask has arrived at the same call
/// site with the same mask, after fn has filled every lane's outputs.
inline void warp_collective(const Site* s, uint32_t mask, WarpFn fn, const void* in, void* out) {
  Exec& e = *t_exec;
  Fiber* me = t_cur;
  unsigned lane = me->lin & 31, w = me->lin >> 5;
  if (!(mask >> lane & 1u))
    fail(cudaErrorLaunchFailure, format("%s: the calling lane %u is not in the mask 0x%08x", where(s).c_str(), lane, mask));
  me->st = FiberState::Warp;
  me->site = s;
  me->mask = mask;
  me->fn = fn;
  me->in = in;
  me->out = out;
  uint32_t eff = mask & e.warp_present[w];
  uint32_t& waiting = e.warp_wait[w];
  waiting |= 1u << lane;
  if ((waiting & eff) == eff) {
    Fiber* base = &e.f[size_t(w) * 32];
    bool same = true;
    for (uint32_t m = eff; m && same; m &= m - 1) {
      const Fiber& o = base[__builtin_ctz(m)];
      same = o.site == s && o.mask == mask;
    }
    if (same) {
      fn(base, eff);
      for (uint32_t m = eff; m; m &= m - 1) base[__builtin_ctz(m)].st = FiberState::Run;
      waiting &= ~eff;
      return;  // the last lane to arrive continues without a switch
    }
  }
  suspend();
}

/// diagnose explains why no fiber of the block can run although some have
/// not finished.
inline std::string diagnose(Exec& e) {
  for (unsigned i = 0; i < e.n; ++i) {
    const Fiber& a = e.f[i];
    if (a.st != FiberState::Warp) continue;
    const Fiber* base = &e.f[size_t(i >> 5) * 32];
    uint32_t eff = a.mask & e.warp_present[i >> 5];
    for (uint32_t m = eff; m; m &= m - 1) {
      const Fiber& o = base[__builtin_ctz(m)];
      std::string head = format("%s (mask 0x%08x, %s) can never complete: lane %u ", where(a.site).c_str(), a.mask,
                                thread_name(a).c_str(), o.lin & 31);
      if (o.st == FiberState::Done) return head + "named in the mask has exited";
      if (o.st == FiberState::Barrier) return head + "waits at " + where(o.site);
      if (o.site != a.site) return head + "waits at " + where(o.site) + " (divergent warp)";
      if (o.mask != a.mask) return head + format("calls it with a different mask 0x%08x", o.mask);
    }
  }
  for (unsigned i = 0; i < e.n; ++i) {
    const Fiber& a = e.f[i];
    if (a.st != FiberState::Barrier) continue;
    for (unsigned j = 0; j < e.n; ++j)
      if (e.f[j].st == FiberState::Done)
        return format("%s waited on by %u threads can never complete: %u threads have exited (e.g. %s)",
                      where(a.site).c_str(), e.bar_count, e.n_done, thread_name(e.f[j]).c_str());
  }
  return "deadlock: no thread can make progress";
}

/// Schedule is the process-wide schedule setting.
struct Schedule {
  std::atomic<int> mode{-1};  // -1: not yet read from CUEMU_SCHEDULE
  std::atomic<unsigned long long> seed{0};
};
inline Schedule& schedule() {
  static Schedule s;
  return s;
}

/// parse_schedule reads "forward", "reverse", "random" or "random:SEED".
inline bool parse_schedule(const char* s, int* mode, unsigned long long* seed) {
  *seed = 0;
  if (!s || !*s || !std::strcmp(s, "forward")) {
    *mode = cuemuScheduleForward;
    return true;
  }
  if (!std::strcmp(s, "reverse")) {
    *mode = cuemuScheduleReverse;
    return true;
  }
  if (!std::strncmp(s, "random", 6) && (s[6] == 0 || s[6] == ':')) {
    *mode = cuemuScheduleRandom;
    if (s[6] == ':') {
      char* end = nullptr;
      *seed = std::strtoull(s + 7, &end, 0);
      if (end == s + 7 || *end) return false;
    }
    return true;
  }
  return false;
}

inline int current_schedule(unsigned long long* seed) {
  Schedule& sc = schedule();
  int m = sc.mode.load(std::memory_order_acquire);
  if (m < 0) {
    int pm;
    unsigned long long ps;
    if (!parse_schedule(std::getenv("CUEMU_SCHEDULE"), &pm, &ps)) pm = cuemuScheduleForward, ps = 0;
    sc.seed.store(ps);
    int expect = -1;
    sc.mode.compare_exchange_strong(expect, pm, std::memory_order_acq_rel);
    m = sc.mode.load(std::memory_order_acquire);
  }
  *seed = sc.seed.load();
  return m;
}

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline size_t stack_size() {
  static const size_t sz = [] {
    size_t kb = 256;
    if (const char* s = std::getenv("CUEMU_STACK_KB")) kb = std::max<size_t>(16, std::strtoull(s, nullptr, 10));
    return kb * 1024;
  }();
  return sz;
}

/// prepare sizes the fiber pool for n threads; false if stacks cannot be had.
inline bool prepare(Exec& e, unsigned n) {
  if (e.stack_bytes == 0) {
    e.stack_bytes = stack_size();
    long p = sysconf(_SC_PAGESIZE);
    e.page = p > 0 ? size_t(p) : 4096;
    e.stack_bytes = (e.stack_bytes + e.page - 1) / e.page * e.page;
  }
  while (e.stacks.size() < n) {
    void* m = mmap(nullptr, e.stack_bytes + e.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED) return false;
    mprotect(m, e.page, PROT_NONE);  // guard page below the stack
    e.stacks.push_back(static_cast<char*>(m));
  }
  if (e.f.size() < n) e.f.resize(n);
  return true;
}

/// run_block runs one block to completion or failure.
inline void run_block(Exec& e, int mode, unsigned long long seed) {
  for (unsigned i = 0; i < e.n; ++i) {
    Fiber& f = e.f[i];
    f.st = FiberState::Run;
    f.site = nullptr;
    f.cp_group = 0;
    f.cp_pending.clear();
    char* lo = e.stacks[i] + e.page;
#if defined(CUEMU_SWITCH_ASM)
    uintptr_t top = (reinterpret_cast<uintptr_t>(lo) + e.stack_bytes) & ~uintptr_t(15);
    void** fr = reinterpret_cast<void**>(top - 64);
    for (int r = 0; r < 6; ++r) fr[r] = nullptr;  // r15, r14, r13, r12, rbx, rbp
    fr[6] = reinterpret_cast<void*>(&fiber_main);
    fr[7] = nullptr;  // fiber_main never returns
    f.sp = fr;
#else
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = lo;
    f.uc.uc_stack.ss_size = e.stack_bytes;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, fiber_main, 0);
#endif
  }
  unsigned nw = (e.n + 31) / 32;
  std::fill(e.warp_wait.begin(), e.warp_wait.begin() + nw, 0u);
  std::fill(e.warp_done.begin(), e.warp_done.begin() + nw, 0u);
  e.n_done = 0;
  e.bar_count = 0;
  e.bar_mismatch = false;
  if (e.dyn_size) std::memset(e.dyn, 0xff, e.dyn_size);  // poison dynamic shared memory
  std::mt19937_64 rng;
  if (mode == cuemuScheduleRandom) {
    uint64_t blk = (uint64_t(e.bid.z) * e.grid.y + e.bid.y) * e.grid.x + e.bid.x;
    rng.seed(mix64(seed ^ mix64(blk)));
  }
  // A round resumes the runnable fibers in order; each suspension passes
  // control to the next one (suspend), the last one back here.
  for (;;) {
    if (mode == cuemuScheduleRandom) std::shuffle(e.order.begin(), e.order.end(), rng);
    e.pos = next_runnable(e, 0);
    bool ran = e.pos < e.n;
    if (ran) {
      Fiber& f = e.f[e.order[e.pos]];
      t_cur = &f;
#if defined(CUEMU_SWITCH_ASM)
      cuemu_switch_x86_64(&e.sched_sp, f.sp);
#else
      swapcontext(&e.sched_uc, &f.uc);
#endif
      if (e.failed) return;
    }
    if (e.n_done == e.n) return;
    if (!ran) {
      e.failed = true;
      e.err = cudaErrorLaunchFailure;
      e.msg = format("block (%u,%u,%u): ", e.bid.x, e.bid.y, e.bid.z) + diagnose(e);
      return;
    }
  }
}

/// run_grid executes a kernel launch: entry(arg) is called by every thread of
/// every block. dyn_limit is the largest dynamic shared memory size allowed.
inline cudaError_t run_grid(dim3 grid, dim3 block, size_t dyn, size_t dyn_limit, void (*entry)(void*), void* arg) {
  Exec& e = exec();
  auto config_error = [](std::string m) {
    last_detail() = std::move(m);
    return cudaErrorInvalidConfiguration;
  };
  if (e.active) {
    last_detail() = "kernel launch from device code (dynamic parallelism) is not supported";
    return cudaErrorNotSupported;
  }
  uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
  if (!block.x || !block.y || !block.z || block.x > 1024 || block.y > 1024 || block.z > 64 || nthreads > 1024)
    return config_error(format("invalid block dimensions (%u,%u,%u)", block.x, block.y, block.z));
  if (!grid.x || !grid.y || !grid.z || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return config_error(format("invalid grid dimensions (%u,%u,%u)", grid.x, grid.y, grid.z));
  if (dyn > dyn_limit)
    return config_error(format("%zu bytes of dynamic shared memory requested, %zu allowed (see cudaFuncSetAttribute)",
                               dyn, dyn_limit));
  unsigned n = unsigned(nthreads);
  if (!prepare(e, n)) {
    last_detail() = "cannot allocate fiber stacks";
    return cudaErrorMemoryAllocation;
  }
  if (dyn > e.dyn_cap) {
    size_t cap = (dyn + 127) / 128 * 128;
    void* p = std::aligned_alloc(128, cap);
    if (!p) {
      last_detail() = "cannot allocate dynamic shared memory";
      return cudaErrorMemoryAllocation;
    }
    std::free(e.dyn);
    e.dyn = static_cast<unsigned char*>(p);
    e.dyn_cap = cap;
  }
  e.dyn_size = dyn;
  e.n = n;
  e.grid = grid;
  e.block = block;
  e.entry = entry;
  e.arg = arg;
  e.failed = false;
  e.err = cudaSuccess;
  e.msg.clear();
  unsigned nw = (n + 31) / 32;
  e.warp_wait.assign(nw, 0);
  e.warp_done.assign(nw, 0);
  e.warp_present.assign(nw, 0);
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = e.f[i];
    f.lin = i;
    f.tid = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
    e.warp_present[i >> 5] |= 1u << (i & 31);
  }
  unsigned long long seed;
  int mode = current_schedule(&seed);
  e.order.resize(n);
  for (unsigned i = 0; i < n; ++i) e.order[i] = mode == cuemuScheduleReverse ? n - 1 - i : i;

  Exec* saved_exec = t_exec;
  Fiber* saved_cur = t_cur;
  t_exec = &e;
  e.active = true;
  for (unsigned z = 0; z < grid.z && !e.failed; ++z)
    for (unsigned y = 0; y < grid.y && !e.failed; ++y)
      for (unsigned x = 0; x < grid.x && !e.failed; ++x) {
        e.bid = uint3{x, y, z};
        run_block(e, mode, seed);
      }
  e.active = false;
  t_exec = saved_exec;
  t_cur = saved_cur;
  if (e.failed) {
    last_detail() = e.msg;
    return e.err;
  }
  return cudaSuccess;
}

/// KernelCall binds a kernel to a copy of its arguments, converted to the
/// parameter types as a CUDA launch does.
template <class... P>
struct KernelCall {
  void (*kernel)(P...);
  std::tuple<std::decay_t<P>...> args;

  static void entry(void* self) {
    auto* c = static_cast<KernelCall*>(self);
    std::apply(c->kernel, c->args);
  }
};

}  // namespace detail

/// dynamic_shared returns the block's dynamic shared memory (128-byte
/// aligned, filled with 0xFF bytes before each block so that reads of
/// unwritten data show up as NaN or -1).
template <class T>
inline T* dynamic_shared() {
  return reinterpret_cast<T*>(detail::t_exec->dyn);
}

}  // namespace cuemu

/// cuemuSetSchedule sets the fiber order of subsequent launches in every
/// thread; seed is used by cuemuScheduleRandom (each block draws from
/// seed and its block index, so results do not depend on earlier launches).
/// It overrides the CUEMU_SCHEDULE environment variable, which is read at the
/// first launch otherwise ("forward", "reverse", "random" or "random:SEED").
inline cudaError_t cuemuSetSchedule(cuemuSchedule mode, unsigned long long seed) {
  if (mode < cuemuScheduleForward || mode > cuemuScheduleRandom) return cudaErrorInvalidValue;
  auto& s = cuemu::detail::schedule();
  s.seed.store(seed);
  s.mode.store(mode, std::memory_order_release);
  return cudaSuccess;
}

/// cuemuSetScheduleString sets the schedule from a CUEMU_SCHEDULE-style
/// string; an unparsable string leaves it unchanged and returns
/// cudaErrorInvalidValue.
inline cudaError_t cuemuSetScheduleString(const char* spec) {
  int mode;
  unsigned long long seed;
  if (!cuemu::detail::parse_schedule(spec, &mode, &seed)) return cudaErrorInvalidValue;
  return cuemuSetSchedule(cuemuSchedule(mode), seed);
}

/// cuemuGetSchedule returns the current schedule mode and stores its seed.
inline cuemuSchedule cuemuGetSchedule(unsigned long long* seed) {
  unsigned long long s;
  int m = cuemu::detail::current_schedule(&s);
  if (seed) *seed = s;
  return cuemuSchedule(m);
}

// ---- qualifiers -----------------------------------------------------------------

/// Function qualifiers have no meaning on the CPU. __noinline__ is left
/// undefined on purpose: libstdc++ uses __attribute__((__noinline__)).
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))
/// __shared__ makes a variable static and thread_local: all fibers of a block
/// run on one OS thread and see one copy, and launches on other OS threads
/// have their own. Its contents survive from one block to the next on the
/// same OS thread (the GPU leaves shared memory uninitialized; only dynamic
/// shared memory is poisoned). `extern __shared__` cannot be expressed; use
/// DYNAMIC_SHARED from cuda/ptx_wrappers.cuh or cuemu::dynamic_shared<T>().
#define __shared__ static thread_local
/// __constant__ variables are ordinary static variables of the translation
/// unit (write them with cudaMemcpyToSymbol from the same file).
#define __constant__ static

// ---- built-in variables ------------------------------------------------------

/// threadIdx, blockIdx, blockDim and gridDim read the running fiber's state.
/// They are macros, so struct members with these names cannot be used in
/// code compiled by the emulator.
#define threadIdx (static_cast<const uint3&>(::cuemu::detail::t_cur->tid))
#define blockIdx (static_cast<const uint3&>(::cuemu::detail::t_exec->bid))
#define blockDim (static_cast<const dim3&>(::cuemu::detail::t_exec->block))
#define gridDim (static_cast<const dim3&>(::cuemu::detail::t_exec->grid))
/// warpSize is 32.
constexpr int warpSize = 32;

// ---- block barriers ------------------------------------------------------------

/// __syncthreads waits until every thread of the block reaches this call site
/// (a different site, or a thread that has exited, fails the launch).
#define __syncthreads() ((void)::cuemu::detail::syncthreads(CUEMU_SITE("__syncthreads")))
/// __syncthreads_count returns the number of threads whose predicate is true.
#define __syncthreads_count(p) ::cuemu::detail::syncthreads(CUEMU_SITE("__syncthreads_count"), 1, (p))
/// __syncthreads_and returns whether the predicate is true for all threads.
#define __syncthreads_and(p) ::cuemu::detail::syncthreads(CUEMU_SITE("__syncthreads_and"), 2, (p))
/// __syncthreads_or returns whether the predicate is true for any thread.
#define __syncthreads_or(p) ::cuemu::detail::syncthreads(CUEMU_SITE("__syncthreads_or"), 3, (p))

// ---- warp collectives ------------------------------------------------------------

namespace cuemu {
namespace detail {

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffled types must be trivially copyable, <= 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof v);
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

struct ShflIn {
  uint64_t v;
  int src;
};

// A source lane that does not take part (not in the mask, or beyond the end
// of a partial warp) yields all-ones bits, the GPU's "undefined" made visible.
inline void shfl_fn(Fiber* lanes, uint32_t mask) {
  for (uint32_t m = mask; m; m &= m - 1) {
    Fiber& f = lanes[__builtin_ctz(m)];
    int s = static_cast<const ShflIn*>(f.in)->src;
    *static_cast<uint64_t*>(f.out) = (mask >> s & 1u) ? static_cast<const ShflIn*>(lanes[s].in)->v : ~0ull;
  }
}

inline void check_width(const Site* site, int width) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(cudaErrorLaunchFailure, format("%s: width %d is not a power of two in [1, 32]", where(site).c_str(), width));
}

template <class T>
inline T shfl_to(const Site* site, unsigned mask, T v, unsigned src) {
  ShflIn in{to_bits(v), int(src)};
  uint64_t out = 0;
  warp_collective(site, mask, shfl_fn, &in, &out);
  return from_bits<T>(out);
}

inline unsigned lane_id() { return t_cur->lin & 31; }

template <class T>
inline T shfl_idx(const Site* s, unsigned mask, T v, int src, int width = 32) {
  check_width(s, width);
  unsigned lane = lane_id();
  return shfl_to(s, mask, v, (lane & ~unsigned(width - 1)) + (unsigned(src) & unsigned(width - 1)));
}
template <class T>
inline T shfl_up(const Site* s, unsigned mask, T v, unsigned delta, int width = 32) {
  check_width(s, width);
  unsigned lane = lane_id();
  return shfl_to(s, mask, v, (lane & unsigned(width - 1)) < delta ? lane : lane - delta);
}
template <class T>
inline T shfl_down(const Site* s, unsigned mask, T v, unsigned delta, int width = 32) {
  check_width(s, width);
  unsigned lane = lane_id();
  return shfl_to(s, mask, v, (lane & unsigned(width - 1)) + delta >= unsigned(width) ? lane : lane + delta);
}
template <class T>
inline T shfl_xor(const Site* s, unsigned mask, T v, int lane_mask, int width = 32) {
  check_width(s, width);
  unsigned lane = lane_id(), src = lane ^ unsigned(lane_mask);
  // lanes may read from earlier groups of width lanes but not from later ones
  if (src > 31 || src / unsigned(width) > lane / unsigned(width)) src = lane;
  return shfl_to(s, mask, v, src);
}

inline void syncwarp_fn(Fiber*, uint32_t) {}
inline void syncwarp(const Site* s, unsigned mask = 0xffffffffu) { warp_collective(s, mask, syncwarp_fn, nullptr, nullptr); }

struct VoteOut {
  uint32_t ballot, members;
};
inline void vote_fn(Fiber* lanes, uint32_t mask) {
  uint32_t b = 0;
  for (uint32_t m = mask; m; m &= m - 1)
    if (*static_cast<const int*>(lanes[__builtin_ctz(m)].in)) b |= 1u << __builtin_ctz(m);
  for (uint32_t m = mask; m; m &= m - 1) *static_cast<VoteOut*>(lanes[__builtin_ctz(m)].out) = VoteOut{b, mask};
}
inline VoteOut vote(const Site* s, unsigned mask, int pred) {
  int in = pred != 0;
  VoteOut out{};
  warp_collective(s, mask, vote_fn, &in, &out);
  return out;
}

inline void match_any_fn(Fiber* lanes, uint32_t mask) {
  for (uint32_t m = mask; m; m &= m - 1) {
    Fiber& f = lanes[__builtin_ctz(m)];
    uint64_t v = *static_cast<const uint64_t*>(f.in);
    uint32_t r = 0;
    for (uint32_t k = mask; k; k &= k - 1)
      if (*static_cast<const uint64_t*>(lanes[__builtin_ctz(k)].in) == v) r |= 1u << __builtin_ctz(k);
    *static_cast<uint32_t*>(f.out) = r;
  }
}
template <class T>
inline unsigned match_any(const Site* s, unsigned mask, T v) {
  uint64_t in = to_bits(v);
  uint32_t out = 0;
  warp_collective(s, mask, match_any_fn, &in, &out);
  return out;
}
template <class T>
inline unsigned match_all(const Site* s, unsigned mask, T v, int* pred) {
  uint64_t in = to_bits(v);
  uint32_t out = 0;
  warp_collective(s, mask, match_any_fn, &in, &out);
  uint32_t members = mask & t_exec->warp_present[t_cur->lin >> 5];
  *pred = out == members;
  return out == members ? members : 0;
}

template <int Op>
inline void reduce_fn(Fiber* lanes, uint32_t mask) {
  uint64_t acc = *static_cast<const uint64_t*>(lanes[__builtin_ctz(mask)].in);
  for (uint32_t m = mask & (mask - 1); m; m &= m - 1) {
    uint64_t v = *static_cast<const uint64_t*>(lanes[__builtin_ctz(m)].in);
    if constexpr (Op == 0) acc = uint32_t(acc + v);
    if constexpr (Op == 1) acc = int64_t(v) < int64_t(acc) ? v : acc;
    if constexpr (Op == 2) acc = int64_t(v) > int64_t(acc) ? v : acc;
    if constexpr (Op == 3) acc &= v;
    if constexpr (Op == 4) acc |= v;
    if constexpr (Op == 5) acc ^= v;
  }
  for (uint32_t m = mask; m; m &= m - 1) *static_cast<uint64_t*>(lanes[__builtin_ctz(m)].out) = acc;
}
template <int Op, class T>
inline T reduce(const Site* s, unsigned mask, T v) {
  static_assert(std::is_integral_v<T> && sizeof(T) == 4, "__reduce_*_sync takes int or unsigned");
  // min/max compare as 64-bit signed values: sign-extend int, zero-extend unsigned
  uint64_t in = std::is_signed_v<T> ? uint64_t(int64_t(v)) : uint64_t(uint32_t(v)), out = 0;
  warp_collective(s, mask, reduce_fn<Op>, &in, &out);
  return T(out);
}

inline unsigned activemask() {
  unsigned w = t_cur->lin >> 5;
  return t_exec->warp_present[w] & ~t_exec->warp_done[w];
}

}  // namespace detail
}  // namespace cuemu

/// __shfl_sync(mask, v, srcLane, width=32) returns v of lane srcLane modulo
/// width within the caller's group of width lanes. v may be any trivially
/// copyable type of at most 8 bytes. Every existing lane of mask must call it
/// at the same site; a source lane outside the mask yields all-ones bits.
#define __shfl_sync(mask, v, src, ...) \
  ::cuemu::detail::shfl_idx(CUEMU_SITE("__shfl_sync"), (mask), (v), (src)__VA_OPT__(, ) __VA_ARGS__)
/// __shfl_up_sync returns v of lane-delta, or the caller's own v when that
/// lane is below the start of its group of width lanes.
#define __shfl_up_sync(mask, v, delta, ...) \
  ::cuemu::detail::shfl_up(CUEMU_SITE("__shfl_up_sync"), (mask), (v), (delta)__VA_OPT__(, ) __VA_ARGS__)
/// __shfl_down_sync returns v of lane+delta, or the caller's own v when that
/// lane is beyond the end of its group of width lanes.
#define __shfl_down_sync(mask, v, delta, ...) \
  ::cuemu::detail::shfl_down(CUEMU_SITE("__shfl_down_sync"), (mask), (v), (delta)__VA_OPT__(, ) __VA_ARGS__)
/// __shfl_xor_sync returns v of lane^laneMask; a lane in a later group of
/// width lanes is replaced by the caller itself.
#define __shfl_xor_sync(mask, v, laneMask, ...) \
  ::cuemu::detail::shfl_xor(CUEMU_SITE("__shfl_xor_sync"), (mask), (v), (laneMask)__VA_OPT__(, ) __VA_ARGS__)
/// __syncwarp(mask=0xffffffff) waits for the lanes of mask at this call site
/// (stricter than Volta+ hardware, which also matches __syncwarp calls at
/// different sites).
#define __syncwarp(...) ::cuemu::detail::syncwarp(CUEMU_SITE("__syncwarp") __VA_OPT__(, ) __VA_ARGS__)
/// __ballot_sync returns the lanes of mask whose predicate is non-zero.
#define __ballot_sync(mask, pred) (::cuemu::detail::vote(CUEMU_SITE("__ballot_sync"), (mask), (pred)).ballot)
/// __any_sync returns whether the predicate is non-zero for any lane of mask.
#define __any_sync(mask, pred) (::cuemu::detail::vote(CUEMU_SITE("__any_sync"), (mask), (pred)).ballot != 0)
/// __all_sync returns whether the predicate is non-zero for every lane of mask.
#define __all_sync(mask, pred)                                                       \
  ([](::cuemu::detail::VoteOut o_) { return o_.ballot == o_.members; }( \
      ::cuemu::detail::vote(CUEMU_SITE("__all_sync"), (mask), (pred))))
/// __match_any_sync returns the lanes of mask holding the same value as the caller.
#define __match_any_sync(mask, v) ::cuemu::detail::match_any(CUEMU_SITE("__match_any_sync"), (mask), (v))
/// __match_all_sync returns mask if all lanes of mask hold the same value
/// (setting *pred to true), else 0.
#define __match_all_sync(mask, v, pred) ::cuemu::detail::match_all(CUEMU_SITE("__match_all_sync"), (mask), (v), (pred))
/// __reduce_add_sync, __reduce_min_sync, __reduce_max_sync,
/// __reduce_and_sync, __reduce_or_sync, __reduce_xor_sync (sm_80) reduce an
/// int or unsigned over the lanes of mask.
#define __reduce_add_sync(mask, v) ::cuemu::detail::reduce<0>(CUEMU_SITE("__reduce_add_sync"), (mask), (v))
#define __reduce_min_sync(mask, v) ::cuemu::detail::reduce<1>(CUEMU_SITE("__reduce_min_sync"), (mask), (v))
#define __reduce_max_sync(mask, v) ::cuemu::detail::reduce<2>(CUEMU_SITE("__reduce_max_sync"), (mask), (v))
#define __reduce_and_sync(mask, v) ::cuemu::detail::reduce<3>(CUEMU_SITE("__reduce_and_sync"), (mask), (v))
#define __reduce_or_sync(mask, v) ::cuemu::detail::reduce<4>(CUEMU_SITE("__reduce_or_sync"), (mask), (v))
#define __reduce_xor_sync(mask, v) ::cuemu::detail::reduce<5>(CUEMU_SITE("__reduce_xor_sync"), (mask), (v))
/// __activemask returns the lanes of the caller's warp that have not exited
/// (there is no lock-step execution, so divergence is not reflected).
inline unsigned __activemask() { return cuemu::detail::activemask(); }
/// __trap() fails the launch with cudaErrorIllegalInstruction.
inline void __trap() { cuemu::detail::fail(cudaErrorIllegalInstruction, "__trap() called"); }
/// __nanosleep does nothing (fibers are not preempted, so a spin-wait on
/// another thread never ends under the emulator).
inline void __nanosleep(unsigned) {}

// ---- memory fences and cache-hinted loads/stores -----------------------------------

/// __threadfence, __threadfence_block, __threadfence_system: a sequentially
/// consistent fence.
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
/// __ldg, __ldcg, __ldca, __ldcs, __ldlu, __ldcv: plain loads.
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
/// __stwb, __stcg, __stcs, __stwt: plain stores.
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

// ---- atomics ----------------------------------------------------------------------
// Blocks run one at a time, but the atomics are real (relaxed) atomic
// operations so that launches from several host threads on shared buffers
// stay correct.

#define CUEMU_ATOMIC_RMW(T)                                                                              \
  inline T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed); } \
  inline T atomicExch(T* p, T v) { return std::atomic_ref<T>(*p).exchange(v, std::memory_order_relaxed); }
#define CUEMU_ATOMIC_INT(T)                                                                              \
  inline T atomicSub(T* p, T v) { return std::atomic_ref<T>(*p).fetch_sub(v, std::memory_order_relaxed); } \
  inline T atomicAnd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_and(v, std::memory_order_relaxed); } \
  inline T atomicOr(T* p, T v) { return std::atomic_ref<T>(*p).fetch_or(v, std::memory_order_relaxed); }   \
  inline T atomicXor(T* p, T v) { return std::atomic_ref<T>(*p).fetch_xor(v, std::memory_order_relaxed); } \
  inline T atomicCAS(T* p, T cmp, T v) {                                                                 \
    std::atomic_ref<T>(*p).compare_exchange_strong(cmp, v, std::memory_order_relaxed);                  \
    return cmp;                                                                                          \
  }                                                                                                      \
  inline T atomicMax(T* p, T v) {                                                                        \
    std::atomic_ref<T> a(*p);                                                                            \
    T o = a.load(std::memory_order_relaxed);                                                             \
    while (o < v && !a.compare_exchange_weak(o, v, std::memory_order_relaxed)) {                          \
    }                                                                                                    \
    return o;                                                                                            \
  }                                                                                                      \
  inline T atomicMin(T* p, T v) {                                                                        \
    std::atomic_ref<T> a(*p);                                                                            \
    T o = a.load(std::memory_order_relaxed);                                                             \
    while (v < o && !a.compare_exchange_weak(o, v, std::memory_order_relaxed)) {                          \
    }                                                                                                    \
    return o;                                                                                            \
  }

/// atomicAdd and atomicExch for int, unsigned, unsigned long long, float and
/// double (atomicExch: not double); atomicSub, atomicAnd, atomicOr,
/// atomicXor, atomicCAS, atomicMax and atomicMin for int, unsigned, long long
/// and unsigned long long. All return the old value.
CUEMU_ATOMIC_RMW(int)
CUEMU_ATOMIC_RMW(unsigned int)
CUEMU_ATOMIC_RMW(unsigned long long)
CUEMU_ATOMIC_RMW(float)
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v, std::memory_order_relaxed); }
CUEMU_ATOMIC_INT(int)
CUEMU_ATOMIC_INT(unsigned int)
CUEMU_ATOMIC_INT(long long)
CUEMU_ATOMIC_INT(unsigned long long)
#undef CUEMU_ATOMIC_RMW
#undef CUEMU_ATOMIC_INT
/// atomicCAS on a 16-bit word (sm_70+).
inline unsigned short atomicCAS(unsigned short* p, unsigned short cmp, unsigned short v) {
  std::atomic_ref<unsigned short>(*p).compare_exchange_strong(cmp, v, std::memory_order_relaxed);
  return cmp;
}
/// atomicInc stores (old >= limit) ? 0 : old+1; atomicDec stores
/// (old == 0 || old > limit) ? limit : old-1. Both return old.
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  std::atomic_ref<unsigned> a(*p);
  unsigned o = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(o, o >= limit ? 0 : o + 1, std::memory_order_relaxed)) {
  }
  return o;
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {
  std::atomic_ref<unsigned> a(*p);
  unsigned o = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(o, (o == 0 || o > limit) ? limit : o - 1, std::memory_order_relaxed)) {
  }
  return o;
}

// ---- math -------------------------------------------------------------------------
// The standard float functions (expf, logf, tanhf, sqrtf, fmaxf, ...) are
// the C library's. The fast-math intrinsics below map to the correctly
// rounded or libm functions, so they are more accurate than the GPU's
// approximations: compare GPU and emulator results with a tolerance of a few
// ulp (__expf, __logf, __sinf, __cosf, __powf, __fdividef) — the _rn forms
// (__fadd_rn, __fmul_rn, __fmaf_rn, __fdiv_rn, __frcp_rn, __fsqrt_rn) are
// bit-exact. Emulated kernels are compiled without FMA contraction
// (-ffp-contract=off), so a*b+c rounds twice as written; nvcc contracts it
// into an FMA by default.

// glibc declares several of these names in <math.h>; the definitions below
// match those declarations (C linkage, noexcept).
extern "C" {
/// __expf: fast exp (here expf).
inline float __expf(float x) noexcept { return expf(x); }
/// __exp10f: fast 10^x.
inline float __exp10f(float x) noexcept { return powf(10.0f, x); }
/// __logf, __log2f, __log10f: fast logarithms.
inline float __logf(float x) noexcept { return logf(x); }
inline float __log2f(float x) noexcept { return log2f(x); }
inline float __log10f(float x) noexcept { return log10f(x); }
/// __sinf, __cosf, __tanf, __sincosf: fast trigonometry.
inline float __sinf(float x) noexcept { return sinf(x); }
inline float __cosf(float x) noexcept { return cosf(x); }
inline float __tanf(float x) noexcept { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) noexcept {
  *s = sinf(x);
  *c = cosf(x);
}
/// __powf: fast x^y.
inline float __powf(float x, float y) noexcept { return powf(x, y); }
}
/// __fdividef: fast division (the GPU returns 0 for 2^126 < |y| < 2^128).
inline float __fdividef(float x, float y) { return x / y; }
/// rsqrtf, rsqrt: 1/sqrt(x).
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
/// __frsqrt_rn: 1/sqrt(x) (rounded twice here; the GPU rounds once).
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
/// __frcp_rn, __fsqrt_rn, __fdiv_rn, __fadd_rn, __fsub_rn, __fmul_rn,
/// __fmaf_rn, __dadd_rn, __dmul_rn, __fma_rn: correctly rounded operations.
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline double __dadd_rn(double x, double y) { return x + y; }
inline double __dmul_rn(double x, double y) { return x * y; }
inline double __fma_rn(double x, double y, double z) { return fma(x, y, z); }
/// __saturatef clamps to [0, 1] (NaN gives 0).
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : x > 0.0f ? x : 0.0f; }
/// __float_as_int, __int_as_float, __float_as_uint, __uint_as_float,
/// __double_as_longlong, __longlong_as_double: reinterpret bits.
inline int __float_as_int(float x) { return cuemu::detail::from_bits<int>(cuemu::detail::to_bits(x)); }
inline float __int_as_float(int x) { return cuemu::detail::from_bits<float>(cuemu::detail::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return cuemu::detail::from_bits<unsigned>(cuemu::detail::to_bits(x)); }
inline float __uint_as_float(unsigned x) { return cuemu::detail::from_bits<float>(cuemu::detail::to_bits(x)); }
inline long long __double_as_longlong(double x) { return cuemu::detail::from_bits<long long>(cuemu::detail::to_bits(x)); }
inline double __longlong_as_double(long long x) { return cuemu::detail::from_bits<double>(cuemu::detail::to_bits(x)); }
/// __float2int_rn/_rz/_rd/_ru, __float2uint_rn, __int2float_rn,
/// __uint2float_rn: conversions with the named rounding (out-of-range float
/// to int conversions are undefined here, saturating on the GPU).
inline int __float2int_rn(float x) { return int(nearbyintf(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline int __float2int_rd(float x) { return int(floorf(x)); }
inline int __float2int_ru(float x) { return int(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return unsigned(nearbyintf(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }
/// __popc, __popcll, __clz, __clzll, __ffs, __ffsll, __brev, __brevll,
/// __byte_perm, __funnelshift_l/_r, __mulhi, __umulhi, __mul64hi, __umul64hi:
/// integer intrinsics with CUDA's definitions (__clz(0) is 32, __ffs(0) is 0).
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz(unsigned(x)) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) {
  return (static_cast<unsigned long long>(__brev(unsigned(x))) << 32) | __brev(unsigned(x >> 32));
}
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  uint64_t v = (uint64_t(y) << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= unsigned((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned sh) {
  return unsigned(((uint64_t(hi) << 32 | lo) << (sh & 31)) >> 32);
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned sh) {
  return unsigned((uint64_t(hi) << 32 | lo) >> (sh & 31));
}
inline int __mulhi(int x, int y) { return int((int64_t(x) * y) >> 32); }
inline unsigned __umulhi(unsigned x, unsigned y) { return unsigned((uint64_t(x) * y) >> 32); }
inline long long __mul64hi(long long x, long long y) { return (long long)((__int128(x) * y) >> 64); }
inline unsigned long long __umul64hi(unsigned long long x, unsigned long long y) {
  return (unsigned long long)((unsigned __int128)x * y >> 64);
}
/// min and max for the integer and floating types, as CUDA's device
/// overloads (mixed signed/unsigned arguments compare as unsigned).
#define CUEMU_MINMAX(T)                              \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
CUEMU_MINMAX(int)
CUEMU_MINMAX(unsigned int)
CUEMU_MINMAX(long long)
CUEMU_MINMAX(unsigned long long)
#undef CUEMU_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline unsigned min(int a, unsigned b) { return min(unsigned(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, unsigned(b)); }
inline unsigned max(int a, unsigned b) { return max(unsigned(a), b); }
inline unsigned max(unsigned a, int b) { return max(a, unsigned(b)); }
/// clock64 returns a monotonic nanosecond count (not a cycle count).
inline long long clock64() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
