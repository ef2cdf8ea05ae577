// Command abigen generates the Go code that mirrors rwkvgo's C ABI
// (csrc/include/rwkvcu.h) and its Backend interface (engine/backend), so
// that an operation is declared once on each side and everything else
// follows. It is run by `go generate` in two modes:
//
//	abigen bindings -header H [-bench-header B] -backend DIR [-iface Backend] [-dtype DType] [-optional f,g] [-out DIR]
//
// writes, in package bindings: zapi.go (the header's integer macros as Go
// constants, the status codes with Error.Unwrap, the element-type mapping
// dtypeCode, build-time checks that the enumerations operations take equal
// their C codes, and the function table capi, plus benchAPI for the
// benchmark header when it exists), zpurego.go (the purego binding tables),
// zcgo.go (the cgo bindings, build tag cuda) and zops.go (a method of the
// CUDA backend for every interface method not written by hand in the
// package).
//
//	abigen timed -backend DIR [-iface Backend] [-recv TimedBackend] [-passthrough Free] [-out FILE]
//
// writes the methods of the timing wrapper not written by hand: every
// operation is timed; methods with results and those listed in
// -passthrough forward to the wrapped backend.
//
// Naming rules (see names.go): Go method MatMulT runs C function
// rwkvcu_matmul_t (names compared without underscores, ignoring case); C
// function rwkvcu_matmul_t is the capi field matmulT; macro RWKVCU_MIX_LERP
// is the constant cMixLerp and the C code of backend.MixLerp; status
// RWKVCU_ERR_NOT_SUPPORTED is StatusNotSupported and unwraps to
// ErrNotSupported.
//
// Parameter mapping of generated operations (Go interface -> C prototype):
// Tensor -> a handle; int -> int32_t, int64_t or size_t as the prototype
// says; float32 -> float; an enumeration -> int32_t (passed unchanged, its
// values checked at build time); the element type -> int32_t through
// dtypeCode; []int32 and []float32 -> a pointer followed by a length named n
// or count; []int -> the same, converted into int32 scratch; []Tensor -> an
// array of handles, with a length parameter after it or after a later
// []Tensor of the same length; Batch -> offsets, slots, nseq; C parameters
// offsets, slots and nseq that the method does not give -> the step's batch
// (b.batch, hand-written, for headers without rwkvcu_begin_step). The
// backend provides the helpers the generated methods call: h, live, check,
// failf, ints, handles, and, when a function comes from the benchmark
// header, benchLib (nil when that library is unavailable, b.benchErr
// saying why). A method the mapping cannot express must be written by hand
// in the package; abigen then skips it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: abigen bindings|timed [flags]")
		os.Exit(2)
	}
	files, err := generate(os.Args[1:])
	if err == nil {
		for _, path := range sortedKeys(files) {
			if old, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(old, files[path]) {
				continue
			}
			if err = os.WriteFile(path, files[path], 0o644); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "abigen:", err)
		os.Exit(1)
	}
}

// generate runs one mode (args[0]) and returns the formatted files by path.
func generate(args []string) (map[string][]byte, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no mode (bindings or timed)")
	}
	switch args[0] {
	case "bindings":
		return runBindings(args[1:])
	case "timed":
		return runTimed(args[1:])
	}
	return nil, fmt.Errorf("unknown mode %q (bindings or timed)", args[0])
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runBindings(args []string) (map[string][]byte, error) {
	fs := flag.NewFlagSet("abigen bindings", flag.ContinueOnError)
	hdr := fs.String("header", "", "the C header of the library (rwkvcu.h)")
	bench := fs.String("bench-header", "", "the C header of the benchmark library, used when the file exists")
	bdir := fs.String("backend", "", "the directory of the Go package declaring the interfaces")
	ifaces := fs.String("iface", "Backend", "comma-separated interfaces whose methods the backend implements")
	dtype := fs.String("dtype", "DType", "the Go element type mapped to the header's element-type codes")
	optional := fs.String("optional", "", "comma-separated C functions the purego loader may find missing")
	recv := fs.String("recv", "Backend", "the Go type implementing the interfaces")
	out := fs.String("out", ".", "the output directory (a Go package)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *hdr == "" || *bdir == "" {
		return nil, fmt.Errorf("bindings: -header and -backend are required")
	}
	h, err := parseHeaderFile(*hdr, nil)
	if err != nil {
		return nil, err
	}
	var bh *header
	if *bench != "" {
		if _, err := os.Stat(*bench); err == nil {
			if bh, err = parseHeaderFile(*bench, h); err != nil {
				return nil, err
			}
			for _, f := range bh.funcs {
				if h.byName[f.name] != nil {
					return nil, fmt.Errorf("%s and %s both declare %s", *hdr, *bench, f.name)
				}
			}
		}
	}
	for _, name := range list(*optional) {
		f := h.byName[name]
		if f == nil && bh != nil {
			f = bh.byName[name]
		}
		if f == nil {
			return nil, fmt.Errorf("-optional: %s is not declared in the headers", name)
		}
		f.optional = true
	}
	pkg, err := loadGoPkg(*bdir)
	if err != nil {
		return nil, err
	}
	pkgName, err := packageName(*out)
	if err != nil {
		return nil, err
	}
	hw, err := handWritten(*out, *recv)
	if err != nil {
		return nil, err
	}
	files, err := genBindings(&bindingsConfig{header: h, bench: bh, pkg: pkg, ifaces: list(*ifaces), dtype: *dtype, outDir: *out,
		pkgName: pkgName, recv: *recv, handWritten: hw, source: sourceNote(*hdr, *bench, bh != nil, *bdir)})
	if err != nil {
		return nil, err
	}
	out2 := map[string][]byte{}
	for name, src := range files {
		b, err := formatGo(name, src)
		if err != nil {
			return nil, err
		}
		out2[filepath.Join(*out, name)] = b
	}
	return out2, nil
}

func runTimed(args []string) (map[string][]byte, error) {
	fs := flag.NewFlagSet("abigen timed", flag.ContinueOnError)
	bdir := fs.String("backend", "", "the directory of the Go package declaring the interface")
	iface := fs.String("iface", "Backend", "the interface the wrapper embeds")
	recv := fs.String("recv", "TimedBackend", "the wrapper type")
	pass := fs.String("passthrough", "", "comma-separated methods without results that are not timed")
	out := fs.String("out", "ztimed.go", "the output file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *bdir == "" {
		return nil, fmt.Errorf("timed: -backend is required")
	}
	pkg, err := loadGoPkg(*bdir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(*out)
	pkgName, err := packageName(dir)
	if err != nil {
		return nil, err
	}
	hw, err := handWritten(dir, *recv)
	if err != nil {
		return nil, err
	}
	pt := map[string]bool{}
	for _, n := range list(*pass) {
		pt[n] = true
	}
	src, err := genTimed(&timedConfig{pkg: pkg, iface: *iface, recv: *recv, pkgName: pkgName, passthrough: pt, handWritten: hw,
		source: "the " + *iface + " interface of " + pkg.importPath})
	if err != nil {
		return nil, err
	}
	b, err := formatGo(*out, src)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{*out: b}, nil
}

func sourceNote(hdr, bench string, haveBench bool, bdir string) string {
	s := filepath.Base(hdr)
	if haveBench {
		s += ", " + filepath.Base(bench)
	}
	if p, err := importPath(bdir); err == nil {
		s += " and " + p
	}
	return s
}

// packageName is the package clause of the Go files in dir.
func packageName(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return "", err
			}
			for _, ln := range strings.Split(string(b), "\n") {
				if f := strings.Fields(ln); len(f) >= 2 && f[0] == "package" {
					return f[1], nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s: no Go package", dir)
}

// formatGo gofmts generated source.
func formatGo(name, src string) ([]byte, error) {
	b, err := format.Source([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("%s: generated code does not parse: %v\n%s", name, err, src)
	}
	return b, nil
}
