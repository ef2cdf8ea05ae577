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
// binds every function of the C ABI. A library is opened once per path.
// Every function is required.
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
	binds := []binding{
		{&a.abiVersion, "rwkvcu_abi_version"},
		{&a.lastError, "rwkvcu_last_error"},
		{&a.contextCreate, "rwkvcu_context_create"},
		{&a.contextDestroy, "rwkvcu_context_destroy"},
		{&a.synchronize, "rwkvcu_synchronize"},
		{&a.deviceInfo, "rwkvcu_device_info"},
		{&a.stats, "rwkvcu_stats"},
		{&a.tensorNew, "rwkvcu_tensor_new"},
		{&a.tensorView, "rwkvcu_tensor_view"},
		{&a.tensorFree, "rwkvcu_tensor_free"},
		{&a.tensorUpload, "rwkvcu_tensor_upload"},
		{&a.tensorRead, "rwkvcu_tensor_read"},
		{&a.tensorWrite, "rwkvcu_tensor_write"},
		{&a.embed, "rwkvcu_embed"},
		{&a.groupNorm, "rwkvcu_group_norm"},
		{&a.matmul, "rwkvcu_matmul"},
		{&a.matmulT, "rwkvcu_matmul_t"},
		{&a.mapFn, "rwkvcu_map"},
		{&a.zip, "rwkvcu_zip"},
		{&a.slice, "rwkvcu_slice"},
		{&a.gatherRows, "rwkvcu_gather_rows"},
		{&a.beginStep, "rwkvcu_begin_step"},
		{&a.shift, "rwkvcu_shift"},
		{&a.mix, "rwkvcu_mix"},
		{&a.mixN, "rwkvcu_mix_n"},
		{&a.wkv4, "rwkvcu_wkv4"},
		{&a.wkv5, "rwkvcu_wkv5"},
		{&a.wkv7, "rwkvcu_wkv7"},
		{&a.keyV7, "rwkvcu_key_v7"},
		{&a.valueV7, "rwkvcu_value_v7"},
		{&a.bonusV7, "rwkvcu_bonus_v7"},
		{&a.samplerCreate, "rwkvcu_sampler_create"},
		{&a.samplerDestroy, "rwkvcu_sampler_destroy"},
		{&a.samplerSetRow, "rwkvcu_sampler_set_row"},
		{&a.samplerSetBias, "rwkvcu_sampler_set_bias"},
		{&a.samplerObserve, "rwkvcu_sampler_observe"},
		{&a.sample, "rwkvcu_sample"},
		{&a.graphBegin, "rwkvcu_graph_begin"},
		{&a.graphEnd, "rwkvcu_graph_end"},
		{&a.graphInputs, "rwkvcu_graph_input_count"},
		{&a.graphSetInput, "rwkvcu_graph_set_input"},
		{&a.graphLaunch, "rwkvcu_graph_launch"},
		{&a.graphDestroy, "rwkvcu_graph_destroy"},
	}
	if err := bind(lib, path, binds); err != nil {
		return nil, err
	}
	a.path = func() string { return path }
	loaded[path] = a
	return a, nil
}

type binding struct {
	fn   any
	name string
}

// bind registers each function of binds from the library lib (opened from path).
func bind(lib uintptr, path string, binds []binding) error {
	for _, bd := range binds {
		sym, err := purego.Dlsym(lib, bd.name)
		if err != nil {
			return fmt.Errorf("cuda: %s lacks %s: %w", path, bd.name, err)
		}
		purego.RegisterFunc(bd.fn, sym)
	}
	return nil
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
	if err := bind(lib, path, []binding{
		{&a.abiVersion, "rwkvcu_bench_abi_version"},
		{&a.vendorMatmul, "rwkvcu_vendor_matmul"},
		{&a.timerStart, "rwkvcu_timer_start"},
		{&a.timerStop, "rwkvcu_timer_stop"},
		{&a.flushL2, "rwkvcu_flush_l2"},
		{&a.attention, "rwkvcu_attention"},
	}); err != nil {
		return nil, err
	}
	if v := a.abiVersion(); v != abiVersion {
		return nil, fmt.Errorf("%s has ABI version %d, these bindings need %d", path, v, abiVersion)
	}
	return a, nil
}
