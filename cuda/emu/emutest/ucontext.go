//go:build cuemu_ucontext

package emutest

// With the cuemu_ucontext build tag the emulator switches fibers with
// ucontext instead of the x86-64 assembly routine, so that the portable path
// is tested too: go test -tags cuemu_ucontext ./cuda/emu/...

/*
#cgo CXXFLAGS: -DCUEMU_FORCE_UCONTEXT
*/
import "C"
