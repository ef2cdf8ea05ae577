// Package kerneltest is the harness of the CUDA kernel test suites: it
// builds a suite's host-side C++ file, which includes the kernel sources it
// tests, against the kernel-language emulator (cuda/emu) with the host C++
// compiler at test time, and opens the result with purego.
//
// A suite is an ordinary Go test package with a harness file of C++ entry
// points (named *.cu so that the go tool leaves it alone) that includes
// kernel sources by their path under cuda/ ("sample.cu"). Nothing is copied
// or linked into the package: the library is rebuilt whenever a source under
// cuda/ or the harness changes (it is cached by the hash of all of them and
// of the compiler command), so a suite can never test stale kernels.
package kerneltest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"
)

// Lib is a built and loaded harness library.
type Lib struct {
	handle uintptr
	// Path is the shared library's file.
	Path string
}

var (
	mu    sync.Mutex
	built = map[string]*Lib{}
)

// Root returns the repository's root directory (the directory of go.mod
// above the working directory).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kerneltest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// compiler returns the host C++ compiler: $CXX or c++.
func compiler() string {
	if c := os.Getenv("CXX"); c != "" {
		return c
	}
	return "c++"
}

// Build compiles harness (a path relative to the test package's directory)
// into a shared library with the emulator's headers first on the include
// path, then cuda/ and the repository's root, and loads it; extra are more compiler flags. The
// library is built once per process and cached across runs by the hash of
// the compiler command, the harness and every file under cuda/. Build
// fails the test if the compiler or the loader fails.
func Build(t testing.TB, harness string, extra ...string) *Lib {
	t.Helper()
	lib, err := Load(harness, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// Load is Build returning the error.
func Load(harness string, extra ...string) (*Lib, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	src, err := filepath.Abs(harness)
	if err != nil {
		return nil, err
	}
	cuda := filepath.Join(root, "cuda")
	args := []string{"-std=c++20", "-O2", "-fPIC", "-shared", "-x", "c++",
		"-I" + filepath.Join(cuda, "emu", "include"), "-I" + cuda, "-I" + root}
	args = append(args, archFlags()...)
	args = append(args, extraFlags...)
	args = append(args, extra...)
	key, err := hashInputs(compiler(), args, src, cuda)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if l := built[key]; l != nil {
		return l, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "rwkvgo-kerneltest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))+"-"+key[:16]+".so")
	if _, err := os.Stat(out); err != nil {
		tmp, err := os.CreateTemp(dir, "build-*.so")
		if err != nil {
			return nil, err
		}
		tmp.Close()
		cmd := exec.Command(compiler(), append(args, "-o", tmp.Name(), src, "-lpthread")...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("kerneltest: %s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
		}
		if err := os.Rename(tmp.Name(), out); err != nil {
			return nil, err
		}
	}
	h, err := purego.Dlopen(out, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("kerneltest: loading %s: %w", out, err)
	}
	l := &Lib{handle: h, Path: out}
	built[key] = l
	return l, nil
}

// hashInputs hashes the compiler command, the harness and every file under
// the cuda directory (kernels, headers, the emulator).
func hashInputs(cxx string, args []string, harness, cuda string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", cxx, strings.Join(args, "\x00"))
	if v, err := exec.Command(cxx, "--version").Output(); err == nil {
		h.Write(v)
	}
	files := []string{harness}
	err := filepath.WalkDir(cuda, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			switch filepath.Ext(p) {
			case ".cu", ".cuh", ".h", ".hpp", ".cc", ".inc":
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files[1:])
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Bind sets the function pointer fn (a pointer to a func variable) to the
// harness function name, as purego.RegisterLibFunc does.
func (l *Lib) Bind(fn any, name string) error {
	sym, err := purego.Dlsym(l.handle, name)
	if err != nil {
		return fmt.Errorf("kerneltest: %s lacks %s: %w", l.Path, name, err)
	}
	purego.RegisterFunc(fn, sym)
	return nil
}

// Func names a harness function and the func variable it binds to.
type Func struct {
	Ptr  any // a pointer to a func variable
	Name string
}

// LoadFuncs is Load followed by Bind for every fn: how a suite gets its
// harness in one call.
func LoadFuncs(harness string, fns ...Func) error {
	lib, err := Load(harness)
	if err != nil {
		return err
	}
	for _, f := range fns {
		if err := lib.Bind(f.Ptr, f.Name); err != nil {
			return err
		}
	}
	return nil
}

// archFlags returns the code-generation flags of the harness: a*b + c
// rounds twice as written (-ffp-contract=off), and where the CPU has FMA
// (the harness runs where it is built) fmaf compiles to one instruction
// instead of a libm call (-mfma), the same correctly rounded result.
func archFlags() []string {
	flags := []string{"-ffp-contract=off"}
	if cpu.X86.HasFMA {
		flags = append(flags, "-mfma")
	}
	return flags
}
