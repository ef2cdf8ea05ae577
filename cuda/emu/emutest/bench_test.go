package emutest

import "testing"

// BenchmarkSoftmax64x1000 runs softmax over 64 rows of 1000 values with 256
// threads per block (64 blocks, 5 barriers and 15 warp shuffles per thread).
func BenchmarkSoftmax64x1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if benchSoftmax(64, 1000, 256, 1) < 0 {
			b.Fatal("launch failed")
		}
	}
}

// BenchmarkMatmul128 runs the 16x16-tile matmul on 128x128x128 (64 blocks of
// 256 threads, 16 barriers per thread).
func BenchmarkMatmul128(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if benchMatmul(128, 128, 128, 1) < 0 {
			b.Fatal("launch failed")
		}
	}
}

// TestTimings logs the time per launch of the benchmark kernels.
func TestTimings(t *testing.T) {
	if testing.Short() {
		t.Skip("timings skipped in -short mode")
	}
	t.Logf("softmax 64x1000, 256 threads/block: %.2f ms per launch", benchSoftmax(64, 1000, 256, 3))
	t.Logf("matmul 128x128x128, 16x16 tiles: %.2f ms per launch", benchMatmul(128, 128, 128, 3))
}
