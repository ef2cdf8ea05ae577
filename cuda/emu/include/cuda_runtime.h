// CPU stand-in for CUDA's <cuda_runtime.h>: the kernel language emulation
// (cuemu/cuemu.h) and the runtime API subset (cuemu/runtime.h).
// Put cuda/emu/include before any CUDA toolkit on the include path.
#pragma once

#include "cuemu/runtime.h"
