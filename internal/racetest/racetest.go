// Package racetest lets long sequential tests step aside under the race
// detector. A test that starts no goroutine gives the detector nothing to
// find, while its instrumented loops run several times slower; `make test`
// runs the packages of such tests once more without -race, so that they
// still run in full.
package racetest

import "testing"

// SkipSequential skips the calling test when the binary was built with
// -race. Call it only from tests that start no goroutine and whose package
// `make test` also runs without -race.
func SkipSequential(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("sequential and CPU-bound: runs without -race (make test)")
	}
}
