package bench

import "example/backend"

// TimedBackend times a backend.
type TimedBackend struct{ backend.Backend }

// BeginStep is written by hand: abigen skips it.
func (t *TimedBackend) BeginStep(b backend.Batch) { t.Backend.BeginStep(b) }
