package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestBenchLedgerErrors: the pure-Go backend has no counters, which the
// command says; bad flags are usage errors.
func TestBenchLedgerErrors(t *testing.T) {
	rc, _, errs := runCLI("bench", "ledger", "--backend", "cpu", "--synthetic", "v7-tiny")
	if rc != 2 || !strings.Contains(errs, "no runtime counters") {
		t.Errorf("--backend cpu: rc %d, stderr %q", rc, errs)
	}
	for _, args := range [][]string{
		{"bench", "ledger"},
		{"bench", "ledger", "--synthetic", "v7-tiny", "--model", "x.st"},
		{"bench", "ledger", "--synthetic", "v9-huge"},
		{"bench", "ledger", "--synthetic", "v7-tiny", "--batch", "0"},
		{"bench", "ledger", "--synthetic", "v7-tiny", "--steps", "0"},
		{"bench", "ledger", "--synthetic", "v7-tiny", "--warmup", "-1"},
	} {
		if rc, _, errs := runCLI(args...); rc != 2 {
			t.Errorf("%v: rc %d, want 2 (%s)", args, rc, errs)
		}
	}
}

// TestBenchLedgerCUDA runs `bench ledger --json` on the CUDA backend when
// this binary has it (cgo with -tags cuda, or the library named by
// $RWKVGO_CUDA_LIB) and checks every field for every batch size: the steps
// are those of the device-resident decode loop, one graph replay each, at
// most one host synchronization and 16 bytes to the host per sequence, no
// allocation.
func TestBenchLedgerCUDA(t *testing.T) {
	be, err := backend.Open("cuda", 0)
	if err != nil {
		if errors.Is(err, backend.ErrNotBuilt) || os.Getenv("RWKVGO_CUDA_LIB") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	be.Close()
	rc, out, errs := runCLI("bench", "ledger", "--backend", "cuda", "--synthetic", "v7-tiny", "--batch", "1,3", "--steps", "2", "--json")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var l struct {
		Kind string           `json:"kind"`
		Raw  []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(l.Raw) != 2 || !strings.Contains(l.Kind, "not a measurement") {
		t.Fatalf("ledger %s", out)
	}
	for _, r := range l.Raw {
		for _, k := range []string{"launches", "launches_per_layer", "graph_launches", "host_syncs", "h2d_bytes", "d2h_bytes", "allocations", "weight_bytes_per_step"} {
			if _, ok := r[k].(float64); !ok {
				t.Errorf("batch %v: %q missing", r["batch"], k)
			}
		}
		batch := r["batch"].(float64)
		if r["device_loop"] != true || r["launches"].(float64) != 0 || r["graph_launches"].(float64) != 1 || r["host_syncs"].(float64) > 1 ||
			r["d2h_bytes"].(float64) > 16*batch || r["allocations"].(float64) != 0 || r["steady"] != true {
			t.Errorf("batch %v: %v", r["batch"], r)
		}
	}
}

// TestBenchLedgerEngineCUDA runs `bench ledger --engine --json` on the CUDA
// backend when one is available: an engine's steady decode steps on the
// device loop cost one graph launch, no other launch, no host
// synchronization, at most 16 bytes per sequence to the host and no
// allocation.
func TestBenchLedgerEngineCUDA(t *testing.T) {
	be, err := backend.Open("cuda", 0)
	if err != nil {
		if errors.Is(err, backend.ErrNotBuilt) || os.Getenv("RWKVGO_CUDA_LIB") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	be.Close()
	rc, out, errs := runCLI("bench", "ledger", "--backend", "cuda", "--synthetic", "v7-tiny", "--batch", "1,3", "--steps", "2", "--engine", "--json")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var l struct {
		Raw []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(l.Raw) != 2 {
		t.Fatalf("ledger %s", out)
	}
	for _, r := range l.Raw {
		batch := r["batch"].(float64)
		if r["engine"] != true || r["device_loop"] != true || r["launches"].(float64) != 0 || r["graph_launches"].(float64) != 1 ||
			r["host_syncs"].(float64) != 0 || r["d2h_bytes"].(float64) > 16*batch || r["h2d_bytes"].(float64) != 0 ||
			r["allocations"].(float64) != 0 || r["steady"] != true {
			t.Errorf("batch %v: %v", r["batch"], r)
		}
	}
}
