//go:build cuda

package bindings

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/enginetest"
)

// TestReferenceOutputs runs every model file of the shared test data on
// every reference prompt on the CUDA backend with the cpu backend's
// tolerances; the shortest prompt is also fed token by token (the decode
// kernels; the emulator is too slow to do it for all of them).
func TestReferenceOutputs(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.ReferenceOutputs(t, enginetest.Config{Backend: be, TokenByToken: func(p string) bool { return p == "quote_in" }})
}

// TestUpstreamExpectedLogits checks the upstream expected logits of every
// .bin, .pth, .safetensors and .st conversion in the shared test data.
func TestUpstreamExpectedLogits(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.UpstreamExpectedLogits(t, enginetest.Config{Backend: be})
}

// TestQuantizedInt8 runs shared models quantized to int8 at load on the
// CUDA backend against the pure-Go backend with the same I8 weights.
func TestQuantizedInt8(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.QuantizedInt8(t, enginetest.Config{Backend: be})
}

// TestQuantizedFP8 runs shared models quantized to fp8 e4m3 at load on the
// CUDA backend against the unquantized models on the pure-Go backend.
func TestQuantizedFP8(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.QuantizedFP8(t, enginetest.Config{Backend: be})
}

// TestBlockQuantized runs every shared rwkv.cpp block-quantized model on
// the CUDA backend (the blocks kept on the device) against the pure-Go
// backend.
func TestBlockQuantized(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.BlockQuantized(t, enginetest.Config{Backend: be})
}

// TestEngineDeviceStatePool runs the state pool's layout and round-trip
// checks (evict to host, restore, fork device to device, StateStore) on
// the CUDA backend, recorded and with its fused operations.
func TestEngineDeviceStatePool(t *testing.T) {
	be := openTest(t)
	defer be.Close()
	enginetest.StatePool(t, enginetest.Config{Backend: be})
}
