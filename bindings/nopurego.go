//go:build nopurego

package bindings

import "fmt"

// loadLibrary fails: the binary was built with the nopurego tag, without the
// run-time loader (purego.go, zpurego.go), so that a CGO_ENABLED=0 build
// links no C library and runs in a static (libc-free) image. Such a binary
// has only the CPU backend unless built with the cuda tag.
func loadLibrary(path string) (*capi, error) {
	return nil, fmt.Errorf("cuda: cannot load %s: this binary was built with the nopurego tag (no run-time loader)", path)
}

// loadBench fails like loadLibrary: librwkvcu_bench is loaded with purego only.
func loadBench(product string) (*benchAPI, error) {
	return nil, fmt.Errorf("%w: librwkvcu_bench unavailable: this binary was built with the nopurego tag", ErrNotSupported)
}
