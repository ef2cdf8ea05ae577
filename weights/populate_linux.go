package weights

import "syscall"

// madvPopulateRead is Linux's MADV_POPULATE_READ (5.14 and later), which
// syscall does not name.
const madvPopulateRead = 22

// populatePages reads the page-aligned mapped range b into memory and maps
// it into the process now, so that the first reads of the weights neither
// wait for the disk nor fault page by page. Kernels without
// MADV_POPULATE_READ get MADV_WILLNEED, which starts reading in the
// background.
func populatePages(b []byte) {
	if err := syscall.Madvise(b, madvPopulateRead); err != nil {
		_ = syscall.Madvise(b, syscall.MADV_WILLNEED)
	}
}
