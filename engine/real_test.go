package engine_test

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/enginetest"
)

// TestReferenceOutputs: every shared model on every reference prompt, on the
// pure-Go backend (see enginetest.ReferenceOutputs for the tolerances).
func TestReferenceOutputs(t *testing.T) { enginetest.ReferenceOutputs(t, enginetest.Config{}) }

// TestUpstreamExpectedLogits: every file with upstream expected logits.
func TestUpstreamExpectedLogits(t *testing.T) {
	enginetest.UpstreamExpectedLogits(t, enginetest.Config{})
}

// TestStatePoolMoves runs the state pool's layout and round-trip checks on
// the pure-Go backend (see enginetest.StatePool).
func TestStatePoolMoves(t *testing.T) { enginetest.StatePool(t, enginetest.Config{}) }
