// csrc/device_check.cu: does this librwkvcu hold code the present device can
// run? (see device_check.h). rwkvcu_context_create calls check_device_code,
// so that a library built without the device's architecture fails there
// with a clear status and message instead of at the first kernel launch.
#include "device_check.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "include/rwkvcu.h"

namespace rwkvcu_devcheck {
namespace {

// One entry of a CMake CUDA architecture list.
struct Arch {
  int num;       // 80, 90, 100, ...
  char variant;  // 0, 'a' (arch-specific) or 'f' (family)
  bool sass;     // real code for sm_<num><variant>
  bool ptx;      // PTX for compute_<num><variant>
};

// parse_arch parses "80", "90a", "100f-real", "80-virtual", ...
bool parse_arch(const std::string& s, Arch* a) {
  size_t i = 0;
  int num = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && num < 10000) num = num * 10 + (s[i++] - '0');
  if (i == 0 || num < 10) return false;
  a->num = num;
  a->variant = 0;
  if (i < s.size() && (s[i] == 'a' || s[i] == 'f')) a->variant = s[i++];
  const std::string rest = s.substr(i);
  a->sass = rest.empty() || rest == "-real";
  a->ptx = rest.empty() || rest == "-virtual";
  return a->sass || a->ptx;
}

// split returns the entries of a comma- or semicolon-separated list.
std::vector<std::string> split(const char* list) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = list; ; ++p) {
    if (*p == ',' || *p == ';' || *p == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == 0) break;
    } else if (*p != ' ') {
      cur += *p;
    }
  }
  return out;
}

// runs_on: whether the code of entry a runs on compute capability cc.
bool runs_on(const Arch& a, int cc) {
  const int amaj = a.num / 10, amin = a.num % 10, maj = cc / 10, min = cc % 10;
  const bool same_family = maj == amaj && min >= amin;
  if (a.variant == 'a') return cc == a.num;  // SASS and PTX alike
  if (a.variant == 'f') return same_family;
  return (a.sass && same_family) || (a.ptx && cc >= a.num);
}

std::string arch_name(int cc) { return "sm_" + std::to_string(cc); }

}  // namespace

int archs_run_on(const char* archs, int cc) {
  const std::vector<std::string> entries = split(archs ? archs : "");
  if (entries.empty()) return -1;
  bool any = false;
  for (const std::string& e : entries) {
    Arch a;
    if (!parse_arch(e, &a)) return -1;
    any = any || runs_on(a, cc);
  }
  return any ? 1 : 0;
}

bool arch_specific_built(const char* archs, int cc) {
  for (const std::string& e : split(archs ? archs : "")) {
    Arch a;
    if (parse_arch(e, &a) && a.variant == 'a' && a.sass && a.num == cc) return true;
  }
  return false;
}

std::string no_code_message(const char* archs, int cc, const char* name, const char* detail) {
  std::string sass, ptx, cmake;
  for (const std::string& e : split(archs ? archs : "")) {
    Arch a;
    if (!cmake.empty()) cmake += ';';
    cmake += e;
    if (!parse_arch(e, &a)) {
      sass += (sass.empty() ? "" : ", ") + e;
      continue;
    }
    const std::string v = a.variant ? std::string(1, a.variant) : "";
    if (a.sass) sass += (sass.empty() ? "sm_" : ", sm_") + std::to_string(a.num) + v;
    if (a.ptx) ptx += (ptx.empty() ? "compute_" : ", compute_") + std::to_string(a.num) + v;
  }
  std::string m = "librwkvcu was built for ";
  m += sass.empty() ? "no real architecture" : sass;
  if (!ptx.empty()) m += " (PTX for " + ptx + ")";
  m += "; this device";
  if (name && *name) m += std::string(" (") + name + ")";
  m += " is " + arch_name(cc) + ": rebuild with its architecture, e.g. make lib-cuda CUDA_ARCHS=\"" +
       (cmake.empty() ? "" : cmake + ";") + std::to_string(cc) + "\"";
  if (detail && *detail) m += std::string(" (") + detail + ")";
  return m;
}

#if defined(CUEMU)

// The emulator runs every kernel of the library.
DeviceCheck check_device_code(int) { return {RWKVCU_OK, {}}; }

#else

namespace {
// The probe: compiled for the same architectures as every kernel of the
// library, so loading it fails exactly where they would.
__global__ void rwkvcu_probe_kernel(int* p) {
  if (p) *p = 0;
}
}  // namespace

DeviceCheck check_device_code(int device) {
  cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return {e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || e == cudaErrorInvalidDevice
                ? RWKVCU_ERR_NO_DEVICE
                : RWKVCU_ERR_CUDA,
            std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e)};
  }
  const int cc = prop.major * 10 + prop.minor;

  int prev = -1;
  if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
  cudaFuncAttributes attr;
  e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaFuncGetAttributes(&attr, rwkvcu_probe_kernel);
  cudaGetLastError();  // none of these errors is sticky
  if (prev >= 0 && prev != device) cudaSetDevice(prev);
  cudaGetLastError();

  if (e == cudaSuccess) return {RWKVCU_OK, {}};
  if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction ||
      archs_run_on(RWKVCU_CUDA_ARCHS, cc) == 0) {
    return {RWKVCU_ERR_NOT_SUPPORTED, no_code_message(RWKVCU_CUDA_ARCHS, cc, prop.name, cudaGetErrorString(e))};
  }
  if (e == cudaErrorUnsupportedPtxVersion) {
    // Only PTX applies to this device, and the driver is older than the
    // compiler that wrote it.
    return {RWKVCU_ERR_NOT_SUPPORTED,
            "librwkvcu has only PTX for this device (" + std::string(prop.name) + ", " + arch_name(cc) +
                ") and the driver cannot compile it (" + cudaGetErrorString(e) +
                "): update the driver or rebuild with CUDA_ARCHS including " + std::to_string(cc)};
  }
  return {e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ? RWKVCU_ERR_NO_DEVICE : RWKVCU_ERR_CUDA,
          std::string("loading librwkvcu's kernels on ") + prop.name + " (" + arch_name(cc) +
              "): " + cudaGetErrorString(e)};
}

#endif

}  // namespace rwkvcu_devcheck
