// Package telemetry samples the resources a benchmark uses at a fixed
// interval: on an NVIDIA GPU (through NVML) the GPU's utilization, memory
// used (device-wide and by this process), SM clock and power draw; always the
// process's resident memory and the Go runtime's memory. Every sample is
// tagged with the benchmark phase current when it was taken.
//
// NVML's "GPU utilization" is the percentage of time over the last sample
// period (between 1/6 s and 1 s, depending on the product) during which at
// least one kernel was running on the GPU. It is not occupancy: a single tiny
// kernel running all the time reads 100%. Phases should last at least a second
// for it to mean anything.
//
// NVML is reached through github.com/NVIDIA/go-nvml, which needs cgo and loads
// libnvidia-ml at run time; without cgo, or without the library or a device,
// OpenGPU returns an error wrapping ErrNoLibrary or ErrNoDevice and callers
// fall back to host-only sampling.
package telemetry

import (
	"errors"
	"runtime/metrics"
	"sync"
	"time"
)

// Errors returned (wrapped) by OpenGPU.
var (
	// ErrNoLibrary: NVML cannot be used (no cgo, or libnvidia-ml is missing).
	ErrNoLibrary = errors.New("telemetry: NVML library not available")
	// ErrNoDevice: NVML works but the requested GPU does not exist.
	ErrNoDevice = errors.New("telemetry: no such GPU")
)

// Sample is one reading. GPU fields are meaningful only when GPU is true.
type Sample struct {
	// At is the time since the sampler started.
	At time.Duration `json:"at_ns"`
	// Phase is the benchmark phase current when the sample was taken.
	Phase string `json:"phase"`

	// RSSBytes is the process's resident set size (0 where unknown).
	RSSBytes uint64 `json:"rss_bytes"`
	// GoHeapBytes is the memory occupied by live and unswept Go heap objects.
	GoHeapBytes uint64 `json:"go_heap_bytes"`
	// GoTotalBytes is all memory mapped by the Go runtime.
	GoTotalBytes uint64 `json:"go_total_bytes"`

	// GPU reports whether the GPU fields were read.
	GPU bool `json:"gpu"`
	// GPUUtilPct is NVML's GPU utilization: percent of the last sample period
	// during which a kernel was running (not occupancy).
	GPUUtilPct float64 `json:"gpu_util_pct,omitempty"`
	// GPUMemUtilPct is NVML's memory utilization: percent of the period during
	// which device memory was being read or written.
	GPUMemUtilPct float64 `json:"gpu_mem_util_pct,omitempty"`
	// GPUMemUsedBytes is device memory in use by all processes.
	GPUMemUsedBytes uint64 `json:"gpu_mem_used_bytes,omitempty"`
	// GPUMemTotalBytes is the device's memory size.
	GPUMemTotalBytes uint64 `json:"gpu_mem_total_bytes,omitempty"`
	// GPUProcMemBytes is device memory used by this process (0 where NVML
	// does not report per-process usage).
	GPUProcMemBytes uint64 `json:"gpu_proc_mem_bytes,omitempty"`
	// SMClockMHz is the current SM clock.
	SMClockMHz uint32 `json:"sm_clock_mhz,omitempty"`
	// PowerW is the power draw in watts.
	PowerW float64 `json:"power_w,omitempty"`
}

// Source reads device-specific fields into a sample.
type Source interface {
	// Name describes the device ("NVIDIA H100 80GB HBM3 (GPU 0)", "host").
	Name() string
	// Read fills the fields it knows of s.
	Read(s *Sample) error
	// Close releases the source.
	Close() error
}

// Sampler takes a Sample every interval from a goroutine until Stop. The host
// fields are always read; a GPU source, if any, adds its fields.
type Sampler struct {
	src      Source
	interval time.Duration
	start    time.Time

	mu      sync.Mutex
	phase   string
	samples []Sample
	errs    int
	lastErr error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewSampler returns a sampler reading src (nil: host only) every interval
// (<= 0: 100ms). Call Start to begin.
func NewSampler(src Source, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return &Sampler{src: src, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
}

// Device names the sampled device: the GPU source's name, or "host".
func (s *Sampler) Device() string {
	if s.src == nil {
		return "host"
	}
	return s.src.Name()
}

// Interval returns the sampling interval.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Start takes a first sample and starts the sampling goroutine.
func (s *Sampler) Start() {
	s.start = time.Now()
	s.Sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.Sample()
			}
		}
	}()
}

// SetPhase tags the following samples with phase, and takes a sample so that
// even a short phase has one.
func (s *Sampler) SetPhase(phase string) {
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
	s.Sample()
}

// Phase returns the current phase.
func (s *Sampler) Phase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase
}

// Sample takes one sample now (it is also called by the sampling goroutine).
func (s *Sampler) Sample() {
	var smp Sample
	readHost(&smp)
	var err error
	if s.src != nil {
		err = s.src.Read(&smp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	smp.At = time.Since(s.start)
	smp.Phase = s.phase
	if err != nil {
		s.errs++
		s.lastErr = err
	}
	s.samples = append(s.samples, smp)
}

// Stop ends sampling (after one last sample) and returns every sample taken.
// It is idempotent; the source is not closed.
func (s *Sampler) Stop() []Sample {
	s.once.Do(func() {
		if s.start.IsZero() {
			close(s.done)
		} else {
			close(s.stop)
		}
		<-s.done
		s.Sample()
	})
	return s.Samples()
}

// Samples returns a copy of the samples taken so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Errors returns the number of failed source reads and the last error.
func (s *Sampler) Errors() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs, s.lastErr
}

// PhaseStats summarises the samples of one phase.
type PhaseStats struct {
	Phase   string `json:"phase"`
	Samples int    `json:"samples"`
	// Duration spans the phase's first to last sample.
	Duration        time.Duration `json:"duration_ns"`
	MaxRSSBytes     uint64        `json:"max_rss_bytes"`
	MaxGoHeapBytes  uint64        `json:"max_go_heap_bytes"`
	GPU             bool          `json:"gpu"`
	MeanGPUUtilPct  float64       `json:"mean_gpu_util_pct,omitempty"`
	MaxGPUMemBytes  uint64        `json:"max_gpu_mem_used_bytes,omitempty"`
	MaxGPUProcBytes uint64        `json:"max_gpu_proc_mem_bytes,omitempty"`
	MeanSMClockMHz  float64       `json:"mean_sm_clock_mhz,omitempty"`
	MeanPowerW      float64       `json:"mean_power_w,omitempty"`
}

// Summarize groups samples by phase, in order of first appearance.
func Summarize(samples []Sample) []PhaseStats {
	var out []PhaseStats
	index := map[string]int{}
	first := map[string]time.Duration{}
	gpuN := map[string]int{}
	for _, s := range samples {
		i, ok := index[s.Phase]
		if !ok {
			i = len(out)
			index[s.Phase] = i
			first[s.Phase] = s.At
			out = append(out, PhaseStats{Phase: s.Phase})
		}
		p := &out[i]
		p.Samples++
		p.Duration = s.At - first[s.Phase]
		p.MaxRSSBytes = max(p.MaxRSSBytes, s.RSSBytes)
		p.MaxGoHeapBytes = max(p.MaxGoHeapBytes, s.GoHeapBytes)
		if s.GPU {
			p.GPU = true
			gpuN[s.Phase]++
			p.MeanGPUUtilPct += s.GPUUtilPct
			p.MeanSMClockMHz += float64(s.SMClockMHz)
			p.MeanPowerW += s.PowerW
			p.MaxGPUMemBytes = max(p.MaxGPUMemBytes, s.GPUMemUsedBytes)
			p.MaxGPUProcBytes = max(p.MaxGPUProcBytes, s.GPUProcMemBytes)
		}
	}
	for i := range out {
		if n := gpuN[out[i].Phase]; n > 0 {
			out[i].MeanGPUUtilPct /= float64(n)
			out[i].MeanSMClockMHz /= float64(n)
			out[i].MeanPowerW /= float64(n)
		}
	}
	return out
}

var hostMetrics = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/total:bytes"},
}

var hostMu sync.Mutex

// readHost fills the host fields.
func readHost(s *Sample) {
	s.RSSBytes = CurrentRSS()
	hostMu.Lock()
	defer hostMu.Unlock()
	metrics.Read(hostMetrics)
	val := func(i int) uint64 {
		if hostMetrics[i].Value.Kind() == metrics.KindUint64 {
			return hostMetrics[i].Value.Uint64()
		}
		return 0
	}
	s.GoHeapBytes = val(0) + val(1)
	s.GoTotalBytes = val(2)
}

// GPUInfo holds a GPU's static properties as NVML reports them; fields NVML
// does not report are zero.
type GPUInfo struct {
	Name              string `json:"name"`
	Index             int    `json:"index"`
	ComputeCapability string `json:"compute_capability,omitempty"`
	MemoryBytes       uint64 `json:"memory_bytes,omitempty"`
	MaxSMClockMHz     uint32 `json:"max_sm_clock_mhz,omitempty"`
	MaxMemClockMHz    uint32 `json:"max_mem_clock_mhz,omitempty"`
	MemBusWidthBits   uint32 `json:"mem_bus_width_bits,omitempty"`
	Cores             int    `json:"cores,omitempty"`
}

// PeakBytesPerSec is the theoretical memory bandwidth: two transfers per
// memory clock (double data rate) over the bus width; 0 if unknown.
func (g GPUInfo) PeakBytesPerSec() float64 {
	return 2 * float64(g.MaxMemClockMHz) * 1e6 * float64(g.MemBusWidthBits) / 8
}

// PeakFLOPsF32 is the theoretical float32 rate: one fused multiply-add (two
// operations) per CUDA core per SM clock; 0 if unknown.
func (g GPUInfo) PeakFLOPsF32() float64 {
	return 2 * float64(g.Cores) * float64(g.MaxSMClockMHz) * 1e6
}
