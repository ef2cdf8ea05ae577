// Package archtest holds tests of the repository's architecture: which
// packages may depend on which.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// productPackages are the engine, its backends and the CUDA bindings: what a
// program that runs models links.
var productPackages = []string{
	"github.com/rwkvgo/rwkvgo/engine",
	"github.com/rwkvgo/rwkvgo/engine/backend",
	"github.com/rwkvgo/rwkvgo/engine/cpu",
	"github.com/rwkvgo/rwkvgo/bindings",
	"github.com/rwkvgo/rwkvgo/weights",
	"github.com/rwkvgo/rwkvgo/tokenizer",
	"github.com/rwkvgo/rwkvgo/sampler",
}

// forbidden reports whether a product package may not depend on pkg: the
// benchmarks and what they bring (plots, pprof, NVML). The Go runtime's own
// internal/runtime/pprof/label is linked into every Go program and is not
// the pprof library.
func forbidden(pkg string) bool {
	if strings.HasPrefix(pkg, "internal/runtime/") {
		return false
	}
	return strings.HasPrefix(pkg, "github.com/rwkvgo/rwkvgo/bench") ||
		strings.HasPrefix(pkg, "gonum.org/v1/plot") ||
		strings.Contains(pkg, "pprof") ||
		strings.Contains(pkg, "nvml")
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// TestProductDependencies: the engine, its backends and the CUDA bindings
// (with and without the cuda build tag) pull in no benchmark code.
func TestProductDependencies(t *testing.T) {
	for _, tags := range []string{"", "cuda"} {
		args := append([]string{"-tags", tags, "-deps"}, productPackages...)
		for _, dep := range goList(t, args...) {
			if forbidden(dep) {
				t.Errorf("tags %q: a product package depends on %s", tags, dep)
			}
		}
	}
}

// TestOnlyBenchAndCmdImportBench: bench is imported only by itself and the
// command line (tests included).
func TestOnlyBenchAndCmdImportBench(t *testing.T) {
	lines := goList(t, "-tags", "cuda", "-f", `{{.ImportPath}}|{{join .Imports ","}}|{{join .TestImports ","}}|{{join .XTestImports ","}}`, "github.com/rwkvgo/rwkvgo/...")
	for _, line := range lines {
		parts := strings.SplitN(line, "|", 2)
		pkg, imports := parts[0], ","+strings.ReplaceAll(parts[1], "|", ",")+","
		if !strings.Contains(imports, ",github.com/rwkvgo/rwkvgo/bench,") {
			continue
		}
		if !strings.HasPrefix(pkg, "github.com/rwkvgo/rwkvgo/bench") && !strings.HasPrefix(pkg, "github.com/rwkvgo/rwkvgo/cmd/") {
			t.Errorf("%s imports package bench", pkg)
		}
	}
}

// TestNoKubernetesInBinaries: the Kubernetes and Gateway API modules are
// test dependencies of deploy/ only; no command links them.
func TestNoKubernetesInBinaries(t *testing.T) {
	for _, tags := range []string{"", "cuda", "nopurego"} {
		for _, dep := range goList(t, "-tags", tags, "-deps", "github.com/rwkvgo/rwkvgo/cmd/...") {
			if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") {
				t.Errorf("tags %q: a command depends on %s", tags, dep)
			}
		}
	}
}
