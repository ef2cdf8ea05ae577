// Package fault turns memory faults reading memory-mapped model files into
// errors: code that reads such memory enables runtime/debug.SetPanicOnFault
// on its goroutine and recovers the panic a fault (SIGBUS on a file that
// shrank under its mapping, for instance) then raises.
package fault

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
)

// ErrWeightsUnreadable is the error (wrapped) of a memory fault reading a
// model's memory-mapped file. Packages weights, engine/backend and engine
// export it under their own names.
var ErrWeightsUnreadable = errors.New("weights unreadable: memory fault reading the model's memory-mapped file")

// Error returns an error wrapping ErrWeightsUnreadable when r, a value
// recovered from a panic, is a memory fault turned into a panic by
// SetPanicOnFault (a runtime.Error with the faulting address), and nil for
// any other value.
func Error(r any) error {
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

// Catch is deferred, with the goroutine's previous SetPanicOnFault setting,
// by a function that reads mapped memory:
//
//	defer fault.Catch(&err, debug.SetPanicOnFault(true))
//
// It restores the setting and, when the function panicked with a memory
// fault, sets *err to the fault's error (see Error). Other panics go on.
func Catch(err *error, old bool) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	e := Error(r)
	if e == nil {
		panic(r)
	}
	*err = e
}
