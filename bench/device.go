package bench

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rwkvgo/rwkvgo/bench/telemetry"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/vec"
)

// Device describes what the benchmarks ran on and its peak rates, against
// which achieved rates are expressed as fractions.
type Device struct {
	Backend string `json:"backend"`
	Name    string `json:"name"`
	Threads int    `json:"threads,omitempty"`
	// PeakBytesPerSec and PeakFLOPs are the device's peak memory bandwidth
	// and float32 rate (0: unknown).
	PeakBytesPerSec float64 `json:"peak_bytes_per_sec"`
	PeakFLOPs       float64 `json:"peak_flops"`
	// PeakSource says where the peaks come from.
	PeakSource string `json:"peak_source"`
	// CacheBytes is the last-level cache size (flushed between repeats).
	CacheBytes int64 `json:"cache_bytes,omitempty"`
	// GPU holds NVML's description of the GPU, if any.
	GPU *telemetry.GPUInfo `json:"gpu,omitempty"`
}

// DescribeDevice returns the Device of be: the backend's own description if
// it implements backend.DeviceReporter; else, with a GPU, the peaks NVML reports; else
// the CPU with peaks measured by ProbeCPU (threads goroutines).
func DescribeDevice(be backend.Backend, threads int, gpu *telemetry.GPUInfo) Device {
	if r, ok := be.(backend.DeviceReporter); ok {
		info := r.DeviceInfo()
		return Device{Backend: be.Name(), Name: info.Name, PeakBytesPerSec: info.PeakBytesPerSec, PeakFLOPs: info.PeakFLOPs,
			PeakSource: info.PeakSource, GPU: gpu}
	}
	if gpu != nil && be.Name() != "cpu" {
		return Device{Backend: be.Name(), Name: gpu.Name, GPU: gpu, PeakBytesPerSec: gpu.PeakBytesPerSec(),
			PeakFLOPs: gpu.PeakFLOPsF32(), PeakSource: "NVML: max memory clock x bus width x 2; CUDA cores x 2 x max SM clock"}
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	bw, fl := ProbeCPU(threads)
	return Device{Backend: be.Name(), Name: cpuModel(), Threads: threads, PeakBytesPerSec: bw, PeakFLOPs: fl,
		CacheBytes: llcBytes(),
		PeakSource: "measured on this machine: streaming dot product over 2x64 MiB (bandwidth); cache-resident float32 GEMM kernel (FLOP/s), all threads"}
}

var (
	probeOnce      sync.Once
	probeBW, probe float64
	probeThreads   int
)

// ProbeCPU measures the CPU's attainable peaks with threads goroutines: memory
// bandwidth with the SIMD dot product streaming two arrays much larger than
// the cache, and float32 FLOP/s with the GEMM kernel on cache-resident
// operands. Results are the best of a few repeats, cached per process.
func ProbeCPU(threads int) (bytesPerSec, flops float64) {
	probeOnce.Do(func() {
		probeThreads = threads
		probeBW = probeBandwidth(threads)
		probe = probeFLOPs(threads)
	})
	return probeBW, probe
}

func parallel(threads int, f func(i int)) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

func probeBandwidth(threads int) float64 {
	const n = 16 << 20 // 64 MiB of float32 per array
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = 1, 0.5
	}
	per := n / threads
	best := math.Inf(1)
	var sink float32
	var mu sync.Mutex
	for rep := 0; rep < 4; rep++ {
		d := parallel(threads, func(i int) {
			s := vec.Dot(a[i*per:(i+1)*per], b[i*per:(i+1)*per])
			mu.Lock()
			sink += s
			mu.Unlock()
		})
		best = math.Min(best, d.Seconds())
	}
	_ = sink
	debug.FreeOSMemory() // the 128 MiB go back to the system
	return float64(2*4*per*threads) / best
}

func probeFLOPs(threads int) float64 {
	const rows, k, n = 64, 256, 32
	best := math.Inf(1)
	ws := make([][]float32, threads)
	xs := make([][]float32, threads)
	ds := make([][]float32, threads)
	for i := range ws {
		ws[i], xs[i], ds[i] = make([]float32, rows*k), make([]float32, n*k), make([]float32, n*rows)
		for j := range ws[i] {
			ws[i][j] = 0.01
		}
		for j := range xs[i] {
			xs[i][j] = 0.02
		}
	}
	const iters = 200
	for rep := 0; rep < 4; rep++ {
		d := parallel(threads, func(i int) {
			for it := 0; it < iters; it++ {
				vec.GemmF32(ds[i], rows, ws[i], rows, k, xs[i], n)
			}
		})
		best = math.Min(best, d.Seconds())
	}
	return float64(2*rows*k*n*iters*threads) / best
}

// cpuModel returns the CPU's model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH + " CPU"
}

// llcBytes reads the size of the largest CPU cache (default 32 MiB).
func llcBytes() int64 {
	var best int64
	for i := 0; i < 8; i++ {
		b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cache/index" + strconv.Itoa(i) + "/size")
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		mul := int64(1)
		switch {
		case strings.HasSuffix(s, "K"):
			mul, s = 1<<10, strings.TrimSuffix(s, "K")
		case strings.HasSuffix(s, "M"):
			mul, s = 1<<20, strings.TrimSuffix(s, "M")
		}
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			best = max(best, v*mul)
		}
	}
	if best == 0 {
		best = 32 << 20
	}
	return best
}
