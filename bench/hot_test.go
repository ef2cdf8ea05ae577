package bench

import (
	"fmt"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
)

// The benchmarks below time the hot operations of decoding at the 0.1B shape
// (width 768, 12 heads of 64, vocabulary 65536) on the pure-Go backend, for
// comparison across changes with benchstat:
//
//	go test -run NONE -bench . -count 10 ./bench > new.txt
//	benchstat old.txt new.txt

func benchKernel(b *testing.B, op string, rows int) {
	p, _ := LookupPreset("v7-0.1b")
	be := cpu.New(0)
	defer be.Close()
	ks, free, err := buildKernels(be, p, rows, KernelConfig{Context: 4096})
	if err != nil {
		b.Fatal(err)
	}
	defer free()
	var k *kernel
	for i := range ks {
		if ks[i].op+" "+ks[i].dims == op || (k == nil && ks[i].op == op) {
			k = &ks[i]
		}
	}
	if k == nil {
		b.Fatalf("no kernel %q", op)
	}
	k.run()
	b.SetBytes(int64(k.bytes))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k.run()
	}
	b.StopTimer()
	if err := be.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(k.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkMatMulAtt(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprint("rows=", n), func(b *testing.B) {
			benchKernel(b, fmt.Sprintf("MatMul att [%d,768]x[768,768]^T", n), n)
		})
	}
}

func BenchmarkMatMulFFN(b *testing.B) {
	benchKernel(b, "MatMul ffn-up [1,768]x[3072,768]^T", 1)
}

func BenchmarkMatMulHead(b *testing.B) {
	benchKernel(b, "MatMul head [1,768]x[65536,768]^T", 1)
}

func BenchmarkWKV7(b *testing.B)      { benchKernel(b, "WKV7", 1) }
func BenchmarkLayerNorm(b *testing.B) { benchKernel(b, "LayerNorm", 1) }
func BenchmarkGroupNorm(b *testing.B) { benchKernel(b, "GroupNorm", 1) }
func BenchmarkKeyV7(b *testing.B)     { benchKernel(b, "KeyV7", 1) }
func BenchmarkAttention4K(b *testing.B) {
	benchKernel(b, "Attention", 1)
}

var _ backend.Backend = (*cpu.Backend)(nil)
