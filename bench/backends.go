package bench

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/ref"
)

// BackendFactory opens a backend; threads is the number of CPU threads to use
// (0: all), which device backends may ignore.
type BackendFactory func(threads int) (backend.Backend, error)

// ErrBackendNotBuilt is returned (wrapped) by OpenBackend for a known backend
// that this binary does not contain.
var ErrBackendNotBuilt = errors.New("backend not built")

var (
	factoriesMu sync.Mutex
	factories   = map[string]BackendFactory{
		"ref": func(threads int) (backend.Backend, error) { return ref.New(threads), nil },
	}
	// known lists backends that exist in the project even if not linked in.
	known = map[string]string{
		"cuda": "this binary has no CUDA bindings",
	}
)

// RegisterBackend makes a backend available to OpenBackend under name. The
// CUDA bindings call it from an init function.
func RegisterBackend(name string, f BackendFactory) {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	factories[name] = f
}

// Backends returns the names OpenBackend accepts in this binary.
func Backends() []string {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OpenBackend opens the backend called name with threads CPU threads.
func OpenBackend(name string, threads int) (backend.Backend, error) {
	factoriesMu.Lock()
	f, ok := factories[name]
	factoriesMu.Unlock()
	if !ok {
		if why, ok := known[name]; ok {
			return nil, fmt.Errorf("%s %w (%s)", name, ErrBackendNotBuilt, why)
		}
		return nil, fmt.Errorf("unknown backend %q (available: %v)", name, Backends())
	}
	return f(threads)
}

// Syncer is implemented by asynchronous backends: Sync returns when all the
// work queued so far has finished. Wall-clock timings call it before reading
// the clock.
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

// DeviceReporter is implemented by backends that can describe their device
// and read its peak rates from it.
type DeviceReporter interface {
	DeviceInfo() Device
}

// VendorMatMuler is implemented by backends that can run MatMul with the
// vendor's library (cuBLAS) for comparison: same contract as
// backend.Backend.MatMul (out = x @ w^T, queued like any operation), except
// that when the vendor library cannot run the product at all (not linked
// in, as in the emulated CUDA library, or a weight type it lacks),
// VendorMatMul queues nothing, records nothing and returns the reason: the
// backend stays usable and the benchmarks report the baseline as
// unavailable. Any other failure is recorded like an operation's (Err
// returns it) and also returned.
type VendorMatMuler interface {
	VendorMatMul(out, x, w backend.Tensor) error
}

// sync waits for be's queued work if it is asynchronous.
func syncBackend(be backend.Backend) error {
	if s, ok := be.(Syncer); ok {
		return s.Sync()
	}
	return nil
}
