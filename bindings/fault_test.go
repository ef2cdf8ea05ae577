package bindings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/weights"
)

// The emulator's fault kinds (cuemu::rt::FaultKind, cuda/emu/include/cuemu/runtime.h).
const (
	faultAlloc = iota
	faultCopy
	faultLaunch
	faultGraph
	faultSync
	faultOther
	faultKinds
)

var faultKindNames = [faultKinds]string{"allocation", "copy", "launch", "graph", "sync", "stream/event"}

// faultSentinel is the error an injected fault of each kind (with the
// emulator's default error for the kind) must surface as.
var faultSentinel = [faultKinds]error{ErrOutOfMemory, ErrCUDA, ErrLaunch, ErrCUDA, ErrLaunch, ErrCUDA}

// emuRuntime is the emulated runtime's fault injector and memory cap, the C
// functions every library built against the emulator exports (cuemuFault*),
// reached with purego whichever way the bindings load the library.
type emuRuntime struct {
	arm      func(kind int32, n uint64, err int32) int32
	disarm   func()
	calls    func(kind int32) uint64
	injected func() uint64
	memLimit func(bytes uint64)
	live     func(out *uint64, n int32) int32
}

// emuLive is the emulated runtime's live objects: device blocks and bytes,
// pinned blocks and bytes, streams, events, graphs, executable graphs.
type emuLive [8]uint64

func (e *emuRuntime) liveNow() emuLive {
	var v emuLive
	e.live(&v[0], int32(len(v)))
	return v
}

func (e *emuRuntime) callsNow() [faultKinds]uint64 {
	var c [faultKinds]uint64
	for k := range c {
		c[k] = e.calls(int32(k))
	}
	return c
}

// faultTarget says how to open the backend under test and where the
// emulator's runtime functions are; it skips the test when the library is
// not the emulated one.
func faultTarget(t *testing.T) (open func() (*Backend, error), rt *emuRuntime) {
	t.Helper()
	var path string
	if cgoAPI != nil {
		if !emulatedLibrary {
			t.Skip("fault injection needs the emulated library (-tags cuda,cuemu)")
		}
		open = func() (*Backend, error) { return Open(0) }
		path = cgoLibraryPath()
	} else {
		path = os.Getenv("RWKVGO_CUDA_LIB")
		if path == "" {
			t.Skip("RWKVGO_CUDA_LIB not set")
		}
		open = func() (*Backend, error) { return OpenLibrary(path, 0) }
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	rt = &emuRuntime{}
	for _, b := range []struct {
		fn   any
		name string
	}{
		{&rt.arm, "cuemuFaultArm"}, {&rt.disarm, "cuemuFaultDisarm"}, {&rt.calls, "cuemuFaultCalls"},
		{&rt.injected, "cuemuFaultsInjected"}, {&rt.memLimit, "cuemuSetMemoryLimit"}, {&rt.live, "cuemuLiveResources"},
	} {
		sym, err := purego.Dlsym(lib, b.name)
		if err != nil {
			t.Skipf("%s has no fault injector (%s): not the emulated library", path, b.name)
		}
		purego.RegisterFunc(b.fn, sym)
	}
	return open, rt
}

// faultModel writes a tiny synthetic model of version v and returns its path.
func faultModel(t *testing.T, v weights.Version) string {
	t.Helper()
	f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 1, Embd: 32, Vocab: 48, HeadSize: 16, FFN: 64, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("tiny-%s.st", v))
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteSafetensors(fh, f.Tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// faultWorld is what the fault scenario has built so far.
type faultWorld struct {
	open    func() (*Backend, error)
	path    string
	b       *Backend
	m       *engine.Model
	sess    [2]*engine.Session
	ds      *Sampler
	dl      backend.Tensor // the device copy of the two sessions' logits
	graph   *Graph
	gin     backend.Tensor
	gout    backend.Tensor
	tokens  [2]int
	extra   []*engine.Session
	decoded [][2]int
	dec     *engine.Decoder
}

// faultPhase is one operation of the scenario. touches names the sessions
// whose state it may change (a failure may leave them anywhere); atomic
// says a failure must leave the device memory exactly as before.
type faultPhase struct {
	name    string
	touches []int
	atomic  bool
	run     func(w *faultWorld) error
}

// faultPrompts are the prompts of the scenario's two sessions.
var faultPrompts = [2][]int{{3, 1, 4, 1, 5}, {9, 2, 6}}

// faultProbe is fed to a fresh session after a failure: the model must still
// give the logits of the run without faults.
var faultProbe = []int{7, 1, 8}

// faultPhases returns the scenario: open the device, load the model, two
// sessions each with a prompt, the device sampler for both, three batched
// decode steps drawn by it, a graph captured and replayed twice, three more
// sessions (the state pool grows), and a sixth session generating on the
// device-resident decode loop.
func faultPhases() []faultPhase {
	decode := func(i int) faultPhase {
		return faultPhase{name: fmt.Sprintf("decode %d", i), touches: []int{0, 1}, run: func(w *faultWorld) error {
			r := []*engine.Request{{Session: w.sess[0], Tokens: []int{w.tokens[0]}}, {Session: w.sess[1], Tokens: []int{w.tokens[1]}}}
			if err := w.m.Step(r); err != nil {
				return err
			}
			for j := range r {
				w.b.Write(w.dl, j, r[j].Logits)
			}
			if err := w.b.Err(); err != nil {
				return err
			}
			toks, _, err := w.ds.Sample(w.dl, uint64(i))
			if err != nil {
				return err
			}
			w.tokens = [2]int{toks[0], toks[1]}
			w.decoded = append(w.decoded, w.tokens)
			return nil
		}}
	}
	newSession := func(i int) faultPhase {
		return faultPhase{name: fmt.Sprintf("session %d", i), atomic: true, run: func(w *faultWorld) (err error) {
			w.sess[i], err = w.m.NewSession()
			return err
		}}
	}
	prefill := func(i int) faultPhase {
		return faultPhase{name: fmt.Sprintf("prefill %d", i), touches: []int{i}, run: func(w *faultWorld) error {
			_, err := w.sess[i].Feed(faultPrompts[i])
			return err
		}}
	}
	return []faultPhase{
		{name: "open", atomic: true, run: func(w *faultWorld) (err error) {
			w.b, err = w.open()
			if err != nil {
				w.b = nil
			}
			return err
		}},
		{name: "load", atomic: true, run: func(w *faultWorld) (err error) {
			w.m, err = engine.Load(w.path, engine.Options{Backend: w.b})
			return err
		}},
		newSession(0), prefill(0), newSession(1), prefill(1),
		{name: "sampler", run: func(w *faultWorld) (err error) {
			V := w.m.Config().Vocab
			if w.ds, err = w.b.NewSampler(2, V); err != nil {
				return err
			}
			w.dl = w.b.New(2, V)
			if err := w.b.Err(); err != nil {
				return err
			}
			cfg := sampler.DefaultConfig()
			cfg.Temperature, cfg.TopK, cfg.FrequencyPenalty, cfg.Seed = 0.8, 8, 0.3, 42
			cfg.LogitBias = map[int]float64{2: 1.5}
			for j := range 2 {
				if err := w.ds.SetRow(j, cfg, uint64(j)); err != nil {
					return err
				}
				if err := w.ds.Observe(j, faultPrompts[j]); err != nil {
					return err
				}
			}
			w.tokens = [2]int{faultPrompts[0][len(faultPrompts[0])-1], faultPrompts[1][len(faultPrompts[1])-1]}
			return nil
		}},
		decode(0), decode(1), decode(2),
		{name: "graph", run: func(w *faultWorld) error {
			w.gin, w.gout = w.b.New(2, 8), w.b.New(2, 8)
			if err := w.b.Err(); err != nil {
				return err
			}
			if err := w.b.BeginGraph(0); err != nil {
				return err
			}
			w.b.Map(w.gout, w.gin, backend.Tanh)
			w.b.Zip(w.gout, w.gout, w.gin, backend.Add)
			g, err := w.b.EndGraph()
			if err != nil {
				return err
			}
			w.graph = g
			g.Launch()
			g.Launch()
			return w.b.Sync()
		}},
		{name: "grow the state pool", run: func(w *faultWorld) error {
			// Sessions 3 to 5: the pool of 4 states grows to 8.
			for range 3 {
				s, err := w.m.NewSession()
				if err != nil {
					return err
				}
				w.extra = append(w.extra, s)
			}
			return nil
		}},
		{name: "device loop", run: func(w *faultWorld) error {
			// A sixth session generates on the device-resident decode
			// loop: admission, then three steps (the first captures the
			// step's graph).
			s, err := w.m.NewSession()
			if err != nil {
				return err
			}
			w.extra = append(w.extra, s)
			if w.dec, err = w.m.NewDecoder(2); err != nil {
				return err
			}
			cfg := sampler.DefaultConfig()
			cfg.TopK, cfg.Seed, cfg.StopTokens = 8, 5, []int{0}
			cfg.LogitBias = map[int]float64{3: 1}
			if _, err := w.dec.Add([]engine.DecodeRequest{{Session: s, Prompt: []int{2, 7}, Sampler: cfg, MaxTokens: 8}}); err != nil {
				return err
			}
			for range 3 {
				if err := w.dec.Launch(); err != nil {
					return err
				}
				if _, err := w.dec.Read(); err != nil {
					return err
				}
			}
			return nil
		}},
	}
}

// close releases everything the scenario built.
func (w *faultWorld) close() {
	if w.dec != nil {
		w.dec.Close()
	}
	for _, s := range w.extra {
		s.Close()
	}
	if w.graph != nil {
		w.graph.Close()
	}
	if w.b != nil {
		w.b.Free(w.gin)
		w.b.Free(w.gout)
		w.b.Free(w.dl)
	}
	if w.ds != nil {
		w.ds.Close()
	}
	for _, s := range w.sess {
		if s != nil {
			s.Close()
		}
	}
	if w.m != nil {
		w.m.Close()
	}
}

// faultRef is the run without faults: the backend's counters and every
// session's state after each phase, the probe's logits, the runtime calls
// of each kind the phases make.
type faultRef struct {
	stats  []backend.Stats
	states [][2][]float32
	probe  []float32
	calls  [faultKinds]uint64
}

func stateOf(t *testing.T, s *engine.Session) []float32 {
	t.Helper()
	if s == nil {
		return nil
	}
	st, err := s.State()
	if err != nil {
		t.Fatalf("reading a session's state: %v", err)
	}
	return st.Data
}

func probeLogits(w *faultWorld) ([]float32, error) {
	s, err := w.m.NewSession()
	if err != nil {
		return nil, fmt.Errorf("a new session: %w", err)
	}
	defer s.Close()
	l, err := s.Feed(faultProbe)
	if err != nil {
		return nil, fmt.Errorf("feeding a new session: %w", err)
	}
	return append([]float32(nil), l...), nil
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// faultReference runs the scenario without faults, phase by phase.
func faultReference(t *testing.T, open func() (*Backend, error), rt *emuRuntime, path string) *faultRef {
	t.Helper()
	phases := faultPhases()
	ref := &faultRef{}
	// Once to count the runtime calls of the phases alone.
	w := &faultWorld{open: open, path: path}
	c0 := rt.callsNow()
	for _, ph := range phases {
		if err := ph.run(w); err != nil {
			t.Fatalf("%s without faults: %v", ph.name, err)
		}
	}
	c1 := rt.callsNow()
	for k := range ref.calls {
		ref.calls[k] = c1[k] - c0[k]
	}
	w.close()
	w.b.Close()
	// Once more to record the counters and states after each phase.
	w = &faultWorld{open: open, path: path}
	for _, ph := range phases {
		if err := ph.run(w); err != nil {
			t.Fatalf("%s without faults: %v", ph.name, err)
		}
		ref.stats = append(ref.stats, w.b.Stats())
		ref.states = append(ref.states, [2][]float32{stateOf(t, w.sess[0]), stateOf(t, w.sess[1])})
	}
	var err error
	if ref.probe, err = probeLogits(w); err != nil {
		t.Fatal(err)
	}
	t.Logf("decoded without faults: %v", w.decoded)
	w.close()
	w.b.Close()
	return ref
}

// runFault runs the scenario with call n of kind failing and checks the
// failure, the recovery and that nothing leaks. It returns the phase that
// failed.
func runFault(t *testing.T, open func() (*Backend, error), rt *emuRuntime, path string, ref *faultRef, kind int, n uint64) string {
	t.Helper()
	what := fmt.Sprintf("%s call %d", faultKindNames[kind], n)
	live0 := rt.liveNow()
	inj0 := rt.injected()
	w := &faultWorld{open: open, path: path}
	phases := faultPhases()
	if rt.arm(int32(kind), n, 0) != 0 {
		t.Fatalf("%s: arming failed", what)
	}
	failed, ferr := -1, error(nil)
	for i, ph := range phases {
		if err := ph.run(w); err != nil {
			failed, ferr = i, err
			break
		}
	}
	rt.disarm()
	if got := rt.injected() - inj0; got != 1 {
		t.Fatalf("%s: %d faults injected, want 1 (is the scenario deterministic?)", what, got)
	}
	if failed < 0 {
		t.Errorf("%s: the injected fault surfaced as no error", what)
		w.close()
		w.b.Close()
		return "none"
	}
	ph := phases[failed]
	where := fmt.Sprintf("%s (in %s)", what, ph.name)
	if !errors.Is(ferr, faultSentinel[kind]) || !strings.Contains(ferr.Error(), "injected fault") {
		t.Errorf("%s: error %v, want one wrapping %v that carries the library's message", where, ferr, faultSentinel[kind])
	}
	if w.b != nil {
		// The failed operation keeps nothing it allocated beyond what it
		// would have kept on success (nothing at all for an atomic one).
		s, prev, next := w.b.Stats(), ref.stats[failed-1], ref.stats[failed]
		if ph.atomic && (s.LiveTensors != prev.LiveTensors || s.LiveDeviceBytes != prev.LiveDeviceBytes) {
			t.Errorf("%s: after the failure %d tensors and %d device bytes live, before the operation %d and %d",
				where, s.LiveTensors, s.LiveDeviceBytes, prev.LiveTensors, prev.LiveDeviceBytes)
		}
		if s.LiveTensors > next.LiveTensors || s.LiveDeviceBytes > next.LiveDeviceBytes {
			t.Errorf("%s: after the failure %d tensors and %d device bytes live, more than the %d and %d of a successful run",
				where, s.LiveTensors, s.LiveDeviceBytes, next.LiveTensors, next.LiveDeviceBytes)
		}
	}
	if w.m != nil {
		// The sessions the failed operation did not touch keep their
		// states, and the model computes what it computed without faults.
		for i, s := range w.sess {
			if s == nil || contains(ph.touches, i) {
				continue
			}
			if got := stateOf(t, s); !sameFloats(got, ref.states[failed-1][i]) {
				t.Errorf("%s: the state of session %d changed", where, i)
			}
		}
		// So does the device sampler, once it was set up.
		if failed > faultPhaseIndex(phases, "sampler") {
			if _, _, err := w.ds.Sample(w.dl, 99); err != nil {
				t.Errorf("%s: the device sampler is not usable after the failure: %v", where, err)
			}
		}
		if got, err := probeLogits(w); err != nil {
			t.Errorf("%s: the model is not usable after the failure: %v", where, err)
		} else if !sameFloats(got, ref.probe) {
			t.Errorf("%s: after the failure a new session's logits differ from those of the run without faults", where)
		}
	}
	w.close()
	if w.b != nil {
		s := w.b.Stats()
		dev := rt.liveNow()[1] - live0[1]
		if s.LiveTensors != 0 || s.LiveDeviceBytes != dev {
			t.Errorf("%s: after closing everything %d tensors live, the context counts %d device bytes, the runtime %d",
				where, s.LiveTensors, s.LiveDeviceBytes, dev)
		}
		w.b.Close()
	}
	if live := rt.liveNow(); live != live0 {
		t.Errorf("%s: leaked runtime objects: %v before, %v after (device blocks, bytes, pinned blocks, bytes, streams, events, graphs, executable graphs)",
			where, live0, live)
	}
	return ph.name
}

// faultPhaseIndex returns the index of the phase named name.
func faultPhaseIndex(phases []faultPhase, name string) int {
	for i, ph := range phases {
		if ph.name == name {
			return i
		}
	}
	panic("no phase " + name)
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestFaultInjection runs a scenario (open the device, load a tiny model,
// two sessions with prompts, the device sampler, three batched decode
// steps drawn by it, a graph capture and replay, growing the state pool)
// once without faults, then once for every call the runtime makes in it
// (allocations, copies, kernel launches, graph calls, synchronizations,
// stream and event calls) with that call failing, for RWKV-7 and RWKV-5.2.
// Each fault must surface as an error wrapping the sentinel of its kind with
// the library's message; the failed operation must free what it allocated;
// the model and the untouched session must stay usable and give the same
// results as without faults; and after closing everything the runtime's
// live objects (device and pinned blocks and bytes, streams, events,
// graphs) must be back where they started. With -short every seventh call
// is failed (and the first and last few).
func TestFaultInjection(t *testing.T) {
	open, rt := faultTarget(t)
	defer rt.disarm()
	for _, v := range []weights.Version{weights.V7, weights.V52} {
		t.Run(v.String(), func(t *testing.T) {
			path := faultModel(t, v)
			ref := faultReference(t, open, rt, path)
			total := 0
			for kind := range faultKinds {
				n := ref.calls[kind]
				phases := map[string]int{}
				tried := 0
				for i := uint64(1); i <= n; i++ {
					if testing.Short() && i > 3 && i+3 <= n && i%7 != 0 {
						continue
					}
					phases[runFault(t, open, rt, path, ref, kind, i)]++
					tried++
					if t.Failed() && tried > 20 {
						t.Fatalf("stopping after failures")
					}
				}
				total += tried
				t.Logf("%-12s %4d calls, %4d injected: %v", faultKindNames[kind], n, tried, phases)
			}
			t.Logf("%d injection points", total)
		})
	}
}

// TestOutOfDeviceMemory caps the emulated device's memory: a model larger
// than the cap fails to load with ErrOutOfMemory and leaks nothing; with
// room for the model and four sessions, the fifth (which grows the state
// pool) fails with ErrOutOfMemory while the four keep working and the
// model gives the results it gives without the cap.
func TestOutOfDeviceMemory(t *testing.T) {
	open, rt := faultTarget(t)
	defer rt.memLimit(0)
	path := faultModel(t, weights.V7)
	b, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// The uncapped run: a prompt in a session.
	m, err := engine.Load(path, engine.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Feed(faultProbe)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), l...)
	m.Close()

	// Loading: room for less than the model.
	live0 := rt.liveNow()
	rt.memLimit(live0[1] + 1024)
	m, err = engine.Load(path, engine.Options{Backend: b})
	if !errors.Is(err, ErrOutOfMemory) || m != nil {
		t.Fatalf("loading over the cap: model %v, error %v, want ErrOutOfMemory", m, err)
	}
	t.Logf("loading over the cap: %v", err)
	if live := rt.liveNow(); live != live0 {
		t.Errorf("a failed load leaked: %v before, %v after", live0, live)
	}
	rt.memLimit(0)

	// Admission: room for the model, four sessions and a step, not for
	// growing the pool.
	m, err = engine.Load(path, engine.Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var sess []*engine.Session
	for range 4 {
		s, err := m.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		sess = append(sess, s)
	}
	if _, err := sess[0].Feed([]int{1}); err != nil {
		t.Fatal(err)
	}
	if err := sess[0].Reset(); err != nil {
		t.Fatal(err)
	}
	used := rt.liveNow()[1]
	grown := uint64(8 * m.Config().StateSize() * 4)
	rt.memLimit(used + grown - 1)
	before := b.Stats()
	if s, err := m.NewSession(); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("a fifth session over the cap: %v, %v, want ErrOutOfMemory", s, err)
	} else {
		t.Logf("admission over the cap: %v", err)
	}
	if after := b.Stats(); after.LiveTensors != before.LiveTensors || after.LiveDeviceBytes != before.LiveDeviceBytes {
		t.Errorf("a refused session kept memory: %+v, before %+v", after, before)
	}
	for i, s := range sess {
		got, err := s.Feed(faultProbe)
		if err != nil {
			t.Fatalf("session %d after the refusal: %v", i, err)
		}
		if !sameFloats(got, want) {
			t.Errorf("session %d after the refusal: logits differ from those without the cap", i)
		}
	}
	rt.memLimit(0)
	if s, err := m.NewSession(); err != nil {
		t.Errorf("a fifth session without the cap: %v", err)
	} else {
		s.Close()
	}
	for _, s := range sess {
		s.Close()
	}
}
