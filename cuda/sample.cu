// Fused sampler: placeholder until the device implementation lands; both
// launchers report cudaErrorNotSupported (RWKVCU_ERR_NOT_SUPPORTED).
#include "sample.cuh"

cudaError_t rwkvcu_launch_sample(cudaStream_t, const float*, int32_t, int32_t, const rwkvcu_sample_row*, float*,
                                 const float*, uint64_t, int32_t*, float*) {
  return cudaErrorNotSupported;
}

cudaError_t rwkvcu_launch_sample_observe(cudaStream_t, float*, int32_t, int32_t, const int32_t*, int32_t, float) {
  return cudaErrorNotSupported;
}
