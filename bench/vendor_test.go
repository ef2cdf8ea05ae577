package bench

import (
	"errors"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
)

// vendorBackend is the reference backend with a VendorMatMul that runs
// MatMul, reports itself unavailable, or fails like a broken device.
type vendorBackend struct {
	backend.Backend
	mode  string // "ok", "unavailable" or "broken"
	calls int
	err   error
}

func (b *vendorBackend) VendorMatMul(out, x, w backend.Tensor) error {
	b.calls++
	switch b.mode {
	case "unavailable":
		return errors.New("no vendor library here")
	case "broken":
		b.err = errors.New("device lost")
		return b.err
	}
	b.Backend.MatMul(out, x, w)
	return nil
}

func (b *vendorBackend) Err() error {
	if err := b.err; err != nil {
		b.err = nil
		return err
	}
	return b.Backend.Err()
}

func TestKernelsVendorBaseline(t *testing.T) {
	p, _ := LookupPreset("v7-tiny")
	dev := Device{Backend: "cpu", Name: "test"}
	cfg := KernelConfig{Shapes: []Preset{p}, Repeats: 2, Warmup: 1, Ops: []string{"MatMul", "MatMulT", "Zip/Add"}}
	for _, mode := range []string{"ok", "unavailable", "broken"} {
		be := &vendorBackend{Backend: cpu.New(1), mode: mode}
		res, err := RunKernels(be, cfg, dev, nil)
		be.Close()
		if mode == "broken" {
			if err == nil || !strings.Contains(err.Error(), "bench: vendor MatMul: device lost") {
				t.Errorf("broken: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		matmuls := 0
		for _, k := range res {
			if k.Op != "MatMul" && k.Op != "MatMulT" {
				if k.VendorRatio != 0 || k.VendorUnavailable != "" {
					t.Errorf("%s: %s has a vendor baseline", mode, k.Op)
				}
				continue
			}
			matmuls++
			switch {
			case mode == "ok" && (k.VendorRatio <= 0 || k.VendorUnavailable != ""):
				t.Errorf("ok: %+v", k)
			case mode == "unavailable" && (k.VendorRatio != 0 || k.VendorUnavailable != "no vendor library here"):
				t.Errorf("unavailable: %+v", k)
			}
		}
		if matmuls != 5 {
			t.Errorf("%s: %d MatMul results", mode, matmuls)
		}
		notes := VendorNotes(res)
		if mode == "ok" && len(notes) != 0 || mode == "unavailable" && (len(notes) != 1 || notes[0] != "vendor baseline unavailable: no vendor library here") {
			t.Errorf("%s: notes %q", mode, notes)
		}
		if mode == "unavailable" && be.calls != 5 {
			t.Errorf("unavailable: %d vendor calls, want one probe per MatMul", be.calls)
		}
	}
}
