// Package testdata locates the shared real-model test data (../shared/testdata
// beside the repository root, or $RWKVGO_TESTDATA) for tests. When the data is
// absent a test is skipped with a clear message, unless RWKVGO_REQUIRE_TESTDATA=1,
// in which case it fails.
package testdata

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
)

// Root returns the shared testdata directory, or "" when it cannot be found.
func Root() string {
	once.Do(func() {
		if d := os.Getenv("RWKVGO_TESTDATA"); d != "" {
			dir = d
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			return
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				cand := filepath.Join(d, "..", "shared", "testdata")
				if st, err := os.Stat(cand); err == nil && st.IsDir() {
					dir = cand
				}
				return
			}
			if filepath.Dir(d) == d {
				return
			}
		}
	})
	return dir
}

// Required reports whether RWKVGO_REQUIRE_TESTDATA=1 is set.
func Required() bool { return os.Getenv("RWKVGO_REQUIRE_TESTDATA") == "1" }

// Path returns the path of rel (slash-separated) inside the shared testdata
// directory. If the directory or the file is missing the test is skipped, or
// fails when RWKVGO_REQUIRE_TESTDATA=1.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		missing(tb, "shared testdata directory not found (expected ../shared/testdata beside the repository, or set RWKVGO_TESTDATA)")
		return ""
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(tb, "shared test file missing: "+p)
		return ""
	}
	return p
}

// Glob returns the testdata files matching pattern (relative, slash-separated).
// No match is treated like a missing file.
func Glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	root := Root()
	if root == "" {
		missing(tb, "shared testdata directory not found (expected ../shared/testdata beside the repository, or set RWKVGO_TESTDATA)")
		return nil
	}
	m, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
	if err != nil || len(m) == 0 {
		missing(tb, "no shared test files match "+pattern)
		return nil
	}
	return m
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if Required() {
		tb.Fatal(msg + " (RWKVGO_REQUIRE_TESTDATA=1)")
	}
	tb.Skip(msg)
}
