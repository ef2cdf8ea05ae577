package fault

import (
	"errors"
	"runtime/debug"
	"testing"
)

// addrError is what SetPanicOnFault raises: a runtime.Error with Addr.
type addrError struct{}

func (addrError) Error() string   { return "unexpected fault address" }
func (addrError) RuntimeError()   {}
func (addrError) Addr() uintptr   { return 0x1000 }
func (runtimeOnly) Error() string { return "runtime error" }
func (runtimeOnly) RuntimeError() {}

type runtimeOnly struct{}

func TestError(t *testing.T) {
	if err := Error(addrError{}); !errors.Is(err, ErrWeightsUnreadable) {
		t.Fatalf("Error(fault) = %v, want ErrWeightsUnreadable", err)
	}
	for _, r := range []any{nil, "boom", errors.New("x"), runtimeOnly{}} {
		if err := Error(r); err != nil {
			t.Fatalf("Error(%#v) = %v, want nil", r, err)
		}
	}
}

// TestCatch: Catch turns a fault into the error and restores the setting;
// other panics go on.
func TestCatch(t *testing.T) {
	run := func(v any) (err error) {
		defer Catch(&err, debug.SetPanicOnFault(true))
		panic(v)
	}
	if err := run(addrError{}); !errors.Is(err, ErrWeightsUnreadable) {
		t.Fatalf("fault: err = %v", err)
	}
	if debug.SetPanicOnFault(false) {
		t.Fatal("Catch did not restore SetPanicOnFault")
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("other panic: recovered %v, want boom", r)
		}
	}()
	run("boom")
	t.Fatal("a panic that is not a fault was swallowed")
}
