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
// binds every function of the C ABI. A library is opened once per path.
// rwkvcu_vendor_matmul is optional (a library without it has no vendor
// baseline); every other function is required.
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
	binds := []struct {
		fn   any
		name string
	}{
		{&a.abiVersion, "rwkvcu_abi_version"},
		{&a.lastError, "rwkvcu_last_error"},
		{&a.contextCreate, "rwkvcu_context_create"},
		{&a.contextDestroy, "rwkvcu_context_destroy"},
		{&a.synchronize, "rwkvcu_synchronize"},
		{&a.deviceInfo, "rwkvcu_device_info"},
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
		{&a.shift, "rwkvcu_shift"},
		{&a.mix, "rwkvcu_mix"},
		{&a.mixN, "rwkvcu_mix_n"},
		{&a.wkv4, "rwkvcu_wkv4"},
		{&a.wkv5, "rwkvcu_wkv5"},
		{&a.wkv7, "rwkvcu_wkv7"},
		{&a.keyV7, "rwkvcu_key_v7"},
		{&a.valueV7, "rwkvcu_value_v7"},
		{&a.bonusV7, "rwkvcu_bonus_v7"},
		{&a.attention, "rwkvcu_attention"},
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
		{&a.timerStart, "rwkvcu_timer_start"},
		{&a.timerStop, "rwkvcu_timer_stop"},
		{&a.flushL2, "rwkvcu_flush_l2"},
	}
	for _, bd := range binds {
		sym, err := purego.Dlsym(lib, bd.name)
		if err != nil {
			return nil, fmt.Errorf("cuda: %s lacks %s: %w", path, bd.name, err)
		}
		purego.RegisterFunc(bd.fn, sym)
	}
	if sym, err := purego.Dlsym(lib, "rwkvcu_vendor_matmul"); err == nil {
		purego.RegisterFunc(&a.vendorMatmul, sym)
	}
	loaded[path] = a
	return a, nil
}
