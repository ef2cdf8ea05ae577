// Package devicecheck tests the architecture logic of csrc/device_check.cu,
// the check rwkvcu_context_create makes that librwkvcu holds code for the
// device, on the CPU (compiled against the emulator's CUDA headers, where
// the runtime part is the emulated build's no-op).
package devicecheck

/*
#cgo CXXFLAGS: -std=c++20 -O2 -I${SRCDIR}/../../cuda/emu/include -I${SRCDIR}/..
#include <stdlib.h>
#include "harness.h"
*/
import "C"

import (
	"unsafe"

	// The emulator's headers: importing the package makes the go tool
	// rebuild this one when they change.
	_ "github.com/rwkvgo/rwkvgo/cuda/emu/include"
)

// RunsOn reports whether the CMake architecture list archs has code for
// compute capability cc: 1 yes, 0 no, -1 unknown.
func RunsOn(archs string, cc int) int {
	cs := C.CString(archs)
	defer C.free(unsafe.Pointer(cs))
	return int(C.dc_archs_run_on(cs, C.int(cc)))
}

// ArchSpecificBuilt reports whether archs holds sm_<cc>a code.
func ArchSpecificBuilt(archs string, cc int) bool {
	cs := C.CString(archs)
	defer C.free(unsafe.Pointer(cs))
	return C.dc_arch_specific_built(cs, C.int(cc)) != 0
}

// NoCodeMessage is the error text for a device of capability cc that archs
// has no code for.
func NoCodeMessage(archs string, cc int, name, detail string) string {
	ca, cn, cd := C.CString(archs), C.CString(name), C.CString(detail)
	defer C.free(unsafe.Pointer(ca))
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cd))
	buf := make([]byte, 1024)
	n := int(C.dc_no_code_message(ca, C.int(cc), cn, cd, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
	if n > len(buf)-1 {
		n = len(buf) - 1
	}
	return string(buf[:n])
}

// CheckDevice runs check_device_code (the emulated build's) on device.
func CheckDevice(device int) (status int, msg string) {
	buf := make([]byte, 1024)
	st := int(C.dc_check_device_code(C.int(device), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
	n := 0
	for n < len(buf) && buf[n] != 0 {
		n++
	}
	return st, string(buf[:n])
}
