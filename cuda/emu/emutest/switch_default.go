//go:build !cuemu_ucontext

package emutest

import "runtime"

// wantAsmSwitch reports whether the emulator is expected to use its x86-64
// assembly context switch in this build.
var wantAsmSwitch = runtime.GOARCH == "amd64"
