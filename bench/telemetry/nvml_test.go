//go:build cgo

package telemetry

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// fakeH100 returns a mock DGX H100 whose GPU 0 reports the telemetry
// readings; util is read at each call so that tests can change it.
func fakeH100(util *uint32) *server.Server {
	srv := dgxh100.New()
	d := srv.Devices[0].(*server.Device)
	d.MemoryInfo = nvml.Memory{Total: 80 << 30, Used: 3 << 30, Free: 77 << 30}
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: *util, Memory: *util / 2}, nvml.SUCCESS
	}
	d.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c != nvml.CLOCK_SM {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return 1755, nvml.SUCCESS
	}
	d.GetMaxClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		switch c {
		case nvml.CLOCK_SM:
			return 1980, nvml.SUCCESS
		case nvml.CLOCK_MEM:
			return 2619, nvml.SUCCESS
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetMemoryBusWidthFunc = func() (uint32, nvml.Return) { return 5120, nvml.SUCCESS }
	d.GetNumGpuCoresFunc = func() (int, nvml.Return) { return 16896, nvml.SUCCESS }
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 312500, nvml.SUCCESS }
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: 1, UsedGpuMemory: 1 << 30}, {Pid: uint32(os.Getpid()), UsedGpuMemory: 2 << 30}}, nvml.SUCCESS
	}
	return srv
}

func TestNVMLFakeH100(t *testing.T) {
	util := uint32(37)
	src, err := NewNVML(fakeH100(&util), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	info := src.Info()
	if info.Name != "NVIDIA H100 80GB HBM3" || info.ComputeCapability != "9.0" || info.MemoryBytes != 80<<30 {
		t.Errorf("info %+v", info)
	}
	if bw := info.PeakBytesPerSec(); bw < 3.3e12 || bw > 3.4e12 {
		t.Errorf("peak bandwidth %g", bw)
	}
	s := NewSampler(src, time.Hour)
	s.Start()
	s.SetPhase("decode")
	util = 99
	s.Sample()
	samples := s.Stop()
	if len(samples) != 4 {
		t.Fatalf("%d samples", len(samples))
	}
	last := samples[3]
	if !last.GPU || last.GPUUtilPct != 99 || last.GPUMemUtilPct != 49 || last.SMClockMHz != 1755 ||
		last.PowerW != 312.5 || last.GPUMemUsedBytes != 3<<30 || last.GPUMemTotalBytes != 80<<30 ||
		last.GPUProcMemBytes != 2<<30 || last.Phase != "decode" || last.RSSBytes == 0 {
		t.Errorf("sample %+v", last)
	}
	if samples[0].GPUUtilPct != 37 || samples[0].Phase != "" {
		t.Errorf("first sample %+v", samples[0])
	}
	if n, err := s.Errors(); n != 0 {
		t.Errorf("%d read errors: %v", n, err)
	}
	st := Summarize(samples)
	if len(st) != 2 || st[1].Phase != "decode" || st[1].MeanGPUUtilPct != (37+99+99)/3.0 || st[1].MaxGPUProcBytes != 2<<30 {
		t.Errorf("stats %+v", st)
	}
}

func TestNVMLUnsupportedFields(t *testing.T) {
	util := uint32(5)
	srv := fakeH100(&util)
	d := srv.Devices[0].(*server.Device)
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.ERROR_NO_PERMISSION }
	src, err := NewNVML(srv, 0)
	if err != nil {
		t.Fatal(err)
	}
	var smp Sample
	err = src.Read(&smp)
	if err == nil {
		t.Error("permission error not reported")
	}
	if smp.PowerW != 0 || smp.GPUUtilPct != 5 || smp.SMClockMHz != 1755 {
		t.Errorf("sample %+v", smp)
	}
}

func TestNVMLMissingLibrary(t *testing.T) {
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
	_, err := NewNVML(lib, 0)
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("err %v", err)
	}
}

func TestNVMLMissingDevice(t *testing.T) {
	shut := 0
	lib := &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:       func() nvml.Return { shut++; return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return 0, nvml.SUCCESS },
	}
	if _, err := NewNVML(lib, 0); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("no GPUs: err %v", err)
	}
	util := uint32(0)
	if _, err := NewNVML(fakeH100(&util), 8); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("GPU 8 of 8: err %v", err)
	}
	if shut != 1 {
		t.Errorf("NVML shut down %d times", shut)
	}
}

// TestOpenGPUHere runs against the real library: on a machine without an
// NVIDIA driver it must fail cleanly with ErrNoLibrary or ErrNoDevice.
func TestOpenGPUHere(t *testing.T) {
	src, err := OpenGPU(0)
	if err != nil {
		if !errors.Is(err, ErrNoLibrary) && !errors.Is(err, ErrNoDevice) {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	defer src.Close()
	var s Sample
	if err := src.Read(&s); err != nil {
		t.Logf("read: %v", err)
	}
	t.Logf("%s: %+v", src.Name(), s)
}
