//go:build cuda

package bindings

/*
#cgo CFLAGS: -I${SRCDIR}/../csrc/include
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include "rwkvcu.h"

// rwkvcu_library_path names the file librwkvcu was loaded from (NULL if unknown).
static const char *rwkvcu_library_path(void) {
	Dl_info info;
	if (dladdr((void *)rwkvcu_abi_version, &info) == 0) return NULL;
	return info.dli_fname;
}
*/
import "C"

// The file of the librwkvcu the cgo bindings link (librwkvcu_bench is
// looked for beside it).
func init() {
	cgoLibraryPath = func() string {
		if p := C.rwkvcu_library_path(); p != nil {
			return C.GoString(p)
		}
		return ""
	}
}
