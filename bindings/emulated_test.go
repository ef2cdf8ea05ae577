//go:build cuda && cuemu

package bindings

// emulatedLibrary: the cgo bindings link librwkvcu_emu.
const emulatedLibrary = true
