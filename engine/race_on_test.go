//go:build race

package engine

// raceEnabled reports whether the race detector is on: it makes sync.Pool
// drop a share of what is put back, so pooled buffers are then reallocated.
const raceEnabled = true
