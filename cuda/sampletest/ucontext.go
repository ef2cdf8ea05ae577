//go:build cuemu_ucontext

package sampletest

// With the cuemu_ucontext build tag the emulator switches fibers with
// ucontext instead of the x86-64 assembly routine:
// go test -tags cuemu_ucontext ./cuda/sampletest/

/*
#cgo CXXFLAGS: -DCUEMU_FORCE_UCONTEXT
*/
import "C"
