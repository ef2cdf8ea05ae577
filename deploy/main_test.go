package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// rwkvgoBinary builds ./cmd/rwkvgo once, as the CPU image does: with
// CGO_ENABLED=0 and the build tags of Dockerfile.cpu's go build.
func rwkvgoBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		tags, err := cpuImageTags()
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "rwkvgo-deploy-test"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "rwkvgo")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-o", binPath, "../cmd/rwkvgo")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// checkServeFlags fails t if `rwkvgo serve` refuses a flag or a value of
// args (see serveFlagsError).
func checkServeFlags(t *testing.T, args []string) {
	t.Helper()
	if err := serveFlagsError(rwkvgoBinary(t), t.TempDir(), args); err != nil {
		t.Error(err)
	}
}

// serveFlagsError runs `rwkvgo serve` with args (the listen address replaced
// by 127.0.0.1:0 and the model by a missing file in dir) and reports an
// error unless the command got as far as failing to load the model or the
// backend: a usage error exits 2, a load failure 1.
func serveFlagsError(bin, dir string, args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("args %v do not start with serve", args)
	}
	run := make([]string, 0, len(args)+2)
	skip := false
	for i, a := range args {
		if skip {
			skip = false
			continue
		}
		name, _, hasValue := strings.Cut(a, "=")
		switch name {
		case "--addr", "--model":
			skip = !hasValue && i+1 < len(args)
			continue
		}
		run = append(run, a)
	}
	run = append(run, "--addr=127.0.0.1:0", "--model="+filepath.Join(dir, "no-such-model.pth"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, run...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("rwkvgo %v: want a failure to load the missing model, got %v\n%s", run, err, out)
	}
	// The model (or, for --backend cuda in this CPU-only binary, the
	// backend) fails to load only after every flag was accepted.
	loadFailed := strings.Contains(string(out), "no-such-model.pth") || strings.Contains(string(out), "cuda backend not built")
	if ee.ExitCode() != 1 || !loadFailed {
		return fmt.Errorf("rwkvgo %v refused its arguments (exit %d):\n%s", run, ee.ExitCode(), out)
	}
	return nil
}

// TestServeFlagsErrorCatchesTypos: the flag check fails on a misspelt flag
// and a bad value, and passes good ones.
func TestServeFlagsErrorCatchesTypos(t *testing.T) {
	bin, dir := rwkvgoBinary(t), t.TempDir()
	if err := serveFlagsError(bin, dir, []string{"serve", "--drain-delay=15s", "--max-batch", "4"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"serve", "--drain-dealy=15s"}, {"serve", "--max-batch=0"}, {"serve", "--drain-delay=soon"}} {
		if serveFlagsError(bin, dir, bad) == nil {
			t.Errorf("%v passed", bad)
		}
	}
}
