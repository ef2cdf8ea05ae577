package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMetricsBytes(t *testing.T) {
	rc, out, errs := runCLI("metrics", "--tokenizer", "bytes", "--file", writeFile(t, "ababa"))
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"seq_rep_2": 0.5, "seq_rep_3": 1.0 / 3, "seq_rep_4": 0, "uniq_seq": 2,
		"rep_16": 0.6, "rep_32": 0.6, "rep_128": 0.6, "tokens": 5}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-15 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestMetricsIDsWithReference(t *testing.T) {
	rc, out, errs := runCLI("metrics", "--ids", "--file", writeFile(t, "1 2 1,2\n1"), "--reference", writeFile(t, "1,2,1,3,3"))
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got["wrep_16"] != 0.4 || got["rep_16"] != 0.6 || got["tokens"] != 5 {
		t.Fatalf("got %v", got)
	}
}

func TestMetricsErrors(t *testing.T) {
	f := writeFile(t, "abc")
	cases := []struct {
		args []string
		rc   int
	}{
		{[]string{"metrics", "--tokenizer", "bytes"}, 2},
		{[]string{"metrics", "--file", f}, 2},
		{[]string{"metrics", "--tokenizer", "some/tokenizer.txt", "--file", f}, 1},
		{[]string{"metrics", "--tokenizer", "bytes", "--file", filepath.Join(t.TempDir(), "missing")}, 1},
		{[]string{"metrics", "--ids", "--file", f}, 1},
		{[]string{"metrics", "--ids", "--tokenizer", "bytes", "--file", f}, 2},
	}
	for _, c := range cases {
		if rc, _, _ := runCLI(c.args...); rc != c.rc {
			t.Errorf("%v: rc %d, want %d", c.args, rc, c.rc)
		}
	}
}
