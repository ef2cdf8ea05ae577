//go:build cuda && !cuemu

package bindings

// The real library, built by `make cuda` into build/cuda.

/*
#cgo LDFLAGS: -L${SRCDIR}/../build/cuda -lrwkvcu -Wl,-rpath,${SRCDIR}/../build/cuda
*/
import "C"
