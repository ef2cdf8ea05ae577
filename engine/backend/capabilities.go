package backend

import "time"

// The optional capabilities below are implemented by some backends; callers
// test for them with a type assertion. None is needed to run a model.

// Syncer is implemented by asynchronous backends: Sync returns when all the
// work queued so far has finished, with its error. Wall-clock timings call it
// before reading the clock.
type Syncer interface {
	Sync() error
}

// EventTimer is implemented by device backends that time their own work with
// device events (CUDA events). The kernel microbenchmarks use it instead of
// the Go timer when present.
type EventTimer interface {
	// StartTimer records a start event on the backend's stream.
	StartTimer()
	// StopTimer records a stop event, waits for it and returns the device
	// time elapsed since the matching StartTimer.
	StopTimer() (time.Duration, error)
	// FlushL2 evicts the device's L2 cache (by writing a buffer larger than
	// it), so that the next operation starts cold.
	FlushL2()
}

// DeviceInfo describes the device a backend runs on and its peak rates.
type DeviceInfo struct {
	// Name is the device's name.
	Name string
	// PeakBytesPerSec and PeakFLOPs are the device's peak memory bandwidth
	// and float32 rate (0: unknown).
	PeakBytesPerSec float64
	PeakFLOPs       float64
	// PeakSource says where the peaks come from.
	PeakSource string
}

// DeviceReporter is implemented by backends that can describe their device
// and read its peak rates from it.
type DeviceReporter interface {
	DeviceInfo() DeviceInfo
}

// VendorMatMuler is implemented by backends that can run MatMul with the
// vendor's library (cuBLAS) for comparison: same contract as Backend.MatMul
// (out = x @ w^T, queued like any operation), except that when the vendor
// library cannot run the product at all (not available, as with the emulated
// CUDA library, or a weight type it lacks), VendorMatMul queues nothing,
// records nothing and returns the reason: the backend stays usable and the
// benchmarks report the baseline as unavailable. Any other failure is
// recorded like an operation's (Err returns it) and also returned.
type VendorMatMuler interface {
	VendorMatMul(out, x, w Tensor) error
}

// Attender is implemented by backends that run plain causal multi-head
// softmax attention for one sequence over a key/value cache. No RWKV graph
// uses it: it exists so that the benchmarks' transformer baseline runs on the
// same backend as the RWKV models it is compared with.
type Attender interface {
	// Attention: q, k, v and out are [N, C], the step's rows at positions
	// pos, ..., pos+N-1; kc and vc are the caches [L, C] with L >= pos+N.
	// Rows k[i] and v[i] are first stored into rows pos+i of kc and vc;
	// then, for each head h of width D = C/heads, row i of out is
	// sum_j softmax_j(q[i]_h . kc[j]_h / sqrt(D)) vc[j]_h over j <= pos+i,
	// with the scores and the softmax in float32.
	Attention(out, q, k, v, kc, vc Tensor, pos, heads int)
}

// Sync waits for be's queued work if be is asynchronous (Syncer) and returns
// its error; on a synchronous backend it returns nil at once.
func Sync(be Backend) error {
	if s, ok := be.(Syncer); ok {
		return s.Sync()
	}
	return nil
}
