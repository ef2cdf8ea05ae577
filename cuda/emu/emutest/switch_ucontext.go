//go:build cuemu_ucontext

package emutest

// wantAsmSwitch is false: the cuemu_ucontext tag forces the ucontext switch.
var wantAsmSwitch = false
