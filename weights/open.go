package weights

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/rwkvgo/rwkvgo/internal/fault"
)

// ErrUnknownFormat is returned (wrapped) when a file is none of the supported containers.
var ErrUnknownFormat = errors.New("weights: unknown model file format")

// ErrUnreadable is returned (wrapped) when reading a memory-mapped file
// faulted: the file shrank or became unreadable after it was mapped. It is
// the same error as engine.ErrWeightsUnreadable.
var ErrUnreadable = fault.ErrWeightsUnreadable

// Open reads a checkpoint of any supported format, chosen by the file's content
// (never by its extension alone). Large files are memory-mapped where the
// platform allows; call Close on the result when done.
func Open(path string) (*File, error) {
	data, release, mapped, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := decodeMapped(data)
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	f.close = release
	if mapped {
		f.mapped = data
	}
	return f, nil
}

// decodeMapped is Decode for data that may be a file's mapping, whose
// reading faults if the file shrank since it was mapped: the fault is an
// error wrapping ErrUnreadable.
func decodeMapped(data []byte) (f *File, err error) {
	defer fault.Catch(&err, debug.SetPanicOnFault(true))
	return Decode(data)
}

// Sniff reports the container format of data from its first bytes.
func Sniff(data []byte) Format {
	switch {
	case len(data) >= 4 && bytes.Equal(data[:4], []byte{0x66, 0x6d, 0x67, 0x67}):
		return FormatGGML
	case len(data) >= 4 && bytes.Equal(data[:4], []byte("PK\x03\x04")):
		return FormatPTH
	case len(data) >= 9 && data[8] == '{':
		return FormatSafetensors
	}
	return FormatUnknown
}

// Decode parses an in-memory checkpoint. The returned tensors alias data.
func Decode(data []byte) (*File, error) {
	switch Sniff(data) {
	case FormatGGML:
		return ReadGGML(data)
	case FormatSafetensors:
		return ReadSafetensors(data)
	case FormatPTH:
		return ReadPTH(data)
	}
	head := data
	if len(head) > 8 {
		head = head[:8]
	}
	hint := ""
	if len(data) >= 2 && data[0] == 0x80 && data[1] <= 5 {
		hint = " (a bare pickle: legacy torch.save files are not supported, re-save with torch >= 1.6)"
	} else if strings.HasPrefix(string(data), "GGUF") {
		hint = " (GGUF is not supported; use rwkv.cpp's format, safetensors or .pth)"
	}
	return nil, fmt.Errorf("%w: first bytes % x%s", ErrUnknownFormat, head, hint)
}

// mapFile returns the file's bytes, a function releasing them and whether
// they are a memory mapping of the file.
func mapFile(path string) ([]byte, func() error, bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	if st.IsDir() {
		return nil, nil, false, fmt.Errorf("weights: %s is a directory", path)
	}
	size := st.Size()
	if size == 0 {
		return nil, nil, false, fmt.Errorf("weights: %s is empty", path)
	}
	if data, release, err := mmap(fh, size); err == nil {
		return data, release, true, nil
	}
	if err := CheckHostAlloc("reading "+filepath.Base(path)+" into memory", uint64(size)); err != nil {
		return nil, nil, false, err
	}
	data := make([]byte, size)
	if _, err := fh.ReadAt(data, 0); err != nil {
		return nil, nil, false, err
	}
	return data, func() error { return nil }, false, nil
}
