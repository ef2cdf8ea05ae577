package racetest

import "testing"

// TestSkipSequential: the test is skipped exactly when built with -race.
func TestSkipSequential(t *testing.T) {
	skipped := false
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		SkipSequential(t)
	})
	if skipped != Enabled {
		t.Fatalf("skipped %v, race detector enabled %v", skipped, Enabled)
	}
}
