//go:build !cgo

package telemetry

import "fmt"

// NVML is a GPU source; without cgo it cannot be opened.
type NVML struct{}

// OpenGPU always fails without cgo: NVML is reached through cgo.
func OpenGPU(index int) (*NVML, error) {
	return nil, fmt.Errorf("%w: built without cgo", ErrNoLibrary)
}

// Name describes the GPU.
func (s *NVML) Name() string { return "" }

// Info returns the GPU's static properties.
func (s *NVML) Info() GPUInfo { return GPUInfo{} }

// Read does nothing.
func (s *NVML) Read(*Sample) error { return ErrNoLibrary }

// Close does nothing.
func (s *NVML) Close() error { return nil }

var _ Source = (*NVML)(nil)
