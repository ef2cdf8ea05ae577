//go:build unix && !linux

package weights

import "syscall"

// populatePages starts reading the page-aligned mapped range b in the
// background (MADV_WILLNEED).
func populatePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_WILLNEED) }
