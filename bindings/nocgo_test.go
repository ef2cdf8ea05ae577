//go:build !cuda

package bindings

// emulatedLibrary: without cgo bindings nothing is linked; the library
// loaded at run time is probed instead (see faultTarget).
const emulatedLibrary = false
