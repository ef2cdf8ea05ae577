//go:build linux

package cpu

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// mapTruncated writes n bytes to a file, maps it shared and read-only, and
// truncates the file to keep bytes: reading the mapping past the page that
// holds the new end of file raises SIGBUS.
func mapTruncated(t *testing.T, n, keep int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w")
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + 1) // finite F16 values
		if i%2 == 1 {
			data[i] &= 0x3b
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	m, err := syscall.Mmap(int(fh.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	if err := os.Truncate(path, int64(keep)); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBorrowedFault: an operation reading a borrowed weight whose file was
// truncated under its mapping records an error wrapping
// backend.ErrWeightsUnreadable instead of crashing the process, whether the
// fault happens on the calling goroutine (a small product, the embedding)
// or on the pool's workers (a large product), inside the SIMD kernels or not;
// after Err the backend works again with readable weights.
func TestBorrowedFault(t *testing.T) {
	const cols = 256
	page := os.Getpagesize()
	b := New(4)
	defer b.Close()
	for _, c := range []struct {
		name   string
		rows   int // F16 [rows, 256]: 512 bytes a row
		tokens int
		run    func(w, x, out backend.Tensor, n int)
	}{
		{"MatMul inline", 128, 1, func(w, x, out backend.Tensor, n int) { b.MatMul(out, x, w) }},
		{"MatMul pool", 1024, 16, func(w, x, out backend.Tensor, n int) { b.MatMul(out, x, w) }},
		{"MatMulT one token", 1024, 1, nil},
		{"MatMulT pool", 1024, 16, nil},
		{"Embed", 1024, 4, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows := c.rows
			m := mapTruncated(t, rows*cols*2, page)
			w, ok := b.Borrow(backend.F16, rows, cols, m)
			if !ok {
				t.Fatalf("Borrow refused the mapping: %v", b.Err())
			}
			x := b.New(c.tokens, cols)
			ones := make([]float32, max(c.tokens, 2)*cols)
			for i := range ones {
				ones[i] = 1
			}
			b.Write(x, 0, ones[:c.tokens*cols])
			switch {
			case c.run != nil:
				c.run(w, x, b.New(c.tokens, rows), c.tokens)
			case c.name == "Embed":
				b.Embed(b.New(c.tokens, cols), w, []int32{0, int32(rows - 1), int32(rows / 2), 3})
			default: // MatMulT: w is [rows, cols], x [tokens, rows]
				xt := b.New(c.tokens, rows)
				in := make([]float32, c.tokens*rows)
				for i := range in {
					in[i] = 1
				}
				b.Write(xt, 0, in)
				b.MatMulT(b.New(c.tokens, cols), xt, w)
			}
			err := b.Err()
			if !errors.Is(err, backend.ErrWeightsUnreadable) {
				t.Fatalf("Err() = %v, want an error wrapping ErrWeightsUnreadable", err)
			}
			if err := b.Err(); err != nil {
				t.Fatalf("Err() did not clear: %v", err)
			}
			// The backend still works with weights that are readable.
			good := b.UploadF32(2, cols, ones[:2*cols])
			out := b.New(c.tokens, 2)
			b.MatMul(out, x, good)
			got := make([]float32, 2)
			b.Read(out, 0, got)
			if err := b.Err(); err != nil || got[0] != cols || got[1] != cols {
				t.Fatalf("after the fault: MatMul = %v, %v; want [%d %d]", got, err, cols, cols)
			}
		})
	}
}
