//go:build race

package vec

// raceEnabled: the race detector slows the pure-Go reference computations of
// the exhaustive tests tenfold without adding anything for these
// single-goroutine checks, so they use fewer large sizes under it.
const raceEnabled = true
