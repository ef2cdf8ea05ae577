package telemetry

import (
	"errors"
	"testing"
	"time"
)

// fakeSource is a Source whose readings are set by the test.
type fakeSource struct {
	util  float64
	err   error
	reads int
}

func (f *fakeSource) Name() string { return "fake" }
func (f *fakeSource) Read(s *Sample) error {
	f.reads++
	s.GPU = true
	s.GPUUtilPct = f.util
	return f.err
}
func (f *fakeSource) Close() error { return nil }

func TestHostSampling(t *testing.T) {
	s := NewSampler(nil, time.Millisecond)
	if s.Device() != "host" {
		t.Errorf("device %q", s.Device())
	}
	s.Start()
	s.SetPhase("alloc")
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	time.Sleep(20 * time.Millisecond)
	s.SetPhase("done")
	samples := s.Stop()
	_ = buf[len(buf)-1]
	if len(samples) < 4 {
		t.Fatalf("%d samples", len(samples))
	}
	for i, smp := range samples {
		if smp.GPU {
			t.Errorf("sample %d has GPU fields", i)
		}
		if smp.GoHeapBytes == 0 || smp.GoTotalBytes == 0 {
			t.Errorf("sample %d: no Go memory: %+v", i, smp)
		}
		if i > 0 && smp.At < samples[i-1].At {
			t.Errorf("sample %d goes back in time", i)
		}
	}
	stats := Summarize(samples)
	if len(stats) != 3 || stats[0].Phase != "" || stats[1].Phase != "alloc" || stats[2].Phase != "done" {
		t.Fatalf("phases %+v", stats)
	}
	if stats[1].Samples < 2 || stats[1].MaxGoHeapBytes < 8<<20 {
		t.Errorf("alloc phase %+v", stats[1])
	}
	if PeakRSS() == 0 || CurrentRSS() == 0 {
		t.Errorf("RSS not read: peak %d, current %d", PeakRSS(), CurrentRSS())
	}
	// Stop is idempotent.
	if n := len(s.Stop()); n != len(samples) {
		t.Errorf("second Stop: %d samples, first %d", n, len(samples))
	}
}

func TestPhaseTaggingAndSourceErrors(t *testing.T) {
	src := &fakeSource{util: 50}
	s := NewSampler(src, time.Hour) // only explicit samples
	s.Start()
	s.SetPhase("prefill")
	src.util = 100
	s.SetPhase("decode")
	s.Sample()
	src.err = errors.New("boom")
	s.Sample()
	samples := s.Stop()
	want := []struct {
		phase string
		util  float64
	}{{"", 50}, {"prefill", 50}, {"decode", 100}, {"decode", 100}, {"decode", 100}, {"decode", 100}}
	if len(samples) != len(want) {
		t.Fatalf("%d samples: %+v", len(samples), samples)
	}
	for i, w := range want {
		if samples[i].Phase != w.phase || samples[i].GPUUtilPct != w.util {
			t.Errorf("sample %d: phase %q util %v, want %q %v", i, samples[i].Phase, samples[i].GPUUtilPct, w.phase, w.util)
		}
	}
	if n, err := s.Errors(); n != 2 || err == nil {
		t.Errorf("errors %d %v", n, err)
	}
	st := Summarize(samples)
	if len(st) != 3 || st[2].MeanGPUUtilPct != 100 || !st[2].GPU || st[1].MeanGPUUtilPct != 50 {
		t.Errorf("stats %+v", st)
	}
}

func TestStopWithoutStart(t *testing.T) {
	s := NewSampler(nil, 0)
	if s.Interval() != 100*time.Millisecond {
		t.Errorf("default interval %v", s.Interval())
	}
	if got := s.Stop(); len(got) != 1 {
		t.Errorf("%d samples", len(got))
	}
}

func TestPeaks(t *testing.T) {
	// H100 SXM5: 2619 MHz HBM3 on a 5120-bit bus, 16896 cores at 1980 MHz.
	g := GPUInfo{MaxMemClockMHz: 2619, MemBusWidthBits: 5120, Cores: 16896, MaxSMClockMHz: 1980}
	if bw := g.PeakBytesPerSec(); bw < 3.3e12 || bw > 3.4e12 {
		t.Errorf("bandwidth %g", bw)
	}
	if f := g.PeakFLOPsF32(); f < 66e12 || f > 67e12 {
		t.Errorf("FLOP/s %g", f)
	}
	if (GPUInfo{}).PeakBytesPerSec() != 0 {
		t.Error("unknown peak not 0")
	}
}
