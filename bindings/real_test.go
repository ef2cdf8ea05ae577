//go:build cuda && !cuemu

package bindings

// emulatedLibrary: the cgo bindings link the real librwkvcu.
const emulatedLibrary = false
