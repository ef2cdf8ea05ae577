package backend

// Stats are the runtime counters of a device backend (StatsReporter), kept
// by its runtime layer per device context: what a step costs in launches,
// synchronizations and transfers, and whether handles or device memory leak.
// Fields marked live are current levels; the others count since the backend
// was opened (subtract two readings with Sub).
type Stats struct {
	LiveTensors     uint64 // live: tensor handles, views included
	LiveDeviceBytes uint64 // live: device memory held (tensors, staging, scratch)
	Allocations     uint64 // device and pinned host allocation calls
	KernelLaunches  uint64 // kernels launched one by one (not inside a graph)
	GraphLaunches   uint64 // graph replays
	HostSyncs       uint64 // waits of the host for the device
	H2DBytes        uint64 // bytes copied from the host to the device
	D2HBytes        uint64 // bytes copied from the device to the host
}

// Sub returns the counters accumulated between reading prev and reading s;
// the live fields are s's.
func (s Stats) Sub(prev Stats) Stats {
	return Stats{
		LiveTensors:     s.LiveTensors,
		LiveDeviceBytes: s.LiveDeviceBytes,
		Allocations:     s.Allocations - prev.Allocations,
		KernelLaunches:  s.KernelLaunches - prev.KernelLaunches,
		GraphLaunches:   s.GraphLaunches - prev.GraphLaunches,
		HostSyncs:       s.HostSyncs - prev.HostSyncs,
		H2DBytes:        s.H2DBytes - prev.H2DBytes,
		D2HBytes:        s.D2HBytes - prev.D2HBytes,
	}
}

// StatsReporter is implemented by backends whose runtime counts its work
// (the CUDA backend, on a GPU and on the emulator alike).
type StatsReporter interface {
	Stats() Stats
}
