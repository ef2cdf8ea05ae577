package backend

import "github.com/rwkvgo/rwkvgo/internal/fault"

// ErrWeightsUnreadable is returned (wrapped) when reading a tensor's memory
// faulted: weights used in place from a memory-mapped file whose file was
// truncated, removed from a network file system or hit by an I/O error while
// the model was loaded. The operation's results are not usable; a backend
// that reports it leaves the process running. It is the same error as
// engine.ErrWeightsUnreadable and weights.ErrUnreadable.
var ErrWeightsUnreadable = fault.ErrWeightsUnreadable

// FaultError converts a value recovered from a panic into an error wrapping
// ErrWeightsUnreadable when it is a memory fault that
// runtime/debug.SetPanicOnFault turned into a panic (a runtime.Error with
// the faulting address), and returns nil for any other value.
func FaultError(r any) error { return fault.Error(r) }
