// sampler.h: the fused device sampler's handle (csrc/sampler.cu), shared
// with the decode loop (csrc/decoder.cu), which samples with it.
#pragma once

#include <vector>

#include "../cuda/sample.cuh"
#include "internal.h"

struct rwkvcu_sampler {
  rwkvcu_context* ctx;
  int32_t rows, vocab;
  std::vector<rwkvcu_sample_row> host_rows;
  bool dirty = true;  // host_rows changed since they were last sent to d_rows
  bool has_bias = false;
  std::vector<char> row_biased;  // a row's bias has a nonzero entry
  rwkvcu_sample_row* d_rows = nullptr;
  float* d_counts = nullptr;
  float* d_bias = nullptr;
  int32_t* d_tokens = nullptr;
  float* d_probs = nullptr;
};

namespace rwkvcu {

/// sampler_flush_async queues the rows' settings to the device when they
/// changed (through the staging ring; no synchronization). Not while
/// capturing.
void sampler_flush_async(rwkvcu_sampler* s);

}  // namespace rwkvcu
