//go:build !amd64 || purego

package vec

// hasAsm is false: only the portable kernels exist on this platform.
const hasAsm = false

var (
	kernF32  kernels[float32]
	kernF16  kernels[uint16]
	kernBF16 kernels[uint16]
)
