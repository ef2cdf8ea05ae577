//go:build !nopurego

package bindings

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

var (
	loadMu sync.Mutex
	loaded = map[string]*capi{}
)

// loadLibrary opens a librwkvcu shared library with purego (no cgo) and
// binds every function of the C ABI (bindCAPI, generated). A library is
// opened once per path. Every function is required.
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

var (
	benchMu     sync.Mutex
	benchLoaded = map[string]*benchAPI{}
	benchErrs   = map[string]error{}
)

// benchLibraryPath is where librwkvcu_bench is looked for:
// $RWKVGO_CUDA_BENCH_LIB, or the product library's file name with
// "librwkvcu" replaced by "librwkvcu_bench" (librwkvcu.so ->
// librwkvcu_bench.so, librwkvcu_emu.so -> librwkvcu_bench_emu.so), in the
// same directory.
func benchLibraryPath(product string) string {
	if p := os.Getenv("RWKVGO_CUDA_BENCH_LIB"); p != "" {
		return p
	}
	if product == "" {
		return "librwkvcu_bench.so"
	}
	dir, file := filepath.Split(product)
	if rest, ok := strings.CutPrefix(file, "librwkvcu"); ok {
		return dir + "librwkvcu_bench" + rest
	}
	return dir + "librwkvcu_bench.so"
}

// loadBench opens librwkvcu_bench for the product library at product with
// purego, once per path; the error says why it is unavailable.
func loadBench(product string) (*benchAPI, error) {
	path := benchLibraryPath(product)
	benchMu.Lock()
	defer benchMu.Unlock()
	if a := benchLoaded[path]; a != nil {
		return a, nil
	}
	if err := benchErrs[path]; err != nil {
		return nil, err
	}
	a, err := openBench(path)
	if err != nil {
		err = fmt.Errorf("%w: librwkvcu_bench unavailable: %v", ErrNotSupported, err)
		benchErrs[path] = err
		return nil, err
	}
	benchLoaded[path] = a
	return a, nil
}

func openBench(path string) (*benchAPI, error) {
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	a := &benchAPI{}
	if err := bindBenchAPI(a, lib, path); err != nil {
		return nil, err
	}
	if v := a.benchAbiVersion(); v != cABIVersion {
		return nil, fmt.Errorf("%s has ABI version %d, these bindings need %d", path, v, cABIVersion)
	}
	return a, nil
}
