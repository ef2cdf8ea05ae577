//go:build !cuemu_ucontext

package kerneltest

// extraFlags are compiler flags every harness gets.
var extraFlags []string
