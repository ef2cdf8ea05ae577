package weights

import (
	"os"
	"unsafe"
)

// Mapped reports whether data lies inside the memory mapping of the file f
// was opened from (Open maps files where the platform allows). Such bytes
// are shared with the page cache: using them in place costs no memory of
// the process's own.
func (f *File) Mapped(data []byte) bool {
	_, _, ok := f.span(data)
	return ok
}

// span returns the byte range [lo, hi) of data within the mapping.
func (f *File) span(data []byte) (lo, hi int, ok bool) {
	if f == nil || len(f.mapped) == 0 || len(data) == 0 {
		return 0, 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(f.mapped)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	if p < base || p-base > uintptr(len(f.mapped)) || uintptr(len(data)) > uintptr(len(f.mapped))-(p-base) {
		return 0, 0, false
	}
	lo = int(p - base)
	return lo, lo + len(data), true
}

// DropPages tells the operating system that the process no longer needs the
// mapped pages lying entirely inside data (for instance a tensor the engine
// has copied in a transformed layout): they leave the process's resident
// memory and stay in the page cache. The bytes remain readable (a later
// access reads them again from the file). It does nothing for memory that is
// not the file's mapping, and reports no error: it is only advice.
func (f *File) DropPages(data []byte) {
	lo, hi, ok := f.span(data)
	if !ok {
		return
	}
	page := os.Getpagesize()
	lo = (lo + page - 1) &^ (page - 1)
	hi &^= page - 1
	if hi > lo {
		dropPages(f.mapped[lo:hi])
	}
}

// Prefault asks the operating system to bring the mapped pages of data into
// memory now (whole pages, so a few bytes on either side come along): a
// caller that will read a tensor in place pays for reading the file where
// it chooses (loading) rather than at the first use. Where the platform
// allows it the pages are read and mapped before it returns; elsewhere the
// reading starts in the background. It does nothing for memory that is not
// the file's mapping and reports no error: it is only advice.
func (f *File) Prefault(data []byte) {
	lo, hi, ok := f.span(data)
	if !ok {
		return
	}
	page := os.Getpagesize()
	lo &^= page - 1
	hi = min((hi+page-1)&^(page-1), len(f.mapped))
	if hi > lo {
		populatePages(f.mapped[lo:hi])
	}
}

// Mapped reports whether data lies in the mapping of the model's file (see
// File.Mapped).
func (m *Model) Mapped(data []byte) bool { return m != nil && m.file.Mapped(data) }

// DropPages releases the mapped pages of a tensor the caller no longer
// reads (see File.DropPages).
func (m *Model) DropPages(t *Tensor) {
	if m != nil && t != nil {
		m.file.DropPages(t.Data)
	}
}

// Prefault brings the mapped pages of a tensor the caller will read in
// place into memory (see File.Prefault).
func (m *Model) Prefault(t *Tensor) {
	if m != nil && t != nil {
		m.file.Prefault(t.Data)
	}
}
