//go:build cuemu_ucontext

package kerneltest

// With the cuemu_ucontext build tag the emulator switches fibers with
// ucontext instead of the x86-64 assembly routine (go test -tags
// cuemu_ucontext ./cuda/...).
var extraFlags = []string{"-DCUEMU_FORCE_UCONTEXT"}
