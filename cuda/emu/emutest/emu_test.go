package emutest

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"sync"
	"testing"
)

// restoreSchedule puts back the schedule given by CUEMU_SCHEDULE (forward by
// default), so the whole suite can be run under another schedule.
func restoreSchedule(t *testing.T) {
	spec := os.Getenv("CUEMU_SCHEDULE")
	if spec == "" {
		spec = "forward"
	}
	if err := setSchedule(spec); err != nil {
		t.Fatalf("restoring schedule %q: %v", spec, err)
	}
}

func withSchedule(t *testing.T, spec string) {
	t.Helper()
	if err := setSchedule(spec); err != nil {
		t.Fatalf("setSchedule(%q): %v", spec, err)
	}
	t.Cleanup(func() { restoreSchedule(t) })
}

// siteLine returns the line of kernels.cu that carries the marker SITE:name.
func siteLine(t *testing.T, name string) int {
	t.Helper()
	for i, l := range strings.Split(kernelsSource, "\n") {
		if strings.Contains(l, "SITE:"+name) {
			return i + 1
		}
	}
	t.Fatalf("marker SITE:%s not found in kernels.cu", name)
	return 0
}

func TestContextSwitchSelection(t *testing.T) {
	if got := switchIsAsm(); got != wantAsmSwitch {
		t.Fatalf("assembly switch in use: %v, want %v", got, wantAsmSwitch)
	}
}

func TestIndices(t *testing.T) {
	grid, block := [3]uint32{2, 3, 2}, [3]uint32{4, 2, 3}
	out, err := indices(grid, block)
	if err != nil {
		t.Fatal(err)
	}
	nt := int(block[0] * block[1] * block[2])
	i := 0
	for bz := 0; bz < int(grid[2]); bz++ {
		for by := 0; by < int(grid[1]); by++ {
			for bx := 0; bx < int(grid[0]); bx++ {
				for tz := 0; tz < int(block[2]); tz++ {
					for ty := 0; ty < int(block[1]); ty++ {
						for tx := 0; tx < int(block[0]); tx++ {
							want := []int32{int32(tx), int32(ty), int32(tz), int32(bx), int32(by), int32(bz),
								4, 2, 3, 2, 3, 2}
							got := out[i*12 : i*12+12]
							if fmt.Sprint(got) != fmt.Sprint(want) {
								t.Fatalf("record %d (of %d per block): got %v want %v", i, nt, got, want)
							}
							i++
						}
					}
				}
			}
		}
	}
}

func softmaxRef(x []float32, rows, n int) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		for i, v := range row {
			y[r*n+i] = math.Exp(float64(v)-m) / s
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	rows, n := 16, 777
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, rows*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	want := softmaxRef(x, rows, n)
	for _, threads := range []int{32, 64, 256, 1024} {
		y := make([]float32, len(x))
		if err := softmax(x, y, rows, n, threads); err != nil {
			t.Fatalf("threads=%d: %v", threads, err)
		}
		for i := range y {
			if d := math.Abs(float64(y[i]) - want[i]); d > 1e-6+1e-5*want[i] {
				t.Fatalf("threads=%d: y[%d] = %g, want %g", threads, i, y[i], want[i])
			}
		}
	}
}

func matmulRef(a, b []float32, m, n, k int) []float32 {
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[p*n+j]
			}
			c[i*n+j] = s
		}
	}
	return c
}

func TestTiledMatmul(t *testing.T) {
	m, n, k := 33, 47, 65
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	for i := range b {
		b[i] = float32(i%5) - 2
	}
	c := make([]float32, m*n)
	if err := matmul(a, b, c, m, n, k, true); err != nil {
		t.Fatal(err)
	}
	want := matmulRef(a, b, m, n, k) // small integers: exact in any order
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("c[%d] = %g, want %g", i, c[i], want[i])
		}
	}
}

func TestWKV4(t *testing.T) {
	B, T, C := 2, 300, 96
	rng := rand.New(rand.NewSource(2))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.Float64()*6 - 3)
		}
		return s
	}
	w, u, k, v := rnd(C), rnd(C), rnd(B*T*C), rnd(B*T*C)
	y := make([]float32, B*T*C)
	if err := wkv4(B, T, C, w, u, k, v, y); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			num, den, ww := 0.0, 0.0, -math.Exp(float64(w[c]))
			for tt := 0; tt < T; tt++ {
				i := (b*T+tt)*C + c
				e := math.Exp(float64(u[c]) + float64(k[i]))
				want := (num + e*float64(v[i])) / (den + e)
				if d := math.Abs(want - float64(y[i])); d > 1e-4*math.Max(1, math.Abs(want)) {
					t.Fatalf("y[b=%d,t=%d,c=%d] = %g, want %g", b, tt, c, y[i], want)
				}
				num = math.Exp(ww)*num + math.Exp(float64(k[i]))*float64(v[i])
				den = math.Exp(ww)*den + math.Exp(float64(k[i]))
			}
		}
	}
}

// TestInvalidSynchronization checks that every kind of invalid barrier or
// warp collective fails the launch with an error status and a message naming
// the offending call site, and that the next launch runs normally.
func TestInvalidSynchronization(t *testing.T) {
	cases := []struct {
		which int
		code  int
		text  string
		sites []string
	}{
		{0, 719, "divergent barrier", []string{"bad-sites-a", "bad-sites-b"}},
		{1, 719, "threads have exited", []string{"bad-exited"}},
		{2, 719, "divergent warp", []string{"bad-warp-a", "bad-warp-b"}},
		{3, 719, "is not in the mask 0x0000ffff", []string{"bad-mask"}},
		{4, 719, "lane 5 named in the mask has exited", []string{"bad-warp-exited"}},
		{5, 715, "__trap() called", nil},
		{6, 719, "width 12 is not a power of two", nil},
		{7, 719, "needs a full warp", nil},
		{8, 9, "invalid block dimensions", nil},
		{9, 9, "invalid grid dimensions", nil},
	}
	for _, tc := range cases {
		err := badKernel(tc.which)
		e, ok := err.(*cudaError)
		if !ok {
			t.Fatalf("case %d: got %v, want CUDA error %d", tc.which, err, tc.code)
		}
		if e.code != tc.code || !strings.Contains(e.detail, tc.text) {
			t.Errorf("case %d: got %v, want code %d and %q", tc.which, err, tc.code, tc.text)
		}
		for _, s := range tc.sites {
			if want := fmt.Sprintf("kernels.cu:%d", siteLine(t, s)); !strings.Contains(e.detail, want) {
				t.Errorf("case %d: %q does not name %s (%s)", tc.which, e.detail, want, s)
			}
		}
		x := []float32{1, 2, 3, 4}
		y := make([]float32, 4)
		if err := softmax(x, y, 1, 4, 32); err != nil || math.Abs(float64(y[3])-0.6439142598879722) > 1e-6 {
			t.Fatalf("case %d: launch after the failure: %v, y=%v", tc.which, err, y)
		}
	}
}

func shuffleRef(width int, mask uint32, delta int) []int32 {
	w := uint32(width)
	val := func(src uint32) int32 {
		if mask>>src&1 == 0 {
			return -1 // source lane not taking part: all-ones bits
		}
		return int32(100 + src)
	}
	out := make([]int32, 32*6)
	for lane := uint32(0); lane < 32; lane++ {
		o := out[lane*6 : lane*6+6]
		if mask>>lane&1 == 0 {
			for j := range o {
				o[j] = -2
			}
			continue
		}
		base := lane &^ (w - 1)
		o[0] = val(base + (lane+uint32(delta))&(w-1))
		src := lane
		if lane&(w-1) >= uint32(delta) {
			src = lane - uint32(delta)
		}
		o[1] = val(src)
		src = lane
		if lane&(w-1)+uint32(delta) < w {
			src = lane + uint32(delta)
		}
		o[2] = val(src)
		src = lane ^ uint32(delta)
		if src > 31 || src/w > lane/w {
			src = lane
		}
		o[3] = val(src)
		o[4] = val(base)
		o[5] = val(base + ((lane+1)&31)&(w-1))
	}
	return out
}

func TestShuffles(t *testing.T) {
	for _, width := range []int{32, 16, 8, 4, 2, 1} {
		for _, mask := range []uint32{0xffffffff, 0x0000ffff, 0x55555555, 0xf0f0f0f0} {
			for _, delta := range []int{0, 1, 3, 5, 16, 31} {
				got, err := shuffles(width, mask, delta)
				if err != nil {
					t.Fatalf("width %d mask %08x delta %d: %v", width, mask, delta, err)
				}
				want := shuffleRef(width, mask, delta)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("width %d mask %08x delta %d: lane %d op %d: got %d want %d",
							width, mask, delta, i/6, i%6, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestVotesMatchesReductions(t *testing.T) {
	got, err := votes()
	if err != nil {
		t.Fatal(err)
	}
	for tid := 0; tid < 48; tid++ {
		warp, lane := tid/32, uint32(tid%32)
		n := 32
		if warp == 1 {
			n = 16
		}
		members := uint32(1<<n - 1)
		var ballot uint32
		var sum uint32
		for l := 0; l < n; l++ {
			if (warp*32+l)%3 == 0 {
				ballot |= 1 << l
			}
			sum += uint32(l)
		}
		any := uint32(0)
		if warp == 1 {
			any = 1
		}
		want := []uint32{ballot, any, 1, 0, members, 0xf << (4 * (lane / 4)) & members, members, 1, sum,
			uint32(int32(n-1) - 20)}
		o := got[tid*10 : tid*10+10]
		for j := range want {
			if o[j] != want[j] {
				t.Fatalf("thread %d value %d: got %#x want %#x", tid, j, o[j], want[j])
			}
		}
	}
}

func TestSyncthreadsCountAndOr(t *testing.T) {
	got, err := syncCount(100)
	if err != nil {
		t.Fatal(err)
	}
	for tid := 0; tid < 100; tid++ {
		if o := got[tid*4 : tid*4+4]; o[0] != 20 || o[1] != 1 || o[2] != 1 || o[3] != 0 {
			t.Fatalf("thread %d: count/and/or/or0 = %v, want [20 1 1 0]", tid, o)
		}
	}
}

func TestAtomics(t *testing.T) {
	blocks, threads := 8, 64
	n := blocks * threads
	o, err := atomics(blocks, threads)
	if err != nil {
		t.Fatal(err)
	}
	maxI, minI := math.MinInt32, math.MaxInt32
	for g := 0; g < n; g++ {
		v := (g*7919)%1000 - 500
		maxI, minI = max(maxI, v), min(minI, v)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"atomicAdd int", int(o.add_i), n},
		{"atomicAdd unsigned", uint32(o.add_u), uint32(2 * n)},
		{"atomicAdd float", float32(o.add_f), float32(n) / 2},
		{"atomicAdd double", float64(o.add_d), float64(n) / 4},
		{"atomicAdd ull", uint64(o.add_ull), uint64(n) << 33},
		{"atomicMax int", int(o.max_i), maxI},
		{"atomicMin int", int(o.min_i), minI},
		{"atomicCAS winners", int(o.cas_winners), 1},
		{"atomicExch", int(o.exch), 42},
		{"atomicInc", uint32(o.inc), uint32(n % 10)},
		{"atomicDec", uint32(o.dec), uint32((10 - n%10) % 10)},
		{"atomicSub", int(o.sub_i), -3 * n},
		{"atomicOr", uint32(o.or_u), uint32(0xffffffff)},
		{"atomicAnd", uint32(o.and_u), uint32(0xffff0000)},
		{"atomicXor", uint32(o.xor_u), uint32(n % 2)},
		{"atomicMax long long", int64(o.max_ll), int64(n-1) << 35},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v want %v", c.name, c.got, c.want)
		}
	}
}

func TestDynamicSharedMemory(t *testing.T) {
	blocks, threads := 3, 128
	got, err := dynamicShared(blocks, threads, threads*4, false)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < blocks; b++ {
		for i := 0; i < threads; i++ {
			before, after := got[(b*threads+i)*2], got[(b*threads+i)*2+1]
			if before != 0xffffffff {
				t.Fatalf("block %d thread %d: unwritten dynamic shared memory reads %#x, want the 0xFF poison", b, i, before)
			}
			if want := uint32(threads - 1 - i + 1000*b); after != want {
				t.Fatalf("block %d thread %d: got %d want %d", b, i, after, want)
			}
		}
	}
	// more than 48 KiB needs cudaFuncSetAttribute
	if _, err := dynamicShared(1, 32, 64<<10, false); errCode(err) != 9 {
		t.Fatalf("64 KiB without the attribute: got %v, want cudaErrorInvalidConfiguration", err)
	}
	if _, err := dynamicShared(1, 32, 64<<10, true); err != nil {
		t.Fatalf("64 KiB with the attribute: %v", err)
	}
}

// TestStaticSharedPerBlock checks that all threads of a block share one copy
// of each __shared__ variable, also when launches run concurrently on
// several OS threads.
func TestStaticSharedPerBlock(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for gr := 0; gr < 4; gr++ {
		wg.Add(1)
		go func(salt int) {
			defer wg.Done()
			for it := 0; it < 20; it++ {
				blocks, threads := 5, 64
				out, err := staticShared(blocks, threads, salt)
				if err != nil {
					errs <- err
					return
				}
				for b := 0; b < blocks; b++ {
					for i := 0; i < threads; i++ {
						if want := int32(b*1000 + salt); out[b*threads+i] != want {
							errs <- fmt.Errorf("salt %d block %d thread %d: got %d want %d", salt, b, i, out[b*threads+i], want)
							return
						}
					}
				}
			}
		}(gr + 3)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestScheduleExposesRaces shows the point of the schedule modes: a kernel
// that lacks a barrier gives different results in forward and reverse
// order, while a correct kernel gives identical results in every order.
func TestScheduleExposesRaces(t *testing.T) {
	blocks, threads := 2, 256
	x := make([]float32, blocks*threads)
	for i := range x {
		x[i] = float32(i)
	}
	want := make([]float32, len(x))
	for b := 0; b < blocks; b++ {
		for i := 0; i < threads; i++ {
			want[b*threads+i] = x[b*threads+(i+1)%threads]
		}
	}
	run := func(spec string, sync bool) []float32 {
		withSchedule(t, spec)
		y, err := neighbour(x, blocks, threads, sync)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		return y
	}
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return true
	}
	for _, spec := range []string{"forward", "reverse", "random:1", "random:99"} {
		if y := run(spec, true); !same(y, want) {
			t.Errorf("correct kernel under %s: wrong result", spec)
		}
	}
	fwd, rev := run("forward", false), run("reverse", false)
	if same(fwd, rev) {
		t.Errorf("racy kernel: forward and reverse schedules agree; the race is not exposed")
	}
	if same(fwd, want) {
		t.Errorf("racy kernel: forward schedule hides the missing barrier")
	}

	// the tiled matmul without its second barrier
	m, n, k := 32, 32, 64
	rng := rand.New(rand.NewSource(3))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.Intn(9) - 4)
	}
	for i := range b {
		b[i] = float32(rng.Intn(9) - 4)
	}
	ref := matmulRef(a, b, m, n, k)
	results := map[string][]float32{}
	for _, spec := range []string{"forward", "reverse", "random:7"} {
		for _, second := range []bool{true, false} {
			withSchedule(t, spec)
			c := make([]float32, m*n)
			if err := matmul(a, b, c, m, n, k, second); err != nil {
				t.Fatal(err)
			}
			if second && !same(c, ref) {
				t.Errorf("correct matmul under %s: wrong result", spec)
			}
			if !second {
				results[spec] = c
			}
		}
	}
	if same(results["forward"], results["reverse"]) && same(results["forward"], ref) {
		t.Errorf("matmul without its second barrier: forward and reverse both correct; the race is not exposed")
	}
	restoreSchedule(t)
}

func TestScheduleSpecs(t *testing.T) {
	defer restoreSchedule(t)
	for _, ok := range []string{"forward", "reverse", "random", "random:42", "random:0x10"} {
		if err := setSchedule(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"backwards", "random:", "random:x", "random42"} {
		if err := setSchedule(bad); errCode(err) != 1 {
			t.Errorf("%q: got %v, want cudaErrorInvalidValue", bad, err)
		}
	}
}
