package bindings

import "example/backend"

// Backend is the backend whose operations abigen generates.
type Backend struct{}

// Name is written by hand: abigen skips it.
func (b *Backend) Name() string { return "sample" }

// Free is written by hand: abigen skips it.
func (b *Backend) Free(t backend.Tensor) {}
