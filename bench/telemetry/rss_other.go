//go:build !linux

package telemetry

import "runtime/metrics"

// CurrentRSS returns the memory mapped by the Go runtime (the resident set
// size is not read on this system).
func CurrentRSS() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// PeakRSS returns CurrentRSS (no peak is recorded on this system).
func PeakRSS() uint64 { return CurrentRSS() }
