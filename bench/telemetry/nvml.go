//go:build cgo

package telemetry

import (
	"fmt"
	"os"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is a Source reading one GPU through an nvml.Interface.
type NVML struct {
	lib  nvml.Interface
	dev  nvml.Device
	name string
	info GPUInfo
	pid  uint32
}

// OpenGPU opens GPU index through the system's NVML library (libnvidia-ml,
// loaded at run time). Errors wrap ErrNoLibrary or ErrNoDevice.
func OpenGPU(index int) (*NVML, error) {
	return NewNVML(nvml.New(), index)
}

// NewNVML initialises lib and returns a source for its GPU index. lib is the
// real library (nvml.New()) or a mock. Errors wrap ErrNoLibrary when lib
// cannot be initialised and ErrNoDevice when the GPU does not exist.
func NewNVML(lib nvml.Interface, index int) (*NVML, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: nvmlInit: %v", ErrNoLibrary, ret)
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("%w: nvmlDeviceGetCount: %v", ErrNoDevice, ret)
	}
	if index < 0 || index >= n {
		lib.Shutdown()
		return nil, fmt.Errorf("%w: GPU %d requested, %d present", ErrNoDevice, index, n)
	}
	dev, ret := lib.DeviceGetHandleByIndex(index)
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("%w: GPU %d: %v", ErrNoDevice, index, ret)
	}
	s := &NVML{lib: lib, dev: dev, pid: uint32(os.Getpid())}
	name, ret := dev.GetName()
	if ret != nvml.SUCCESS {
		name = "NVIDIA GPU"
	}
	s.name = fmt.Sprintf("%s (GPU %d)", name, index)
	s.info = GPUInfo{Name: name, Index: index}
	if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
		s.info.MemoryBytes = mem.Total
	}
	if v, ret := dev.GetMaxClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
		s.info.MaxSMClockMHz = v
	}
	if v, ret := dev.GetMaxClockInfo(nvml.CLOCK_MEM); ret == nvml.SUCCESS {
		s.info.MaxMemClockMHz = v
	}
	if v, ret := dev.GetMemoryBusWidth(); ret == nvml.SUCCESS {
		s.info.MemBusWidthBits = v
	}
	if v, ret := dev.GetNumGpuCores(); ret == nvml.SUCCESS {
		s.info.Cores = v
	}
	if major, minor, ret := dev.GetCudaComputeCapability(); ret == nvml.SUCCESS {
		s.info.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
	}
	return s, nil
}

// Name describes the GPU.
func (s *NVML) Name() string { return s.name }

// Info returns the GPU's static properties, read when it was opened.
func (s *NVML) Info() GPUInfo { return s.info }

// Read fills the GPU fields of smp. Fields NVML does not support on the device
// stay zero; the first other failure is returned after every field is tried.
func (s *NVML) Read(smp *Sample) error {
	var first error
	check := func(what string, ret nvml.Return) bool {
		if ret == nvml.SUCCESS {
			return true
		}
		if ret != nvml.ERROR_NOT_SUPPORTED && first == nil {
			first = fmt.Errorf("telemetry: %s: %v", what, ret)
		}
		return false
	}
	smp.GPU = true
	if u, ret := s.dev.GetUtilizationRates(); check("utilization", ret) {
		smp.GPUUtilPct, smp.GPUMemUtilPct = float64(u.Gpu), float64(u.Memory)
	}
	if m, ret := s.dev.GetMemoryInfo(); check("memory", ret) {
		smp.GPUMemUsedBytes, smp.GPUMemTotalBytes = m.Used, m.Total
	}
	if c, ret := s.dev.GetClockInfo(nvml.CLOCK_SM); check("SM clock", ret) {
		smp.SMClockMHz = c
	}
	if p, ret := s.dev.GetPowerUsage(); check("power", ret) {
		smp.PowerW = float64(p) / 1000 // milliwatts
	}
	if procs, ret := s.dev.GetComputeRunningProcesses(); check("processes", ret) {
		for _, p := range procs {
			if p.Pid == s.pid {
				smp.GPUProcMemBytes += p.UsedGpuMemory
			}
		}
	}
	return first
}

// Close shuts NVML down.
func (s *NVML) Close() error {
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("telemetry: nvmlShutdown: %v", ret)
	}
	return nil
}

var _ Source = (*NVML)(nil)
