package sampler

import (
	"encoding/json"
	"math"
	"testing"
)

func TestSeqRepAndUniq(t *testing.T) {
	cases := []struct {
		seq  []int
		n    int
		want float64
	}{
		{[]int{1, 2, 1, 2, 1}, 2, 0.5},     // (1,2),(2,1),(1,2),(2,1): 2 of 4 unique
		{[]int{1, 2, 1, 2, 1}, 3, 1.0 / 3}, // (1,2,1),(2,1,2),(1,2,1)
		{[]int{1, 2, 1, 2, 1}, 1, 0.6},     // 2 distinct of 5
		{[]int{1, 2, 3, 4}, 2, 0},
		{[]int{7, 7, 7, 7}, 2, 2.0 / 3},
		{[]int{1, 2}, 3, 0},
		{nil, 2, 0},
		{[]int{1, 2}, 0, 0},
	}
	for _, c := range cases {
		if got := SeqRep(c.seq, c.n); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("SeqRep(%v, %d) = %v, want %v", c.seq, c.n, got, c.want)
		}
	}
	if got := UniqSeq([]int{1, 2, 1, 2, 1, 9}); got != 3 {
		t.Errorf("UniqSeq = %d, want 3", got)
	}
	// Large ids and negative ids must not collide in n-gram keys.
	if got := SeqRep([]int{1 << 40, 1, 1, 1 << 40}, 2); got != 0 {
		t.Errorf("SeqRep with large ids = %v", got)
	}
}

func TestRepWRep(t *testing.T) {
	seq := []int{1, 2, 1, 2, 1}
	cases := []struct {
		l    int
		want float64
	}{
		{1, 0},   // no token equals its predecessor
		{2, 0.6}, // t=2,3,4 repeat within the previous 2
		{16, 0.6},
		{0, 0},
	}
	for _, c := range cases {
		if got := Rep(seq, c.l); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("Rep(%v, %d) = %v, want %v", seq, c.l, got, c.want)
		}
	}
	if got := Rep([]int{5, 5, 5, 5}, 1); got != 0.75 {
		t.Errorf("Rep(5555, 1) = %v, want 0.75", got)
	}
	// Repeats at t=2 (agrees with ref), t=3 and t=4 (disagree): 2/5.
	if got := WRep(seq, []int{1, 2, 1, 3, 3}, 2); math.Abs(got-0.4) > 1e-15 {
		t.Errorf("WRep = %v, want 0.4", got)
	}
	// Positions past the reference count as wrong.
	if got := WRep(seq, []int{1, 2, 1}, 2); math.Abs(got-0.4) > 1e-15 {
		t.Errorf("WRep short ref = %v, want 0.4", got)
	}
	if got := WRep(seq, seq, 2); got != 0 {
		t.Errorf("WRep against itself = %v, want 0", got)
	}
	// Teacher forcing: predictions 5,1,2,2 for context 1,2,2,4 with l=2:
	// t=1: 1 in [1] (wrong, truth 2); t=2: 2 in [1 2] (right); t=3: 2 in
	// [2 2] (wrong, truth 4).
	pred, ctx := []int{5, 1, 2, 2}, []int{1, 2, 2, 4}
	if got := TeacherForcedRep(pred, ctx, 2); got != 0.75 {
		t.Errorf("TeacherForcedRep = %v, want 0.75", got)
	}
	if got := TeacherForcedWRep(pred, ctx, 2); got != 0.5 {
		t.Errorf("TeacherForcedWRep = %v, want 0.5", got)
	}
}

func TestComputeMetricsJSON(t *testing.T) {
	m := ComputeMetrics([]int{1, 2, 1, 2, 1}, nil)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"seq_rep_2": 0.5, "seq_rep_3": 1.0 / 3, "seq_rep_4": 0, "uniq_seq": 2,
		"rep_16": 0.6, "rep_32": 0.6, "rep_128": 0.6, "tokens": 5}
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-15 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	m = ComputeMetrics([]int{1, 2, 1, 2, 1}, []int{1, 2, 1, 3, 3})
	if m.WRep16 == nil || *m.WRep16 != 0.4 {
		t.Fatalf("wrep_16 = %v", m.WRep16)
	}
}

func TestDetectorFiresOnLoop(t *testing.T) {
	d, err := NewDetector(DetectorConfig{Threshold: 0.5, N: 4, Window: 20})
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for i := 0; i < 100; i++ {
		ok, v := d.Observe(i % 5)
		if ok {
			fired++
			if (i+1)%20 != 0 || math.Abs(v-(1-5.0/17)) > 1e-12 {
				t.Fatalf("fired at %d with %v", i, v)
			}
		}
	}
	if fired != 5 {
		t.Fatalf("fired %d times on a 5-token loop, want 5", fired)
	}
	d2, _ := NewDetector(DetectorConfig{Threshold: 0.1})
	for i := 0; i < 1000; i++ {
		if ok, _ := d2.Observe(i); ok {
			t.Fatalf("fired on non-repeating input at %d", i)
		}
	}
	if d2.Config().N != 4 || d2.Config().Window != 64 || d2.Config().Action != DetectReport {
		t.Fatalf("defaults not applied: %+v", d2.Config())
	}
	if _, err := NewDetector(DetectorConfig{}); err == nil {
		t.Error("disabled detector config accepted by NewDetector")
	}
}

func TestStopMatcher(t *testing.T) {
	pieces := map[int]string{0: "Hel", 1: "lo\n", 2: "\nUs", 3: "er:", 4: " x", 5: "\n", 6: "y"}
	dec := func(ids []int) ([]byte, error) {
		var b []byte
		for _, id := range ids {
			b = append(b, pieces[id]...)
		}
		return b, nil
	}
	m, err := NewStopMatcher([]string{"\n\nUser:", "STOP"}, dec)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	steps := []struct {
		id      int
		emit    string
		stopped bool
	}{
		{0, "Hel", false},
		{1, "lo", false}, // "\n" held: it may start "\n\nUser:"
		{2, "", false},   // "\n\nUs" held
		{3, "", true},    // stop string completed across three tokens
		{4, "", true},
	}
	for _, s := range steps {
		e, st, err := m.Push(s.id)
		if err != nil {
			t.Fatal(err)
		}
		if string(e) != s.emit || st != s.stopped {
			t.Fatalf("Push(%d) = %q, %v; want %q, %v", s.id, e, st, s.emit, s.stopped)
		}
		out = append(out, e...)
	}
	if string(out) != "Hello" || m.Flush() != nil {
		t.Fatalf("output %q", out)
	}
	// A held prefix that does not become a stop string is released.
	m, _ = NewStopMatcher([]string{"\n\nUser:"}, dec)
	var got []byte
	for _, id := range []int{1, 5, 6} {
		e, _, _ := m.Push(id)
		got = append(got, e...)
	}
	got = append(got, m.Flush()...)
	if string(got) != "lo\n\ny" {
		t.Fatalf("released %q", got)
	}
	if _, err := NewStopMatcher([]string{""}, dec); err == nil {
		t.Error("empty stop string accepted")
	}
	if _, err := NewStopMatcher([]string{"x"}, nil); err == nil {
		t.Error("stop strings without decoder accepted")
	}
}
