package backend

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrWeightsUnreadable is returned (wrapped) when reading a tensor's memory
// faulted: weights used in place from a memory-mapped file whose file was
// truncated, removed from a network file system or hit by an I/O error while
// the model was loaded. The operation's results are not usable; a backend
// that reports it leaves the process running.
var ErrWeightsUnreadable = errors.New("weights unreadable: memory fault reading the model's memory-mapped file")

// FaultError converts a value recovered from a panic into an error wrapping
// ErrWeightsUnreadable when it is a memory fault that
// runtime/debug.SetPanicOnFault turned into a panic (a runtime.Error with
// the faulting address), and returns nil for any other value.
func FaultError(r any) error {
	re, ok := r.(runtime.Error)
	if !ok {
		return nil
	}
	a, ok := re.(interface{ Addr() uintptr })
	if !ok {
		return nil
	}
	return fmt.Errorf("%w (fault at address %#x)", ErrWeightsUnreadable, a.Addr())
}
