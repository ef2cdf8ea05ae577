// Package include holds the emulator's C++ headers: the shadow CUDA headers
// (cuda_runtime.h, cuda_fp16.h, cuda_bf16.h) and the emulator itself
// (cuemu/). cgo packages that compile CUDA source with the emulator put this
// directory first on their include path and import this package, so that
// the go tool rebuilds them when a header changes (cgo does not track
// headers outside a package's own directory).
package include

import "embed"

// Headers is the content of the header files, for tools that need to write
// them out.
//
//go:embed *.h cuemu/*.h
var Headers embed.FS
