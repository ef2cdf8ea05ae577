package vec

import "fmt"

// WKV7Head advances one head of the RWKV-7 recurrence by one token. s is the
// head's state, row-major [n, n] with S[i][j] for value i and key j, and w,
// k, v, kk, ka, r and out have n elements each (ka = kk*a elementwise). For
// each value i, with sa = -sum_j S[i][j]*kk[j]:
//
//	S[i][j] = S[i][j]*w[j] + v[i]*k[j] + sa*ka[j]
//	out[i]  = sum_j S[i][j]*r[j]  (the updated state)
//
// With AVX-512 and n a multiple of 16 the sums are taken in 16 lanes (as the
// Gemm kernels do, with fused multiply-adds) and the update is
// fma(sa, ka, fma(v, k, S*w)); otherwise in float32 in increasing j with
// separate roundings. A process uses one or the other throughout.
func WKV7Head(s []float32, w, k, v, kk, ka, r, out []float32) {
	n := len(w)
	if len(s) < n*n || len(k) < n || len(v) < n || len(kk) < n || len(ka) < n || len(r) < n || len(out) < n {
		panic(fmt.Sprintf("vec: WKV7Head: slices too short for n = %d", n))
	}
	if n == 0 {
		return
	}
	if useAsm && useAVX512 && n%16 == 0 {
		wkv7HeadAvx512(&s[0], n, &w[0], &k[0], &v[0], &kk[0], &ka[0], &r[0], &out[0])
		return
	}
	wkv7HeadGeneric(s, w, k, v, kk, ka, r, out)
}

func wkv7HeadGeneric(s []float32, w, k, v, kk, ka, r, out []float32) {
	n := len(w)
	k, kk, ka, r = k[:n], kk[:n], ka[:n], r[:n]
	for i := 0; i < n; i++ {
		si := s[i*n : (i+1)*n]
		var sa float32
		for j, x := range si {
			sa -= x * kk[j]
		}
		vi := v[i]
		var y float32
		for j := range si {
			x := si[j]*w[j] + vi*k[j] + sa*ka[j]
			si[j] = x
			y += x * r[j]
		}
		out[i] = y
	}
}
