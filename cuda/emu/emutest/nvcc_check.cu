// Builds the test kernels for the GPU, to check that kernels.cu and the PTX
// side of cuda/ptx_wrappers.cuh compile with nvcc (the Go tests compile the
// same kernels with the emulator). From the repository root:
//
//   nvcc -arch=sm_80 -I. -Icuda/emu/emutest -Xptxas -v -c cuda/emu/emutest/nvcc_check.cu
//
// The launches instantiate the template kernels and the host-side forms of
// RWKV_LAUNCH and DYNAMIC_SHARED; nothing here runs in the Go tests.
#include "kernels.cu"

void nvcc_check_launch_all(cudaStream_t s, const uint16_t* a16, const float* f, float* out, unsigned* u, int* i) {
  RWKV_LAUNCH(k_matmul<true>, dim3(2, 2), dim3(TILE, TILE), 0, s)(f, f, out, 32, 32, 32);
  RWKV_LAUNCH(k_matmul<false>, dim3(2, 2), dim3(TILE, TILE), 0, s)(f, f, out, 32, 32, 32);
  RWKV_LAUNCH(k_neighbour<true>, dim3(1), dim3(256), 1024, s)(f, out);
  RWKV_LAUNCH(k_neighbour<false>, dim3(1), dim3(256), 1024, s)(f, out);
  RWKV_LAUNCH(k_mma_tile<false>, dim3(1), dim3(32), 0, s)(a16, a16, f, out);
  RWKV_LAUNCH(k_mma_tile<true>, dim3(1), dim3(32), 0, s)(a16, a16, f, out);
  RWKV_LAUNCH(k_mma_gemm<false>, dim3(2, 2), dim3(128), 0, s)(a16, a16, out, 64, 32, 64);
  RWKV_LAUNCH(k_mma_gemm<true>, dim3(2, 2), dim3(128), 0, s)(a16, a16, out, 64, 32, 64);
  RWKV_LAUNCH(k_ldmatrix, dim3(1), dim3(32), 0, s)(u);
  RWKV_LAUNCH(k_cp_async, dim3(1), dim3(1), 64, s)(u, u);
  RWKV_LAUNCH(k_dynamic_shared, dim3(1), dim3(128), 512, s)(u);
  RWKV_LAUNCH(k_static_shared, dim3(1), dim3(64), 0, s)(i, 3);
  RWKV_LAUNCH(k_half_ops, dim3(1), dim3(128), 0, s)((const __half*)a16, (const __half*)a16, (const __half*)a16,
                                                   (__half*)out, 10);
  RWKV_LAUNCH(k_bf16_ops, dim3(1), dim3(128), 0, s)((const __nv_bfloat16*)a16, (const __nv_bfloat16*)a16,
                                                   (const __nv_bfloat16*)a16, (__nv_bfloat16*)out, 10);
  RWKV_LAUNCH(k_math, dim3(1), dim3(64), 0, s)(f, out, u, 10);
}
