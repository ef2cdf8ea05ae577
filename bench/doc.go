// Package bench measures rwkvgo: kernel microbenchmarks of every Backend
// operation at real model shapes, end-to-end prefill and decode throughput
// against batch size and prompt length, and the scaling study that puts
// RWKV's constant per-token cost next to a matched-size transformer baseline
// whose KV cache and attention grow with the context.
//
// Results are collected in a Report (one versioned JSON schema for every kind
// of run), rendered as Markdown and drawn as PNG plots. Resource use is
// sampled by package bench/telemetry (NVML on a GPU; process memory always),
// every sample tagged with the phase that was running.
//
// Backends are opened by name (OpenBackend). The pure-Go "ref" backend is
// always present; other backends (CUDA) register themselves with
// RegisterBackend from the packages that implement them, and may implement the
// optional interfaces Syncer, EventTimer, DeviceReporter and VendorMatMuler so
// that their timings are taken with device events, their peaks read from the
// device and their matrix products compared with the vendor library.
//
// The package never prints: progress goes to the io.Writer of a Progress.
package bench
