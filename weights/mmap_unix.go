//go:build unix

package weights

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func mmap(f *os.File, size int64) ([]byte, func() error, error) {
	if int64(int(size)) != size {
		return nil, nil, syscall.EFBIG
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// dropPages advises the kernel that the page-aligned mapped range b is not
// needed: a shared read-only file mapping keeps its contents (read again on
// the next access).
func dropPages(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
