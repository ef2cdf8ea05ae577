package cpu

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/backend/backendtest"
)

func TestConformance(t *testing.T) {
	for _, threads := range []int{1, 3} {
		backendtest.Run(t, func() backend.Backend { return New(threads) })
	}
}
