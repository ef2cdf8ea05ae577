// Package bench measures rwkvgo: kernel microbenchmarks of every Backend
// operation at real model shapes, end-to-end prefill and decode throughput
// against batch size and prompt length, and the scaling study that puts
// RWKV's constant per-token cost next to a matched-size transformer baseline
// whose KV cache and attention grow with the context. The step ledger
// (RunLedger) reads a device backend's runtime counters (StatsReporter)
// around steady-state decode steps and projects their speed on named GPUs
// with a stated roofline model.
//
// Results are collected in a Report (one versioned JSON schema for every kind
// of run), rendered as Markdown and drawn as PNG plots. Resource use is
// sampled by package bench/telemetry (NVML on a GPU; process memory always),
// every sample tagged with the phase that was running.
//
// The package only consumes backends: they are opened by name through
// engine/backend's registry (backend.Open), and the optional capabilities
// declared there (Syncer, EventTimer, DeviceReporter, VendorMatMuler,
// Attender) let timings be taken with device events, peaks be read from the
// device, matrix products be compared with the vendor library and the
// transformer baseline run on the same backend.
//
// The package never prints: progress goes to the io.Writer of a Progress.
package bench
