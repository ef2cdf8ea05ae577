// Package backend is a small Backend interface for abigen's tests.
package backend

import "fmt"

// DType is an element type.
type DType uint8

// Element types.
const (
	F32 DType = iota
	F16
)

// Unary is an elementwise function.
type Unary uint8

// Elementwise functions.
const (
	Square Unary = iota
	ReLUSquare
)

// Tensor is a handle.
type Tensor interface{ Rows() int }

// Batch is a step's sequences.
type Batch struct{ Offsets, Slots []int }

// Backend runs operations.
type Backend interface {
	Name() string
	Free(t Tensor)
	Map(out, x Tensor, f Unary)
	ScaleAdd(out, x Tensor, alpha float32, col int)
	GatherRows(out, x Tensor, rows []int)
	Embed(out, emb Tensor, tokens []int32)
	MixN(outs []Tensor, x Tensor, mixes []Tensor)
	BeginStep(b Batch)
	Shift(prev, x Tensor, off int)
}

// Attender is an optional capability.
type Attender interface {
	Attention(out, q Tensor, pos, heads int)
}

func (d DType) String() string { return fmt.Sprint(uint8(d)) }
