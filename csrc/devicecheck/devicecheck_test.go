package devicecheck

import (
	"fmt"
	"strings"
	"testing"
)

func TestRunsOn(t *testing.T) {
	cases := []struct {
		archs string
		yes   []int
		no    []int
	}{
		// make lib-cuda: SASS and PTX for each; PTX for compute_90 covers newer GPUs.
		{"80,86,89,90", []int{80, 86, 87, 89, 90, 100, 103, 120}, []int{75, 70, 61}},
		// make cuda13: sm_90a/sm_100a code only on 9.0/10.0; compute_80 PTX for the rest.
		{"80,90a,100a", []int{80, 86, 89, 90, 100, 103, 110, 120}, []int{75, 70}},
		// SASS only: binary compatible within a major version, no further.
		{"80-real,90a-real,100a-real", []int{80, 86, 89, 90, 100}, []int{75, 103, 110, 120, 121}},
		{"90a", []int{90}, []int{89, 100, 103, 120}},
		{"90a-virtual", []int{90}, []int{89, 100}},
		{"100f-real", []int{100, 103}, []int{90, 110, 120}},
		{"80-virtual", []int{80, 86, 90, 120}, []int{75}},
		{"86-real", []int{86, 87, 89}, []int{80, 90}},
		{" 80 ; 90 ", []int{80, 90}, []int{75}}, // CMake's own separator and stray blanks
	}
	for _, c := range cases {
		for _, cc := range c.yes {
			if got := RunsOn(c.archs, cc); got != 1 {
				t.Errorf("RunsOn(%q, %d) = %d, want 1", c.archs, cc, got)
			}
		}
		for _, cc := range c.no {
			if got := RunsOn(c.archs, cc); got != 0 {
				t.Errorf("RunsOn(%q, %d) = %d, want 0", c.archs, cc, got)
			}
		}
	}
	// Lists the check cannot judge (it then relies on loading the probe kernel).
	for _, archs := range []string{"", "all", "native", "all-major", "80,all", "80-fake", "9"} {
		if got := RunsOn(archs, 80); got != -1 {
			t.Errorf("RunsOn(%q, 80) = %d, want -1", archs, got)
		}
	}
}

func TestArchSpecificBuilt(t *testing.T) {
	cases := []struct {
		archs string
		cc    int
		want  bool
	}{
		{"80,90a,100a", 90, true},
		{"80,90a,100a", 100, true},
		{"80,90a,100a", 80, false},
		{"80,90a,100a", 103, false},
		{"80,86,89,90", 90, false},
		{"90a-virtual", 90, false},
		{"90a-real", 90, true},
		{"", 90, false},
	}
	for _, c := range cases {
		if got := ArchSpecificBuilt(c.archs, c.cc); got != c.want {
			t.Errorf("ArchSpecificBuilt(%q, %d) = %v, want %v", c.archs, c.cc, got, c.want)
		}
	}
}

func TestNoCodeMessage(t *testing.T) {
	got := NoCodeMessage("80,90a,100a", 75, "Tesla T4", "no kernel image is available for execution on the device")
	want := `librwkvcu was built for sm_80, sm_90a, sm_100a (PTX for compute_80, compute_90a, compute_100a); ` +
		`this device (Tesla T4) is sm_75: rebuild with its architecture, e.g. make lib-cuda CUDA_ARCHS="80;90a;100a;75" ` +
		`(no kernel image is available for execution on the device)`
	if got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
	got = NoCodeMessage("80-real,90a-real", 120, "", "")
	want = `librwkvcu was built for sm_80, sm_90a; this device is sm_120: rebuild with its architecture, ` +
		`e.g. make lib-cuda CUDA_ARCHS="80-real;90a-real;120"`
	if got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
	got = NoCodeMessage("90a-virtual", 100, "B200", "")
	for _, part := range []string{"built for no real architecture (PTX for compute_90a)", "(B200) is sm_100"} {
		if !strings.Contains(got, part) {
			t.Errorf("message %q lacks %q", got, part)
		}
	}
}

// The emulated build runs every kernel: the check succeeds for any device.
func TestCheckDeviceEmulated(t *testing.T) {
	for _, dev := range []int{0, 1} {
		st, msg := CheckDevice(dev)
		if st != 0 || msg != "" {
			t.Errorf("CheckDevice(%d) = %d, %q; want 0, \"\"", dev, st, msg)
		}
	}
}

func ExampleNoCodeMessage() {
	fmt.Println(NoCodeMessage("80,86,89,90", 70, "Tesla V100", ""))
	// Output: librwkvcu was built for sm_80, sm_86, sm_89, sm_90 (PTX for compute_80, compute_86, compute_89, compute_90); this device (Tesla V100) is sm_70: rebuild with its architecture, e.g. make lib-cuda CUDA_ARCHS="80;86;89;90;70"
}
