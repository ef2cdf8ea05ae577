//go:build race

package server

// raceEnabled shortens the model-heavy tests under the race detector, which
// slows the pure-Go kernels many times over; the concurrency they exercise
// stays the same.
const raceEnabled = true
