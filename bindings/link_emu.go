//go:build cuda && cuemu

package bindings

// The emulated library (the same kernels on the CPU), built by `make emu`
// into build/emu.

/*
#cgo LDFLAGS: -L${SRCDIR}/../build/emu -lrwkvcu_emu -Wl,-rpath,${SRCDIR}/../build/emu
*/
import "C"
