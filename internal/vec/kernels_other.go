//go:build !amd64 || purego

package vec

// hasAsm is false: only the portable kernels exist on this platform.
const hasAsm = false

var (
	kernF32  kernels[float32]
	kernF16  kernels[uint16]
	kernBF16 kernels[uint16]
	kernI8   kernels[int8]
)

// dotAsm is never called without the assembly kernels.
func dotAsm(a, b []float32) float32 { return dotGeneric(a, b) }
