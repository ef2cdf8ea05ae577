//go:build cuemu_ucontext || asan

package emutest

// wantAsmSwitch is false: the cuemu_ucontext tag forces the ucontext switch,
// and AddressSanitizer builds select it automatically.
var wantAsmSwitch = false
