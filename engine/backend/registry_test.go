package backend_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	_ "github.com/rwkvgo/rwkvgo/engine/cpu" // registers "cpu" (alias "ref")
)

func TestRegistryOpen(t *testing.T) {
	for _, name := range []string{"cpu", "ref"} {
		be, err := backend.Open(name, 1)
		require.NoError(t, err, name)
		assert.Equal(t, "cpu", be.Name())
		require.NoError(t, be.Close())
	}
	assert.Contains(t, backend.Names(), "cpu")
	assert.NotContains(t, backend.Names(), "ref", "aliases are not listed")

	_, err := backend.Open("cuda", 0)
	assert.True(t, errors.Is(err, backend.ErrNotBuilt), "cuda without bindings: %v", err)
	assert.ErrorContains(t, err, "cuda backend not built")

	_, err = backend.Open("tpu", 0)
	require.Error(t, err)
	assert.False(t, errors.Is(err, backend.ErrNotBuilt), "an unknown name is not a missing build: %v", err)
	assert.ErrorContains(t, err, "cpu", "the error lists the available backends")
}

func TestRegisterReplacesAndAliases(t *testing.T) {
	opened := 0
	backend.Register("test-backend", func(threads int) (backend.Backend, error) {
		opened++
		return nil, errors.New("test backend opened")
	})
	backend.RegisterAlias("test-alias", "test-backend")
	_, err := backend.Open("test-alias", 0)
	assert.ErrorContains(t, err, "test backend opened")
	assert.Equal(t, 1, opened)
}
