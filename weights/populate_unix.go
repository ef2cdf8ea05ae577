//go:build unix && !linux

package weights

import "golang.org/x/sys/unix"

// populatePages starts reading the page-aligned mapped range b in the
// background (MADV_WILLNEED).
func populatePages(b []byte) { _ = unix.Madvise(b, unix.MADV_WILLNEED) }
