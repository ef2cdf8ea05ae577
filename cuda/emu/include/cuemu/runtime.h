// cuemu runtime: the subset of the CUDA runtime API that host code uses,
// implemented on the CPU (included by the shadow <cuda_runtime.h>).
//
// Semantics
//   - Device memory is host memory: every pointer works on both sides and
//     every cudaMemcpy direction is a memcpy. cudaMemcpy calls that overrun a
//     cudaMalloc'd block fail with cudaErrorInvalidValue.
//   - Execution is synchronous: a kernel launch runs to completion before it
//     returns. Streams and events exist so host code keeps its structure;
//     events carry the host clock at the time of recording.
//   - Errors are status codes; nothing prints, throws across this API, exits
//     or aborts. A failed launch returns its error, records it as the last
//     error (cudaGetLastError) and reports it again at the next synchronizing
//     call (cudaDeviceSynchronize, cudaStreamSynchronize,
//     cudaEventSynchronize, cudaMemcpy) unless cudaGetLastError has cleared
//     it first. Unlike on a GPU it is not sticky: later work runs normally. cuemuGetLastErrorDetail() explains the last
//     error in words (file:line of the failing barrier, ...). Error state is
//     per OS thread, as in CUDA.
//   - Stream capture records launches, memcpys, memsets, event records and
//     graph launches issued to the capturing stream; cudaGraphLaunch replays
//     them in order with the argument values captured. Synchronizing a
//     capturing stream, or issuing work to the legacy default stream while a
//     capture is in progress, fails and invalidates the capture.
//   - Fault injection (cuemuFaultArm and the other C functions at the end of
//     this file): the runtime counts its calls by kind (allocations, copies
//     and memsets, kernel launches, graph calls, synchronizations, stream
//     and event calls) and can fail the Nth call of a kind with a chosen
//     error, once, so that tests reach every failure path of host code.
//   - Memory cap (CUEMU_MEM_LIMIT=bytes in the environment, or
//     cuemuSetMemoryLimit): device allocations that would take the live
//     device bytes past the cap fail with cudaErrorMemoryAllocation, and
//     cudaMemGetInfo and cudaGetDeviceProperties report the cap as the
//     device's memory.
//   - Check mode (CUEMU_CHECK=1 in the environment, or cuemuSetCheck(1)):
//     cudaMalloc surrounds each block with 64-byte canaries and fills it with
//     0xFF bytes; the canaries of every live block are verified after each
//     kernel and at cudaFree, and a damaged canary fails that call with
//     cudaErrorIllegalAddress naming the block and the offset.
//   - Launch record (cuemuLaunchRecord, cuemuLaunchRecorded): the grid and
//     block sizes of the launches issued while recording, for tests of the
//     launch shapes host code picks.
//
// Kernels are launched with RWKV_LAUNCH (cuda/ptx_wrappers.cuh), which is
// `kernel<<<grid, block, shmem, stream>>>` under nvcc, or directly with
// cuemu::launcher(kernel, grid, block, shmem, stream)(args...), or with
// cudaLaunchKernel; the <<<>>> syntax itself is not C++.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "cuemu/cuemu.h"

// ---- types ---------------------------------------------------------------------------

/// cudaMemcpyKind: every kind behaves the same (all memory is host memory);
/// an out-of-range value fails with cudaErrorInvalidMemcpyDirection.
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

/// cudaStreamCaptureMode: all modes behave as cudaStreamCaptureModeGlobal
/// for the checks the emulator makes.
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};

/// cudaStreamCaptureStatus is reported by cudaStreamIsCapturing.
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

/// cudaFuncAttribute: cudaFuncAttributeMaxDynamicSharedMemorySize raises the
/// dynamic shared memory limit of a kernel (default 48 KiB, at most
/// sharedMemPerBlockOptin); the carveout preference is accepted and ignored.
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

/// cudaDeviceAttr: the attributes cudaDeviceGetAttribute answers.
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxBlockDimX = 2,
  cudaDevAttrMaxGridDimX = 5,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

/// Flags accepted (and ignored) by the stream, event and host-allocation calls.
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
#define cudaHostAllocMapped 0x02
#define cudaHostAllocWriteCombined 0x04
#define cudaMemAttachGlobal 0x01
#define cudaGraphInstantiateFlagAutoFreeOnLaunch 1

/// cudaDeviceProp: the commonly read fields of CUDA's device properties,
/// with values describing a plausible sm_80-class device named "cuemu".
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  size_t totalConstMem;
  int major;
  int minor;
  int multiProcessorCount;
  int integrated;
  int canMapHostMemory;
  int concurrentKernels;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int managedMemory;
  size_t sharedMemPerBlockOptin;
  int maxBlocksPerMultiProcessor;
};

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
struct CUgraphNode_st;
/// cudaStream_t, cudaEvent_t, cudaGraph_t, cudaGraphExec_t and
/// cudaGraphNode_t are opaque handles, as in CUDA.
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
typedef CUgraph_st* cudaGraph_t;
typedef CUgraphExec_st* cudaGraphExec_t;
typedef CUgraphNode_st* cudaGraphNode_t;
/// cudaStreamLegacy and cudaStreamPerThread name the default streams.
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)

namespace cuemu {
namespace rt {

/// Node is one captured operation.
using Node = std::function<cudaError_t()>;

}  // namespace rt
}  // namespace cuemu

struct CUstream_st {
  unsigned flags = 0;
  bool capturing = false, invalidated = false;
  std::vector<cuemu::rt::Node> nodes;
};
struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point t;
};
struct CUgraph_st {
  std::vector<cuemu::rt::Node> nodes;
};
struct CUgraphExec_st {
  std::vector<cuemu::rt::Node> nodes;
};

namespace cuemu {
namespace rt {

constexpr size_t kDefaultDynamicShared = 48 * 1024;
constexpr size_t kOptinShared = 100 * 1024;
constexpr size_t kCanary = 64;
constexpr unsigned char kCanaryByte = 0xcd;

/// Alloc is one live cudaMalloc/cudaMallocHost block.
struct Alloc {
  size_t size;
  void* base;  // what was allocated (user pointer minus the front canary in check mode)
  bool canaries;
  bool host;  // cudaMallocHost / cudaHostAlloc (not device memory)
};

/// FaultKind classifies the runtime calls the fault injector counts (the
/// kind argument of cuemuFaultArm and cuemuFaultCalls; -1 means any kind).
enum FaultKind {
  kFaultAlloc = 0,   ///< cudaMalloc, cudaMallocManaged, cudaMallocHost, cudaHostAlloc
  kFaultCopy = 1,    ///< cudaMemcpy*, cudaMemset*
  kFaultLaunch = 2,  ///< kernel launches (launcher, cudaLaunchKernel)
  kFaultGraph = 3,   ///< cudaStreamBeginCapture, cudaGraphInstantiate*, cudaGraphLaunch
  kFaultSync = 4,    ///< cudaStreamSynchronize, cudaEventSynchronize, cudaDeviceSynchronize
  kFaultOther = 5,   ///< cudaStreamCreate*, cudaEventCreate*, cudaEventRecord
  kFaultKinds = 6,
};

/// State is the process-wide runtime state. Its accessor has default
/// visibility even in libraries built with -fvisibility=hidden, so that every
/// shared library of a process built against the emulator (librwkvcu_emu and
/// librwkvcu_bench_emu) shares one instance (the static is a unique symbol),
/// as every user of the CUDA runtime in a process shares the device's
/// streams, events and memory.
struct State {
  std::mutex mu;
  std::map<uintptr_t, Alloc> allocs;  // keyed by user pointer
  std::set<CUstream_st*> streams;
  std::set<CUevent_st*> events;
  std::set<CUgraph_st*> graphs;
  std::set<CUgraphExec_st*> execs;
  std::map<const void*, size_t> dyn_limit;  // per kernel
  std::atomic<int> capturing{0};            // streams now capturing
  std::atomic<int> check{-1};               // -1: read CUEMU_CHECK at first use
  size_t allocated = 0;                     // live device bytes
  size_t host_allocated = 0;                // live pinned host bytes
  size_t device_blocks = 0, host_blocks = 0;
  // Fault injection: calls per kind (and of any kind, last), the armed
  // kind (-2: none, -1: any) and the call number that fails.
  std::atomic<unsigned long long> fault_calls[kFaultKinds + 1] = {};
  std::atomic<int> fault_kind{-2};
  std::atomic<unsigned long long> fault_at{0};
  std::atomic<int> fault_err{0};
  std::atomic<unsigned long long> faults_injected{0};
  std::atomic<long long> mem_limit{-1};  // bytes; 0: none; -1: read CUEMU_MEM_LIMIT at first use
  // Launch record (cuemuLaunchRecord): the grid and block of each launch
  // issued while recording, at most kLaunchRecordMax.
  std::atomic<bool> recording{false};
  std::vector<unsigned> launch_record;  // gridDim.x, .y, .z, blockDim.x per launch (under mu)
};

/// kLaunchRecordMax is the most launches the launch record keeps.
constexpr size_t kLaunchRecordMax = size_t(1) << 16;

__attribute__((visibility("default"))) inline State& state() {
  static State s;
  return s;
}

inline bool check_mode() {
  State& s = state();
  int c = s.check.load(std::memory_order_relaxed);
  if (c < 0) {
    const char* e = std::getenv("CUEMU_CHECK");
    c = e && *e && std::strcmp(e, "0") != 0;
    s.check.store(c, std::memory_order_relaxed);
  }
  return c != 0;
}

/// memory_limit returns the device memory cap in bytes (0: none).
inline size_t memory_limit() {
  State& s = state();
  long long l = s.mem_limit.load(std::memory_order_relaxed);
  if (l < 0) {
    const char* e = std::getenv("CUEMU_MEM_LIMIT");
    l = e && *e ? std::strtoll(e, nullptr, 10) : 0;
    if (l < 0) l = 0;
    long long unset = -1;
    s.mem_limit.compare_exchange_strong(unset, l);
    l = s.mem_limit.load();
  }
  return size_t(l);
}

/// device_memory is the memory the emulated device reports: the cap, or 16 GiB.
inline size_t device_memory() {
  size_t l = memory_limit();
  return l ? l : size_t(16) << 30;
}

struct ThreadErrors {
  cudaError_t last = cudaSuccess;     // cudaGetLastError
  cudaError_t pending = cudaSuccess;  // reported by the next synchronizing call
};
inline ThreadErrors& errors() {
  static thread_local ThreadErrors e;
  return e;
}

/// record notes a failed call as the thread's last error and returns err.
inline cudaError_t record(cudaError_t err) {
  if (err != cudaSuccess) errors().last = err;
  return err;
}
/// fail records err with an explanation.
inline cudaError_t fail(cudaError_t err, std::string detail) {
  cuemu::detail::last_detail() = std::move(detail);
  return record(err);
}
inline const char* fault_kind_name(int k) {
  static const char* names[] = {"allocation", "copy", "launch", "graph", "synchronization", "stream/event"};
  return k >= 0 && k < kFaultKinds ? names[k] : "any";
}

/// fault_default is the error an injected fault of kind k returns unless
/// cuemuFaultArm names another.
inline cudaError_t fault_default(int k) {
  switch (k) {
    case kFaultAlloc: return cudaErrorMemoryAllocation;
    case kFaultLaunch:
    case kFaultSync: return cudaErrorLaunchFailure;
    default: return cudaErrorUnknown;
  }
}

/// inject counts a call of kind k (what names it) and, when it is the call
/// the armed fault designates, disarms and fails it (recording the error
/// and a detail naming the injection); otherwise it returns cudaSuccess.
inline cudaError_t inject(int k, const char* what) {
  State& s = state();
  const unsigned long long n = s.fault_calls[k].fetch_add(1) + 1;
  const unsigned long long all = s.fault_calls[kFaultKinds].fetch_add(1) + 1;
  int armed = s.fault_kind.load();
  if (armed == -2 || (armed != -1 && armed != k)) return cudaSuccess;
  if ((armed == -1 ? all : n) != s.fault_at.load()) return cudaSuccess;
  if (!s.fault_kind.compare_exchange_strong(armed, -2)) return cudaSuccess;
  s.faults_injected.fetch_add(1);
  const int e = s.fault_err.load();
  return fail(e ? cudaError_t(e) : fault_default(k),
              cuemu::detail::format("injected fault: %s call %llu (%s)", fault_kind_name(k), n, what));
}

/// take_pending returns (and clears) the error of an earlier failed launch.
inline cudaError_t take_pending() {
  cudaError_t e = errors().pending;
  errors().pending = cudaSuccess;
  return e;
}

inline bool is_default_stream(cudaStream_t s) {
  return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread;
}

/// stream_for_work validates s before work is issued to it and reports
/// whether the work must be captured instead of run.
inline cudaError_t stream_for_work(cudaStream_t s, bool* capture) {
  *capture = false;
  State& st = state();
  if (is_default_stream(s)) {
    if (s != cudaStreamPerThread && st.capturing.load() > 0) {
      std::lock_guard<std::mutex> g(st.mu);
      for (CUstream_st* c : st.streams)
        if (c->capturing) c->invalidated = true;
      return fail(cudaErrorStreamCaptureImplicit,
                  "work issued to the legacy default stream while a stream capture is in progress");
    }
    return cudaSuccess;
  }
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(s)) return fail(cudaErrorInvalidResourceHandle, "unknown stream");
  *capture = s->capturing;
  if (s->capturing && s->invalidated) return fail(cudaErrorStreamCaptureInvalidated, "stream capture was invalidated");
  return cudaSuccess;
}

/// capture appends a node to a capturing stream.
inline cudaError_t capture(cudaStream_t s, Node n) {
  std::lock_guard<std::mutex> g(state().mu);
  s->nodes.push_back(std::move(n));
  return cudaSuccess;
}

/// sync_point is called by synchronizing operations: they may not run while
/// a capture is in progress (stream s, or any stream when s is null).
inline cudaError_t sync_point(cudaStream_t s, bool any) {
  State& st = state();
  if (st.capturing.load() == 0) return cudaSuccess;
  std::lock_guard<std::mutex> g(st.mu);
  bool hit = false;
  for (CUstream_st* c : st.streams)
    if (c->capturing && (any || c == s)) c->invalidated = hit = true;
  return hit ? fail(cudaErrorStreamCaptureUnsupported, "synchronization while a stream capture is in progress")
             : cudaSuccess;
}

/// invalidate_capture marks a capture in progress on s invalidated (a failed
/// launch into a capturing stream), leaving the thread's error state alone.
inline void invalidate_capture(cudaStream_t s) {
  State& st = state();
  if (st.capturing.load() == 0 || is_default_stream(s)) return;
  std::lock_guard<std::mutex> g(st.mu);
  if (st.streams.count(s) && s->capturing) s->invalidated = true;
}

/// canary_damage returns the offset of the first damaged canary byte of a,
/// relative to the user pointer p, or 0 if both canaries are intact.
inline long canary_damage(uintptr_t p, const Alloc& a) {
  const unsigned char* front = static_cast<const unsigned char*>(a.base);
  for (size_t i = 0; i < kCanary; ++i)
    if (front[i] != kCanaryByte) return long(i) - long(kCanary);
  const unsigned char* back = reinterpret_cast<const unsigned char*>(p) + a.size;
  for (size_t i = 0; i < kCanary; ++i)
    if (back[i] != kCanaryByte) return long(a.size + i);
  return 0;
}

/// check_all_canaries verifies every live block (check mode, after a kernel).
inline cudaError_t check_all_canaries() {
  State& st = state();
  std::lock_guard<std::mutex> g(st.mu);
  for (auto& [p, a] : st.allocs) {
    if (!a.canaries) continue;
    if (long off = canary_damage(p, a))
      return fail(cudaErrorIllegalAddress,
                  cuemu::detail::format("out-of-bounds write: byte %ld of the %zu-byte block at %p was overwritten", off,
                                        a.size, reinterpret_cast<void*>(p)));
  }
  return cudaSuccess;
}

/// find_alloc returns the live block containing p, or null.
inline const Alloc* find_alloc(uintptr_t p, uintptr_t* start) {
  State& st = state();
  auto it = st.allocs.upper_bound(p);
  if (it == st.allocs.begin()) return nullptr;
  --it;
  if (p >= it->first + std::max<size_t>(it->second.size, 1)) return nullptr;
  *start = it->first;
  return &it->second;
}

/// check_range fails if [p, p+n) starts inside a cudaMalloc'd block and runs
/// past its end.
inline cudaError_t check_range(const void* p, size_t n, const char* what) {
  State& st = state();
  std::lock_guard<std::mutex> g(st.mu);
  uintptr_t start;
  const Alloc* a = find_alloc(reinterpret_cast<uintptr_t>(p), &start);
  if (a && reinterpret_cast<uintptr_t>(p) - start + n > a->size)
    return fail(cudaErrorInvalidValue,
                cuemu::detail::format("%s of %zu bytes at offset %zu overruns the %zu-byte block at %p", what, n,
                                      size_t(reinterpret_cast<uintptr_t>(p) - start), a->size,
                                      reinterpret_cast<void*>(start)));
  return cudaSuccess;
}

inline cudaError_t alloc(void** p, size_t n, bool host = false) {
  if (!p) return fail(cudaErrorInvalidValue, "null result pointer");
  *p = nullptr;
  if (n == 0) return cudaSuccess;
  if (cudaError_t e = inject(kFaultAlloc, host ? "cudaMallocHost" : "cudaMalloc")) return e;
  State& st = state();
  if (!host) {  // reserve the bytes under the cap before allocating
    const size_t cap = memory_limit();
    std::lock_guard<std::mutex> g(st.mu);
    if (cap && st.allocated + n > cap)
      return fail(cudaErrorMemoryAllocation,
                  cuemu::detail::format("cannot allocate %zu bytes: %zu of the device's %zu bytes are in use", n,
                                        st.allocated, cap));
    st.allocated += n;
    ++st.device_blocks;
  }
  bool canaries = check_mode();
  size_t total = (n + (canaries ? 2 * kCanary : 0) + 255) / 256 * 256;
  void* base = std::aligned_alloc(256, total);
  if (!base) {
    if (!host) {
      std::lock_guard<std::mutex> g(st.mu);
      st.allocated -= n;
      --st.device_blocks;
    }
    return fail(cudaErrorMemoryAllocation, cuemu::detail::format("cannot allocate %zu bytes", n));
  }
  unsigned char* user = static_cast<unsigned char*>(base);
  if (canaries) {
    std::memset(base, kCanaryByte, total);
    user += kCanary;
    std::memset(user, 0xff, n);  // uninitialized device memory reads as NaN / -1
  }
  std::lock_guard<std::mutex> g(st.mu);
  st.allocs[reinterpret_cast<uintptr_t>(user)] = Alloc{n, base, canaries, host};
  if (host) {
    st.host_allocated += n;
    ++st.host_blocks;
  }
  *p = user;
  return cudaSuccess;
}

inline cudaError_t release(void* p) {
  if (!p) return cudaSuccess;
  State& st = state();
  std::unique_lock<std::mutex> g(st.mu);
  auto it = st.allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == st.allocs.end()) {
    g.unlock();
    return fail(cudaErrorInvalidValue, "pointer was not returned by cudaMalloc or is already freed");
  }
  Alloc a = it->second;
  long off = a.canaries ? canary_damage(it->first, a) : 0;
  if (a.host) {
    st.host_allocated -= a.size;
    --st.host_blocks;
  } else {
    st.allocated -= a.size;
    --st.device_blocks;
  }
  st.allocs.erase(it);
  g.unlock();
  std::free(a.base);
  if (off)
    return fail(cudaErrorIllegalAddress,
                cuemu::detail::format("out-of-bounds write: byte %ld of the %zu-byte block at %p was overwritten", off,
                                      a.size, p));
  return cudaSuccess;
}

inline size_t dyn_limit(const void* func) {
  State& st = state();
  std::lock_guard<std::mutex> g(st.mu);
  auto it = st.dyn_limit.find(func);
  return it == st.dyn_limit.end() ? kDefaultDynamicShared : it->second;
}

/// record_launch adds a launch (run now or captured) to the launch record
/// while recording.
inline void record_launch(dim3 grid, dim3 block) {
  State& st = state();
  if (!st.recording.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> g(st.mu);
  if (st.launch_record.size() / 4 >= kLaunchRecordMax) return;
  st.launch_record.insert(st.launch_record.end(), {grid.x, grid.y, grid.z, block.x});
}

/// validate_launch checks a launch configuration without running it.
inline cudaError_t validate_launch(const void* func, dim3 grid, dim3 block, size_t shmem) {
  uint64_t n = uint64_t(block.x) * block.y * block.z;
  if (!func) return fail(cudaErrorInvalidDeviceFunction, "null kernel");
  if (!block.x || !block.y || !block.z || block.x > 1024 || block.y > 1024 || block.z > 64 || n > 1024)
    return fail(cudaErrorInvalidConfiguration,
                cuemu::detail::format("invalid block dimensions (%u,%u,%u)", block.x, block.y, block.z));
  if (!grid.x || !grid.y || !grid.z || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return fail(cudaErrorInvalidConfiguration,
                cuemu::detail::format("invalid grid dimensions (%u,%u,%u)", grid.x, grid.y, grid.z));
  size_t lim = dyn_limit(func);
  if (shmem > lim)
    return fail(cudaErrorInvalidConfiguration,
                cuemu::detail::format("%zu bytes of dynamic shared memory requested, %zu allowed", shmem, lim));
  return cudaSuccess;
}

/// run_launch executes a launch now.
inline cudaError_t run_launch(const void* func, dim3 grid, dim3 block, size_t shmem, void (*entry)(void*), void* arg) {
  cudaError_t err = cuemu::detail::run_grid(grid, block, shmem, dyn_limit(func), entry, arg);
  if (err == cudaSuccess && check_mode()) err = check_all_canaries();
  if (err != cudaSuccess) {
    errors().pending = err;
    return record(err);
  }
  return cudaSuccess;
}

/// run_nodes replays captured nodes in order, stopping at the first error.
inline cudaError_t run_nodes(const std::vector<Node>& nodes) {
  for (const Node& n : nodes)
    if (cudaError_t e = n()) return e;
  return cudaSuccess;
}

inline cudaError_t copy_now(void* dst, const void* src, size_t n) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return fail(cudaErrorInvalidValue, "null pointer in memcpy");
  if (cudaError_t e = check_range(dst, n, "memcpy destination")) return e;
  if (cudaError_t e = check_range(src, n, "memcpy source")) return e;
  std::memmove(dst, src, n);
  return cudaSuccess;
}

inline cudaError_t set_now(void* dst, int v, size_t n) {
  if (n == 0) return cudaSuccess;
  if (!dst) return fail(cudaErrorInvalidValue, "null pointer in memset");
  if (cudaError_t e = check_range(dst, n, "memset")) return e;
  std::memset(dst, v, n);
  return cudaSuccess;
}

/// issue runs op now, or records it when s is capturing.
inline cudaError_t issue(cudaStream_t s, Node op) {
  bool cap;
  if (cudaError_t e = stream_for_work(s, &cap)) return e;
  if (cap) return capture(s, std::move(op));
  return record(op());
}

}  // namespace rt

/// Launcher is the callable returned by launcher(): calling it with the
/// kernel's arguments performs the launch (or records it on a capturing
/// stream) and returns its status.
template <class... P>
class Launcher {
 public:
  Launcher(void (*k)(P...), dim3 g, dim3 b, size_t shmem, cudaStream_t s)
      : kernel_(k), grid_(g), block_(b), shmem_(shmem), stream_(s) {}

  template <class... A>
  cudaError_t operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "wrong number of kernel arguments");
    using Call = detail::KernelCall<P...>;
    const void* func = reinterpret_cast<const void*>(kernel_);
    if (cudaError_t e = rt::inject(rt::kFaultLaunch, "kernel launch")) {
      rt::invalidate_capture(stream_);  // a failed launch invalidates a capture
      rt::errors().pending = e;         // and is reported again by the next synchronizing call
      return e;
    }
    if (cudaError_t e = rt::validate_launch(func, grid_, block_, shmem_)) {
      rt::invalidate_capture(stream_);  // a failed launch invalidates a capture
      return e;
    }
    rt::record_launch(grid_, block_);
    Call call{kernel_, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
    bool cap;
    if (cudaError_t e = rt::stream_for_work(stream_, &cap)) return e;
    if (cap) {
      dim3 g = grid_, b = block_;
      size_t sh = shmem_;
      return rt::capture(stream_, [call, func, g, b, sh]() mutable {
        return rt::run_launch(func, g, b, sh, &Call::entry, &call);
      });
    }
    return rt::run_launch(func, grid_, block_, shmem_, &Call::entry, &call);
  }

 private:
  void (*kernel_)(P...);
  dim3 grid_, block_;
  size_t shmem_;
  cudaStream_t stream_;
};

/// launcher(kernel, grid, block, shmem, stream)(args...) is the emulator's
/// form of kernel<<<grid, block, shmem, stream>>>(args...). It returns the
/// launch status; an execution failure is also recorded for
/// cudaGetLastError and the next synchronizing call.
template <class... P>
Launcher<P...> launcher(void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t stream = nullptr) {
  return Launcher<P...>(kernel, grid, block, shmem, stream);
}

}  // namespace cuemu

/// CUEMU_LAUNCH(kernel, grid, block[, shmem[, stream]])(args...) launches a kernel.
#define CUEMU_LAUNCH(...) ::cuemu::launcher(__VA_ARGS__)

// ---- errors ------------------------------------------------------------------------

/// cudaGetLastError returns and clears the calling thread's last error. A
/// launch failure it returns is not reported again by the next
/// synchronizing call.
inline cudaError_t cudaGetLastError() {
  cudaError_t e = cuemu::rt::errors().last;
  cuemu::rt::errors() = cuemu::rt::ThreadErrors{};
  return e;
}
/// cudaPeekAtLastError returns the last error without clearing it.
inline cudaError_t cudaPeekAtLastError() { return cuemu::rt::errors().last; }

/// cudaGetErrorName returns the enumerator name of err.
inline const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
#define CUEMU_ERR_NAME(x) \
  case x:                 \
    return #x;
    CUEMU_ERR_NAME(cudaSuccess)
    CUEMU_ERR_NAME(cudaErrorInvalidValue)
    CUEMU_ERR_NAME(cudaErrorMemoryAllocation)
    CUEMU_ERR_NAME(cudaErrorInitializationError)
    CUEMU_ERR_NAME(cudaErrorInvalidConfiguration)
    CUEMU_ERR_NAME(cudaErrorInvalidSymbol)
    CUEMU_ERR_NAME(cudaErrorInvalidDevicePointer)
    CUEMU_ERR_NAME(cudaErrorInvalidMemcpyDirection)
    CUEMU_ERR_NAME(cudaErrorInvalidDeviceFunction)
    CUEMU_ERR_NAME(cudaErrorNoDevice)
    CUEMU_ERR_NAME(cudaErrorInvalidDevice)
    CUEMU_ERR_NAME(cudaErrorInvalidResourceHandle)
    CUEMU_ERR_NAME(cudaErrorIllegalState)
    CUEMU_ERR_NAME(cudaErrorNotReady)
    CUEMU_ERR_NAME(cudaErrorIllegalAddress)
    CUEMU_ERR_NAME(cudaErrorLaunchOutOfResources)
    CUEMU_ERR_NAME(cudaErrorAssert)
    CUEMU_ERR_NAME(cudaErrorIllegalInstruction)
    CUEMU_ERR_NAME(cudaErrorMisalignedAddress)
    CUEMU_ERR_NAME(cudaErrorLaunchFailure)
    CUEMU_ERR_NAME(cudaErrorNotSupported)
    CUEMU_ERR_NAME(cudaErrorStreamCaptureUnsupported)
    CUEMU_ERR_NAME(cudaErrorStreamCaptureInvalidated)
    CUEMU_ERR_NAME(cudaErrorStreamCaptureUnmatched)
    CUEMU_ERR_NAME(cudaErrorStreamCaptureImplicit)
    CUEMU_ERR_NAME(cudaErrorUnknown)
#undef CUEMU_ERR_NAME
  }
  return "cudaErrorUnknown";
}

/// cudaGetErrorString returns CUDA's description of err.
inline const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorAssert: return "device-side assert triggered";
    case cudaErrorIllegalInstruction: return "an illegal instruction was encountered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "operation not permitted on an event last recorded in a capturing stream";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

/// cuemuGetLastErrorDetail explains the calling thread's most recent error
/// (for a failed launch: the block, thread, operation and file:line). The
/// text stays valid until the thread's next failing call.
inline const char* cuemuGetLastErrorDetail() { return cuemu::detail::last_detail().c_str(); }

/// cuemuSetCheck turns check mode (canaries around cudaMalloc'd blocks) on or
/// off for blocks allocated afterwards; it overrides CUEMU_CHECK.
inline cudaError_t cuemuSetCheck(int on) {
  cuemu::rt::state().check.store(on != 0);
  return cudaSuccess;
}

// ---- device ------------------------------------------------------------------------

/// cudaGetDeviceCount reports one device.
inline cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return cuemu::rt::record(cudaErrorInvalidValue);
  *n = 1;
  return cudaSuccess;
}
/// cudaSetDevice accepts device 0 only.
inline cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : cuemu::rt::record(cudaErrorInvalidDevice); }
/// cudaGetDevice reports device 0.
inline cudaError_t cudaGetDevice(int* dev) {
  if (!dev) return cuemu::rt::record(cudaErrorInvalidValue);
  *dev = 0;
  return cudaSuccess;
}
/// cudaDeviceSynchronize returns the error of an earlier failed launch, if any.
inline cudaError_t cudaDeviceSynchronize() {
  if (cudaError_t e = cuemu::rt::sync_point(nullptr, true)) return e;
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultSync, "cudaDeviceSynchronize")) return e;
  return cuemu::rt::record(cuemu::rt::take_pending());
}
/// cudaDeviceReset clears the calling thread's error state (allocations stay).
inline cudaError_t cudaDeviceReset() {
  cuemu::rt::errors() = cuemu::rt::ThreadErrors{};
  return cudaSuccess;
}

/// cudaGetDeviceProperties describes the emulated device: name "cuemu",
/// compute capability 8.0, 32 SMs, 48 KiB shared memory per block (100 KiB
/// opt-in), warp size 32, 1024 threads per block.
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int dev) {
  if (!p) return cuemu::rt::record(cudaErrorInvalidValue);
  if (dev != 0) return cuemu::rt::record(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "cuemu");
  p->totalGlobalMem = cuemu::rt::device_memory();
  p->sharedMemPerBlock = cuemu::rt::kDefaultDynamicShared;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->memPitch = size_t(1) << 31;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->clockRate = 1410000;
  p->totalConstMem = 65536;
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = 32;
  p->canMapHostMemory = 1;
  p->concurrentKernels = 1;
  p->memoryClockRate = 1215000;
  p->memoryBusWidth = 5120;
  p->l2CacheSize = 40 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = 164 * 1024;
  p->regsPerMultiprocessor = 65536;
  p->managedMemory = 1;
  p->sharedMemPerBlockOptin = cuemu::rt::kOptinShared;
  p->maxBlocksPerMultiProcessor = 32;
  return cudaSuccess;
}

/// cudaDeviceGetAttribute answers the attributes of cudaDeviceAttr from
/// cudaGetDeviceProperties.
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int dev) {
  cudaDeviceProp p;
  if (!v) return cuemu::rt::record(cudaErrorInvalidValue);
  if (cudaError_t e = cudaGetDeviceProperties(&p, dev)) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *v = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *v = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxGridDimX: *v = p.maxGridSize[0]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = int(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *v = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *v = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *v = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *v = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *v = int(p.sharedMemPerMultiprocessor); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = int(p.sharedMemPerBlockOptin); break;
    default: return cuemu::rt::record(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

/// cudaFuncSetAttribute sets a kernel attribute (see cudaFuncAttribute).
inline cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return cuemu::rt::record(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || size_t(value) > cuemu::rt::kOptinShared)
    return cuemu::rt::fail(cudaErrorInvalidValue, "unsupported attribute or value");
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  cuemu::rt::state().dyn_limit[func] = size_t(value);
  return cudaSuccess;
}
/// cudaFuncSetAttribute for a kernel function pointer.
template <class... P>
inline cudaError_t cudaFuncSetAttribute(void (*func)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}

/// cudaLaunchKernel launches func with arguments given as an array of
/// pointers to each argument, like CUDA's cudaLaunchKernel.
template <class... P>
inline cudaError_t cudaLaunchKernel(void (*func)(P...), dim3 grid, dim3 block, void** args, size_t shmem = 0,
                                    cudaStream_t stream = nullptr) {
  if (!args && sizeof...(P) > 0) return cuemu::rt::record(cudaErrorInvalidValue);
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return cuemu::launcher(func, grid, block, shmem, stream)(*static_cast<std::decay_t<P>*>(args[I])...);
  }(std::index_sequence_for<P...>{});
}

// ---- memory ------------------------------------------------------------------------

/// cudaMalloc allocates n bytes (256-byte aligned; with check mode, between
/// canaries and filled with 0xFF). n == 0 gives a null pointer.
inline cudaError_t cudaMalloc(void** p, size_t n) { return cuemu::rt::alloc(p, n); }
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t n) {
  return cuemu::rt::alloc(reinterpret_cast<void**>(p), n);
}
/// cudaMallocManaged is cudaMalloc (all memory is host memory).
template <class T>
inline cudaError_t cudaMallocManaged(T** p, size_t n, unsigned = cudaMemAttachGlobal) {
  return cuemu::rt::alloc(reinterpret_cast<void**>(p), n);
}
/// cudaFree frees a block from cudaMalloc (null is allowed; an unknown
/// pointer fails with cudaErrorInvalidValue).
inline cudaError_t cudaFree(void* p) { return cuemu::rt::release(p); }
/// cudaMallocHost, cudaHostAlloc and cudaFreeHost manage "pinned" host
/// memory, which is ordinary memory here.
inline cudaError_t cudaMallocHost(void** p, size_t n) { return cuemu::rt::alloc(p, n, true); }
template <class T>
inline cudaError_t cudaMallocHost(T** p, size_t n) {
  return cuemu::rt::alloc(reinterpret_cast<void**>(p), n, true);
}
inline cudaError_t cudaHostAlloc(void** p, size_t n, unsigned) { return cuemu::rt::alloc(p, n, true); }
inline cudaError_t cudaFreeHost(void* p) { return cuemu::rt::release(p); }
/// cudaHostGetDevicePointer returns the device address of mapped pinned
/// memory: the same address here (device memory is host memory).
inline cudaError_t cudaHostGetDevicePointer(void** dev, void* host, unsigned flags) {
  if (!dev || !host || flags != 0) return cuemu::rt::record(cudaErrorInvalidValue);
  *dev = host;
  return cudaSuccess;
}
/// cudaMemGetInfo reports a 16 GiB device (or the memory cap) minus the live
/// device allocations.
inline cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  if (!free_bytes || !total) return cuemu::rt::record(cudaErrorInvalidValue);
  const size_t mem = cuemu::rt::device_memory();
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  *total = mem;
  *free_bytes = *total - std::min(*total, cuemu::rt::state().allocated);
  return cudaSuccess;
}

/// cudaMemcpyAsync copies n bytes (captured on a capturing stream: the copy
/// then happens at each graph launch).
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind,
                                   cudaStream_t s = nullptr) {
  if (unsigned(kind) > cudaMemcpyDefault) return cuemu::rt::record(cudaErrorInvalidMemcpyDirection);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultCopy, "cudaMemcpyAsync")) return e;
  return cuemu::rt::issue(s, [dst, src, n] { return cuemu::rt::copy_now(dst, src, n); });
}
/// cudaMemcpy copies n bytes; it synchronizes, so it first reports the error
/// of an earlier failed launch.
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (unsigned(kind) > cudaMemcpyDefault) return cuemu::rt::record(cudaErrorInvalidMemcpyDirection);
  if (cudaError_t e = cuemu::rt::sync_point(nullptr, true)) return e;
  if (cudaError_t e = cuemu::rt::take_pending()) return cuemu::rt::record(e);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultCopy, "cudaMemcpy")) return e;
  return cuemu::rt::record(cuemu::rt::copy_now(dst, src, n));
}
/// cudaMemcpy2DAsync / cudaMemcpy2D copy height rows of width bytes.
inline cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                     size_t height, cudaMemcpyKind kind, cudaStream_t s = nullptr) {
  if (unsigned(kind) > cudaMemcpyDefault) return cuemu::rt::record(cudaErrorInvalidMemcpyDirection);
  if (width > dpitch || width > spitch) return cuemu::rt::record(cudaErrorInvalidValue);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultCopy, "cudaMemcpy2D")) return e;
  return cuemu::rt::issue(s, [=] {
    for (size_t r = 0; r < height; ++r)
      if (cudaError_t e = cuemu::rt::copy_now(static_cast<char*>(dst) + r * dpitch,
                                              static_cast<const char*>(src) + r * spitch, width))
        return e;
    return cudaSuccess;
  });
}
inline cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                                cudaMemcpyKind kind) {
  if (cudaError_t e = cuemu::rt::sync_point(nullptr, true)) return e;
  if (cudaError_t e = cuemu::rt::take_pending()) return cuemu::rt::record(e);
  return cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, nullptr);
}
/// cudaMemsetAsync / cudaMemset fill n bytes with the byte value v.
inline cudaError_t cudaMemsetAsync(void* dst, int v, size_t n, cudaStream_t s = nullptr) {
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultCopy, "cudaMemset")) return e;
  return cuemu::rt::issue(s, [dst, v, n] { return cuemu::rt::set_now(dst, v, n); });
}
inline cudaError_t cudaMemset(void* dst, int v, size_t n) { return cudaMemsetAsync(dst, v, n, nullptr); }
/// cudaMemcpyToSymbol / cudaMemcpyFromSymbol copy to and from a
/// __constant__ or __device__ variable.
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t n, size_t offset = 0,
                                      cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  if (offset + n > sizeof(T)) return cuemu::rt::record(cudaErrorInvalidValue);
  return cudaMemcpy(reinterpret_cast<char*>(&symbol) + offset, src, n, kind);
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t n, size_t offset = 0,
                                        cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  if (offset + n > sizeof(T)) return cuemu::rt::record(cudaErrorInvalidValue);
  return cudaMemcpy(dst, reinterpret_cast<const char*>(&symbol) + offset, n, kind);
}
/// cudaGetSymbolAddress returns the address of a __device__ variable.
template <class T>
inline cudaError_t cudaGetSymbolAddress(void** p, T& symbol) {
  if (!p) return cuemu::rt::record(cudaErrorInvalidValue);
  *p = &symbol;
  return cudaSuccess;
}

// ---- streams -----------------------------------------------------------------------

/// cudaStreamCreate, cudaStreamCreateWithFlags, cudaStreamCreateWithPriority
/// create a stream (work on it runs synchronously).
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  if (!s) return cuemu::rt::record(cudaErrorInvalidValue);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultOther, "cudaStreamCreate")) return e;
  auto* st = new CUstream_st;
  st->flags = flags;
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  cuemu::rt::state().streams.insert(st);
  *s = st;
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
inline cudaError_t cudaStreamCreateWithPriority(cudaStream_t* s, unsigned flags, int) {
  return cudaStreamCreateWithFlags(s, flags);
}
/// cudaStreamDestroy destroys a stream (ending any capture on it).
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  auto& st = cuemu::rt::state();
  std::unique_lock<std::mutex> g(st.mu);
  if (!st.streams.erase(s)) {
    g.unlock();
    return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  }
  if (s->capturing) --st.capturing;
  g.unlock();
  delete s;
  return cudaSuccess;
}
/// cudaStreamSynchronize returns the error of an earlier failed launch; it
/// fails (and invalidates the capture) on a capturing stream.
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  bool cap;
  if (cudaError_t e = cuemu::rt::stream_for_work(s, &cap)) return e;
  if (cudaError_t e = cuemu::rt::sync_point(s, false)) return e;
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultSync, "cudaStreamSynchronize")) return e;
  return cuemu::rt::record(cuemu::rt::take_pending());
}
/// cudaStreamQuery reports completion (work is synchronous).
inline cudaError_t cudaStreamQuery(cudaStream_t s) {
  bool cap;
  return cuemu::rt::stream_for_work(s, &cap);
}
/// cudaStreamWaitEvent has nothing to wait for; it validates its handles.
inline cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned = 0) {
  bool cap;
  if (cudaError_t err = cuemu::rt::stream_for_work(s, &cap)) return err;
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  return cuemu::rt::state().events.count(e) ? cudaSuccess : cuemu::rt::record(cudaErrorInvalidResourceHandle);
}
/// cudaStreamBeginCapture starts recording the work issued to s (a created
/// stream; the default streams cannot be captured).
inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  (void)mode;
  auto& st = cuemu::rt::state();
  if (cuemu::rt::is_default_stream(s)) return cuemu::rt::record(cudaErrorStreamCaptureUnsupported);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultGraph, "cudaStreamBeginCapture")) return e;
  std::lock_guard<std::mutex> g(st.mu);
  if (!st.streams.count(s)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  if (s->capturing) return cuemu::rt::record(cudaErrorIllegalState);
  s->capturing = true;
  s->invalidated = false;
  s->nodes.clear();
  ++st.capturing;
  return cudaSuccess;
}
/// cudaStreamEndCapture ends the capture and returns the recorded graph (or
/// cudaErrorStreamCaptureInvalidated and a null graph).
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  auto& st = cuemu::rt::state();
  if (!graph) return cuemu::rt::record(cudaErrorInvalidValue);
  *graph = nullptr;
  std::unique_lock<std::mutex> g(st.mu);
  if (!st.streams.count(s)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  if (!s->capturing) return cuemu::rt::record(cudaErrorIllegalState);
  s->capturing = false;
  --st.capturing;
  std::vector<cuemu::rt::Node> nodes;
  nodes.swap(s->nodes);
  if (s->invalidated) {
    s->invalidated = false;
    return cuemu::rt::record(cudaErrorStreamCaptureInvalidated);
  }
  auto* gr = new CUgraph_st;
  gr->nodes = std::move(nodes);
  st.graphs.insert(gr);
  *graph = gr;
  return cudaSuccess;
}
/// cudaStreamIsCapturing reports the capture status of s.
inline cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  if (!status) return cuemu::rt::record(cudaErrorInvalidValue);
  *status = cudaStreamCaptureStatusNone;
  if (cuemu::rt::is_default_stream(s)) return cudaSuccess;
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().streams.count(s)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  if (s->capturing)
    *status = s->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

// ---- events ------------------------------------------------------------------------

/// cudaEventCreate / cudaEventCreateWithFlags create an event.
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  if (!e) return cuemu::rt::record(cudaErrorInvalidValue);
  if (cudaError_t err = cuemu::rt::inject(cuemu::rt::kFaultOther, "cudaEventCreate")) return err;
  auto* ev = new CUevent_st;
  ev->flags = flags;
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  cuemu::rt::state().events.insert(ev);
  *e = ev;
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
/// cudaEventDestroy destroys an event.
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  std::unique_lock<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().events.erase(e)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  g.unlock();
  delete e;
  return cudaSuccess;
}
/// cudaEventRecord stores the host clock in e (at graph launch time when
/// recorded during a capture).
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  {
    std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
    if (!cuemu::rt::state().events.count(e)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  }
  if (cudaError_t err = cuemu::rt::inject(cuemu::rt::kFaultOther, "cudaEventRecord")) return err;
  return cuemu::rt::issue(s, [e] {
    e->t = std::chrono::steady_clock::now();
    e->recorded = true;
    return cudaSuccess;
  });
}
/// cudaEventSynchronize returns the error of an earlier failed launch.
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  {
    std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
    if (!cuemu::rt::state().events.count(e)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  }
  if (cudaError_t err = cuemu::rt::inject(cuemu::rt::kFaultSync, "cudaEventSynchronize")) return err;
  return cuemu::rt::record(cuemu::rt::take_pending());
}
/// cudaEventQuery reports completion.
inline cudaError_t cudaEventQuery(cudaEvent_t e) {
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  return cuemu::rt::state().events.count(e) ? cudaSuccess : cuemu::rt::record(cudaErrorInvalidResourceHandle);
}
/// cudaEventElapsedTime returns the host time between two recorded events
/// in milliseconds.
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return cuemu::rt::record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  auto& ev = cuemu::rt::state().events;
  if (!ev.count(start) || !ev.count(end) || ((start->flags | end->flags) & cudaEventDisableTiming))
    return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return cuemu::rt::record(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(end->t - start->t).count();
  return cudaSuccess;
}

// ---- graphs ------------------------------------------------------------------------

/// cudaGraphInstantiate makes an executable copy of a captured graph.
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0) {
  (void)flags;
  if (!exec) return cuemu::rt::record(cudaErrorInvalidValue);
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultGraph, "cudaGraphInstantiate")) return e;
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().graphs.count(graph)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  auto* x = new CUgraphExec_st;
  x->nodes = graph->nodes;
  cuemu::rt::state().execs.insert(x);
  *exec = x;
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph,
                                                 unsigned long long flags = 0) {
  return cudaGraphInstantiate(exec, graph, flags);
}
/// cudaGraphLaunch replays the recorded operations in order on the calling
/// thread, stopping at the first failure (recorded into a capture when s is
/// capturing).
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  {
    std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
    if (!cuemu::rt::state().execs.count(exec)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  }
  if (cudaError_t e = cuemu::rt::inject(cuemu::rt::kFaultGraph, "cudaGraphLaunch")) return e;
  std::vector<cuemu::rt::Node> nodes = exec->nodes;
  return cuemu::rt::issue(s, [nodes] { return cuemu::rt::run_nodes(nodes); });
}
/// cudaGraphGetNodes stores the number of nodes; nodes, if not null, receives
/// opaque node handles.
inline cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  if (!count) return cuemu::rt::record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().graphs.count(graph)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  if (nodes)
    for (size_t i = 0; i < std::min(*count, graph->nodes.size()); ++i)
      nodes[i] = reinterpret_cast<cudaGraphNode_t>(&graph->nodes[i]);
  *count = graph->nodes.size();
  return cudaSuccess;
}
/// cudaGraphExecDestroy / cudaGraphDestroy free an executable graph / a graph.
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  std::unique_lock<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().execs.erase(exec)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  g.unlock();
  delete exec;
  return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  std::unique_lock<std::mutex> g(cuemu::rt::state().mu);
  if (!cuemu::rt::state().graphs.erase(graph)) return cuemu::rt::record(cudaErrorInvalidResourceHandle);
  g.unlock();
  delete graph;
  return cudaSuccess;
}

// ---- fault injection and the memory cap (C functions) ---------------------------------
//
// These are exported with C linkage and default visibility from every shared
// library built against the emulator (they act on the process-wide runtime
// state, so any copy will do): a test reaches them with dlsym on
// librwkvcu_emu.so, without any function of the library's own ABI.

/// CUEMU_EXPORT marks the C functions below: emitted in every translation
/// unit that includes this header and visible under -fvisibility=hidden.
#define CUEMU_EXPORT extern "C" __attribute__((visibility("default"), used)) inline

/// cuemuFaultArm makes the nth call (n >= 1) of kind (a cuemu::rt::FaultKind:
/// 0 allocation, 1 copy or memset, 2 kernel launch, 3 graph (begin capture,
/// instantiate, launch), 4 synchronization, 5 stream/event creation and
/// event record; -1 any kind) counted from now fail, once, with error err
/// (0: the kind's default: cudaErrorMemoryAllocation for allocations,
/// cudaErrorLaunchFailure for launches and synchronizations,
/// cudaErrorUnknown otherwise). The failing call does nothing else; its
/// detail (cuemuGetLastErrorDetail) starts with "injected fault". Arming
/// replaces an earlier armed fault. It returns 0, or -1 for a bad argument.
CUEMU_EXPORT int cuemuFaultArm(int kind, unsigned long long n, int err) {
  auto& s = cuemu::rt::state();
  if (kind < -1 || kind >= cuemu::rt::kFaultKinds || n == 0 || err < 0) return -1;
  s.fault_kind.store(-2);
  s.fault_at.store(s.fault_calls[kind < 0 ? cuemu::rt::kFaultKinds : kind].load() + n);
  s.fault_err.store(err);
  s.fault_kind.store(kind);
  return 0;
}

/// cuemuFaultDisarm cancels an armed fault that has not fired.
CUEMU_EXPORT void cuemuFaultDisarm(void) { cuemu::rt::state().fault_kind.store(-2); }

/// cuemuFaultCalls returns the number of calls of kind (-1: of any kind)
/// the runtime has made since the process started.
CUEMU_EXPORT unsigned long long cuemuFaultCalls(int kind) {
  if (kind < -1 || kind >= cuemu::rt::kFaultKinds) return 0;
  return cuemu::rt::state().fault_calls[kind < 0 ? cuemu::rt::kFaultKinds : kind].load();
}

/// cuemuFaultsInjected returns the number of faults injected so far.
CUEMU_EXPORT unsigned long long cuemuFaultsInjected(void) { return cuemu::rt::state().faults_injected.load(); }

/// cuemuSetMemoryLimit caps the live device memory at bytes (0: no cap);
/// it overrides CUEMU_MEM_LIMIT. Blocks already allocated stay.
CUEMU_EXPORT void cuemuSetMemoryLimit(unsigned long long bytes) {
  cuemu::rt::state().mem_limit.store((long long)bytes);
}

/// cuemuLaunchRecord empties the launch record and starts (on != 0) or
/// stops recording the kernel launches issued from then on, run or captured
/// (the first 65536).
CUEMU_EXPORT void cuemuLaunchRecord(int on) {
  auto& s = cuemu::rt::state();
  std::lock_guard<std::mutex> g(s.mu);
  s.launch_record.clear();
  s.recording.store(on != 0);
}

/// cuemuLaunchRecorded stores the first n launches of the launch record in
/// out, four values each: gridDim.x, gridDim.y, gridDim.z, blockDim.x. It
/// returns the number of launches recorded.
CUEMU_EXPORT int cuemuLaunchRecorded(unsigned* out, int n) {
  auto& s = cuemu::rt::state();
  std::lock_guard<std::mutex> g(s.mu);
  const int count = int(s.launch_record.size() / 4);
  for (int i = 0; out && i < n && i < count; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = s.launch_record[size_t(4 * i + j)];
  return count;
}

/// cuemuLiveResources stores up to n counts of the runtime's live objects
/// in out, in this order: device blocks, device bytes, pinned host blocks,
/// pinned host bytes, streams, events, graphs, executable graphs. It
/// returns the number of counts available (8).
CUEMU_EXPORT int cuemuLiveResources(unsigned long long* out, int n) {
  auto& s = cuemu::rt::state();
  std::lock_guard<std::mutex> g(s.mu);
  const unsigned long long v[] = {s.device_blocks, s.allocated, s.host_blocks, s.host_allocated,
                                  s.streams.size(), s.events.size(), s.graphs.size(), s.execs.size()};
  const int count = int(sizeof v / sizeof v[0]);
  for (int i = 0; out && i < n && i < count; ++i) out[i] = v[i];
  return count;
}
