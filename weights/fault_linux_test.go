//go:build linux

package weights

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDecodeMappedFault: decoding a mapping whose file was truncated after it
// was mapped fails with an error wrapping ErrUnreadable instead of crashing
// the process.
func TestDecodeMappedFault(t *testing.T) {
	f, err := Synthesize(SynthConfig{Version: V7, Layers: 1, Embd: 32, Vocab: 64, HeadSize: 16, FFN: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.st")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(fh, f.Tensors, nil); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	data, release, mapped, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if !mapped {
		t.Skip("the file was read, not mapped")
	}
	if _, err := decodeMapped(data); err != nil {
		t.Fatalf("before the truncation: %v", err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeMapped(data); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("after the truncation: err = %v, want ErrUnreadable", err)
	}
}
