// csrc/device_check.h: librwkvcu's check that it holds code for a device
// (internal; not part of the C ABI). Implemented in csrc/device_check.cu.
//
// The real library is compiled for the CMake CUDA architectures passed in
// as RWKVCU_CUDA_ARCHS ("80,90a,100a": CMake's notation, comma-separated;
// "80" is SASS for sm_80 plus PTX for compute_80, "80-real" SASS only,
// "80-virtual" PTX only). Code for sm_XY runs on compute capability X.z
// with z >= Y, code for sm_XYa (arch-specific, e.g. sm_90a) only on X.Y
// exactly, and PTX for compute_XY on any capability >= X.Y (compiled by the
// driver).
//
// Arch-specific paths: a kernel that uses sm_90a-only instructions (wgmma,
// setmaxnreg, ...) must have that code under __CUDA_ARCH_FEAT_SM90_ALL (and
// a portable body otherwise), and the host must choose that path only where
// arch_specific_built(RWKVCU_CUDA_ARCHS, cc) holds for the device's
// capability cc (90 for sm_90a: 9.0 only; false in the emulated build). The
// library has no such kernel today.
#pragma once

#include <string>

// The architectures the library was compiled for (empty in the emulated
// build).
#ifndef RWKVCU_CUDA_ARCHS
#define RWKVCU_CUDA_ARCHS ""
#endif

namespace rwkvcu_devcheck {

struct DeviceCheck {
  int status;       // RWKVCU_OK or an RWKVCU_ERR_ code
  std::string msg;  // what is wrong and what to do, when status != RWKVCU_OK
};

// check_device_code reports whether this library can run kernels on CUDA
// device `device` (which must exist): RWKVCU_ERR_NOT_SUPPORTED when it
// holds no code for the device's compute capability, RWKVCU_ERR_NO_DEVICE
// or RWKVCU_ERR_CUDA when the CUDA runtime cannot load its code there (an
// old driver, say). It loads a probe kernel (cudaFuncGetAttributes) and
// leaves the calling thread's current device and CUDA error state as they
// were. In the emulated build it always succeeds.
DeviceCheck check_device_code(int device);

// archs_run_on reports whether the architecture list `archs` (the form of
// RWKVCU_CUDA_ARCHS) has code that runs on compute capability cc (major*10
// + minor, e.g. 86; 100 for 10.0): 1 yes, 0 no, -1 unknown (an empty list,
// "all", "native" or an entry it cannot parse).
int archs_run_on(const char* archs, int cc);

// arch_specific_built reports whether `archs` holds arch-specific SASS
// (sm_XYa) for compute capability cc exactly.
bool arch_specific_built(const char* archs, int cc);

// no_code_message is the error text for a device of capability cc (named
// `name`) that `archs` has no code for; detail (may be empty) is appended.
std::string no_code_message(const char* archs, int cc, const char* name, const char* detail);

}  // namespace rwkvcu_devcheck
