package bindings

import (
	"fmt"
	"sync"

	"github.com/ebitengine/purego"
)

var (
	loadMu sync.Mutex
	loaded = map[string]*capi{}
)

// loadLibrary opens a librwkvcu shared library with purego (no cgo) and
// binds every function of the C ABI (bindCAPI, generated). A library is
// opened once per path. The functions named by abigen's -optional flag
// (rwkvcu_vendor_matmul: a library without it has no vendor baseline) may
// be missing; every other function is required.
func loadLibrary(path string) (*capi, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if a := loaded[path]; a != nil {
		return a, nil
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("cuda: loading %s: %w", path, err)
	}
	a := &capi{}
	if err := bindCAPI(a, lib, path); err != nil {
		return nil, err
	}
	loaded[path] = a
	return a, nil
}
