//go:build ignore

// This program writes kernels_amd64.s, the AVX2/FMA/F16C kernels of package
// vec. Run it with `go generate` in internal/vec.
//
// Every kernel computes each output with the same accumulation scheme (see the
// package documentation): 16 lanes held in two ymm accumulators, element i
// added to lane i%16 by a fused multiply-add in increasing i, the final partial
// block zero-padded through a stack scratch area (no read past a slice end),
// then the fixed reduction emitted by reduce. Kernels differ only in how many
// rows and tokens share one pass over k. The AVX-512 tiles of several tokens
// (tileKernel512, gemmT512Kernel) hold the 16 lanes in one zmm accumulator
// and give the same bits; the AVX-512 one-token sparse kernels
// (sparse512Kernel) give the bits of the AVX2 ones.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// elem describes a weight element type.
type elem struct {
	name string // suffix of kernel names
	goT  string // Go type of the weights
	size int    // bytes per element
}

var (
	f32  = elem{"F32", "float32", 4}
	f16  = elem{"F16", "uint16", 2}
	bf16 = elem{"BF16", "uint16", 2}
	// i8 is the codes of I8 weights: the kernels multiply the integers,
	// converted exactly to float32; the caller applies the row scales.
	i8 = elem{"I8", "int8", 1}
)

type gen struct {
	buf   bytes.Buffer
	label int
	shuf  int // ymm register holding bf16Shuf in the current kernel; -1: none, read it from memory
}

// shufArg is the operand giving the bfloat16 shuffle control.
func (g *gen) shufArg() string {
	if g.shuf < 0 {
		return "bf16Shuf<>(SB)"
	}
	return fmt.Sprintf("Y%d", g.shuf)
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, "\t"+format+"\n", args...)
}

func (g *gen) lbl(name string) { fmt.Fprintf(&g.buf, "%s:\n", name) }

func (g *gen) newLabel(prefix string) string {
	g.label++
	return fmt.Sprintf("%s_%d", prefix, g.label)
}

// loopBelow emits a loop that runs body while register i is below register
// n (unsigned), tested before the first pass and after each: body advances
// i. It ends at label done.
func (g *gen) loopBelow(i, n, loop, done string, body func()) {
	g.p("CMPQ %s, %s", i, n)
	g.p("JAE %s", done)
	g.lbl(loop)
	body()
	g.p("CMPQ %s, %s", i, n)
	g.p("JB %s", loop)
	g.lbl(done)
}

// unlessZero emits body, skipped to label skip when register r is zero.
func (g *gen) unlessZero(r, skip string, body func()) {
	g.p("TESTQ %s, %s", r, r)
	g.p("JZ %s", skip)
	body()
	g.lbl(skip)
}

// loadW loads 8 weights at addr, converted to float32, into ymm register y.
func (g *gen) loadW(e elem, addr string, y int) {
	switch e {
	case f32:
		g.p("VMOVUPS %s, Y%d", addr, y)
	case f16:
		g.p("VCVTPH2PS %s, Y%d", addr, y)
	case bf16:
		// Both 128-bit lanes get words 0-7; the shuffle moves word d of
		// the lane's half into the high half of dword d, zeroing the low.
		g.p("VBROADCASTI128 %s, Y%d", addr, y)
		g.p("VPSHUFB %s, Y%d, Y%d", g.shufArg(), y, y)
	case i8:
		g.p("VPMOVSXBD %s, Y%d", addr, y)
		g.p("VCVTDQ2PS Y%d, Y%d", y, y)
	}
}

// off returns the memory operand for element offset (R12 + half*8) of the row
// whose base is in register base, for elements of the given size.
func off(base string, half, size int) string {
	d := half * 8 * size
	if d == 0 {
		return fmt.Sprintf("(%s)(R12*%d)", base, size)
	}
	return fmt.Sprintf("%d(%s)(R12*%d)", d, base, size)
}

// scratchOff is the same for a 16-element scratch block at byte offset o of
// the local frame.
func scratchOff(o, half, size int) string {
	return fmt.Sprintf("%d(SP)", o+half*8*size)
}

// copyTail copies the CX tail elements (CX in 1..15) that start at element
// R12 of the row in register src into the zeroed scratch block at byte offset
// o. Clobbers AX, DX, SI.
func (g *gen) copyTail(src string, size, o int) {
	l := g.newLabel("copy")
	g.p("LEAQ (%s)(R12*%d), SI", src, size)
	g.p("XORQ AX, AX")
	g.lbl(l)
	switch size {
	case 4:
		g.p("MOVL (SI)(AX*4), DX")
		g.p("MOVL DX, %d(SP)(AX*4)", o)
	case 1:
		g.p("MOVBLZX (SI)(AX*1), DX")
		g.p("MOVB DX, %d(SP)(AX*1)", o)
	default:
		g.p("MOVWLZX (SI)(AX*2), DX")
		g.p("MOVW DX, %d(SP)(AX*2)", o)
	}
	g.p("INCQ AX")
	g.p("CMPQ AX, CX")
	g.p("JB %s", l)
}

// zeroScratch clears the 16-element scratch block at byte offset o.
func (g *gen) zeroScratch(size, o int) {
	for b := 0; b < 16*size; b += 8 {
		g.p("MOVQ $0, %d(SP)", o+b)
	}
}

// reduce sums the 16 lanes of accumulators (Ya, Yb) in the fixed order of the
// package contract and stores the float32 result at addr. Clobbers Yt and Ya.
func (g *gen) reduce(a, b, t int, addr string) {
	g.p("VADDPS Y%d, Y%d, Y%d", b, a, a)   // v[j] = L[j] + L[j+8]
	g.p("VEXTRACTF128 $1, Y%d, X%d", a, t) // v[4:8]
	g.p("VADDPS X%d, X%d, X%d", t, a, a)   // u[j] = v[j] + v[j+4]
	g.p("VMOVHLPS X%d, X%d, X%d", a, a, t) // u[2:4]
	g.p("VADDPS X%d, X%d, X%d", t, a, a)   // p[j] = u[j] + u[j+2]
	g.p("VMOVSHDUP X%d, X%d", a, t)        // p[1]
	g.p("VADDSS X%d, X%d, X%d", t, a, a)   // s = p[0] + p[1]
	g.p("VMOVSS X%d, %s", a, addr)
}

// Register conventions shared by the dot kernels:
//   R12      element index of the current 16-element block
//   R13      k rounded down to a multiple of 16
//   CX       k - R13 (tail length) when handling the tail
//   AX DX SI scratch for tail copies

// rowsKernel emits a kernel computing nr rows x nt tokens per block, looping
// over nblk blocks of nr consecutive rows. Accumulators: Y4 upwards, two per
// (row, token). nr*nt*2 + temps must fit in 16 registers.
//
// Layout of the Go declaration:
//
//	func name(dst *float32, ldd int, w *T, nblk, k int, x *float32)
//
// (ldd is omitted when nt == 1: the nr outputs are contiguous.)
// Frame: x tails at 0 (nt blocks of 64 bytes), w tails after (nr blocks of
// 16*size bytes).
func (g *gen) rowsKernel(e elem, nr, nt int) string {
	name := fmt.Sprintf("gemm%dx%d%s", nr, nt, e.name)
	es := e.size
	wtOff := nt * 64
	frame := wtOff + nr*16*es
	withLdd := nt > 1
	argSize := 48
	var argOff struct{ dst, ldd, w, nblk, k, x int }
	if withLdd {
		argOff.dst, argOff.ldd, argOff.w, argOff.nblk, argOff.k, argOff.x = 0, 8, 16, 24, 32, 40
	} else {
		argSize = 40
		argOff.dst, argOff.w, argOff.nblk, argOff.k, argOff.x = 0, 8, 16, 24, 32
	}
	rowReg := []string{"R8", "R9", "R10", "R11"}[:nr]
	// Token pointers: BX, then R14-free choices.
	tokReg := []string{"BX", "R10", "R11"}[:nt]
	if nr > 2 && nt > 1 {
		panic("register conflict")
	}
	acc := func(r, t, h int) int { return 4 + (r*nt+t)*2 + h }
	nacc := nr * nt * 2
	if 4+nacc > 16 {
		panic("too many accumulators")
	}
	// Register for the bfloat16 shuffle control: the first free one, or Y3
	// which the several-token bodies leave unused.
	g.shuf = 3
	if 4+nacc < 16 {
		g.shuf = 15
	}

	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, ", name)
	if withLdd {
		fmt.Fprintf(&g.buf, "ldd int, ")
	}
	fmt.Fprintf(&g.buf, "w *%s, nblk, k int, x *float32)\n", e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $%d-%d\n", name, frame, argSize)
	g.p("MOVQ dst+%d(FP), DI", argOff.dst)
	g.p("MOVQ w+%d(FP), R8", argOff.w)
	g.p("MOVQ k+%d(FP), R14", argOff.k)
	g.p("MOVQ x+%d(FP), BX", argOff.x)
	g.p("MOVQ R14, R13")
	g.p("ANDQ $-16, R13")
	if e == bf16 {
		g.p("VMOVDQU bf16Shuf<>(SB), Y%d", g.shuf)
	}
	// Token pointers (x rows are k float32 apart).
	if nt > 1 {
		g.p("LEAQ (BX)(R14*4), R10")
	}
	if nt > 2 {
		g.p("LEAQ (R10)(R14*4), R11")
	}
	// x tails into scratch, once per call.
	tail := g.newLabel("notail")
	g.p("MOVQ R14, CX")
	g.p("SUBQ R13, CX")
	g.p("JZ %s", tail)
	g.p("MOVQ R13, R12")
	for t := 0; t < nt; t++ {
		g.zeroScratch(4, t*64)
		g.copyTail(tokReg[t], 4, t*64)
	}
	g.lbl(tail)
	// Row stride in bytes.
	g.shl(shiftFor(es), "R14")
	// Row pointers R9.. from R8 (token pointers use R10/R11 only when nr <= 2).
	for r := 1; r < nr; r++ {
		g.p("LEAQ (%s)(R14*1), %s", rowReg[r-1], rowReg[r])
	}

	blk := g.newLabel("block")
	loop := g.newLabel("loop")
	done := g.newLabel("done")
	tailDone := g.newLabel("taildone")
	g.lbl(blk)
	for i := 0; i < nacc; i++ {
		g.p("VXORPS Y%d, Y%d, Y%d", 4+i, 4+i, 4+i)
	}
	g.p("XORQ R12, R12")
	g.loopBelow("R12", "R13", loop, done, func() {
		g.body(e, nr, nt, acc,
			func(r, h int) string { return off(rowReg[r], h, es) },
			func(t, h int) string { return off(tokReg[t], h, 4) })
		g.p("ADDQ $16, R12")
	})
	// Tail of the rows of this block.
	g.p("MOVQ k+%d(FP), CX", argOff.k)
	g.p("SUBQ R13, CX")
	g.p("JZ %s", tailDone)
	for r := 0; r < nr; r++ {
		g.zeroScratch(es, wtOff+r*16*es)
		g.copyTail(rowReg[r], es, wtOff+r*16*es)
	}
	g.body(e, nr, nt, acc,
		func(r, h int) string { return scratchOff(wtOff+r*16*es, h, es) },
		func(t, h int) string { return scratchOff(t*64, h, 4) })
	g.lbl(tailDone)
	// Reduce and store.
	if withLdd {
		g.p("MOVQ ldd+%d(FP), AX", argOff.ldd)
		g.p("SHLQ $2, AX")
	}
	for t := 0; t < nt; t++ {
		for r := 0; r < nr; r++ {
			var addr string
			switch t {
			case 0:
				addr = fmt.Sprintf("%d(DI)", r*4)
			case 1:
				addr = fmt.Sprintf("%d(DI)(AX*1)", r*4)
			case 2:
				addr = fmt.Sprintf("%d(DI)(AX*2)", r*4)
			}
			g.reduce(acc(r, t, 0), acc(r, t, 1), 0, addr)
		}
	}
	// Next block.
	g.p("ADDQ $%d, DI", nr*4)
	g.p("LEAQ (%s)(R14*1), R8", rowReg[nr-1])
	for r := 1; r < nr; r++ {
		g.p("LEAQ (%s)(R14*1), %s", rowReg[r-1], rowReg[r])
	}
	g.p("DECQ nblk+%d(FP)", argOff.nblk)
	g.p("JNZ %s", blk)
	g.p("VZEROUPPER")
	g.p("RET")
	return name
}

// body emits one 16-element step for nr rows x nt tokens. Temporaries: Y0..Y3
// (Y3 only for nr*nt <= 4 paths that need it).
func (g *gen) body(e elem, nr, nt int, acc func(r, t, h int) int, waddr func(r, h int) string, xaddr func(t, h int) string) {
	if nt == 1 {
		// x in Y0/Y1; f32 weights as memory operands, others converted
		// through Y2/Y3.
		g.p("VMOVUPS %s, Y0", xaddr(0, 0))
		g.p("VMOVUPS %s, Y1", xaddr(0, 1))
		for r := 0; r < nr; r++ {
			for h := 0; h < 2; h++ {
				if e == f32 {
					g.p("VFMADD231PS %s, Y%d, Y%d", waddr(r, h), h, acc(r, 0, h))
				} else {
					tmp := 2 + h
					g.loadW(e, waddr(r, h), tmp)
					g.p("VFMADD231PS Y%d, Y%d, Y%d", tmp, h, acc(r, 0, h))
				}
			}
		}
		return
	}
	// Several tokens: per half, weights of each row in Y0/Y1, x of each
	// token through Y2.
	if nr > 2 {
		panic("nr > 2 with several tokens")
	}
	for h := 0; h < 2; h++ {
		for r := 0; r < nr; r++ {
			g.loadW(e, waddr(r, h), r)
		}
		for t := 0; t < nt; t++ {
			g.p("VMOVUPS %s, Y2", xaddr(t, h))
			for r := 0; r < nr; r++ {
				g.p("VFMADD231PS Y%d, Y2, Y%d", r, acc(r, t, h))
			}
		}
	}
}

// axpy emits func name(dst *float32, a float32, x *T, n int):
// dst[i] = fma(a, x[i], dst[i]) for i < n.
func (g *gen) axpy(e elem) string {
	name := "axpy" + e.name
	es := e.size
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, a float32, x *%s, n int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("VBROADCASTSS a+8(FP), Y0")
	g.p("MOVQ x+16(FP), SI")
	g.p("MOVQ n+24(FP), CX")
	g.p("XORQ AX, AX")
	if e == bf16 {
		g.shuf = 15
		g.p("VMOVDQU bf16Shuf<>(SB), Y15")
	}
	l32, l8, l1 := g.newLabel("axpy32"), g.newLabel("axpy8"), g.newLabel("axpy1")
	c8, c1, end := g.newLabel("axpyc8"), g.newLabel("axpyc1"), g.newLabel("axpyend")
	g.p("MOVQ CX, DX")
	g.p("ANDQ $-32, DX")
	g.p("JZ %s", c8)
	g.lbl(l32)
	for j := 0; j < 4; j++ {
		y := 1 + j
		g.loadW(e, fmt.Sprintf("%d(SI)(AX*%d)", j*8*es, es), y)
		g.p("VFMADD213PS %d(DI)(AX*4), Y0, Y%d", j*32, y)
		g.p("VMOVUPS Y%d, %d(DI)(AX*4)", y, j*32)
	}
	g.p("ADDQ $32, AX")
	g.p("CMPQ AX, DX")
	g.p("JB %s", l32)
	g.lbl(c8)
	g.p("MOVQ CX, DX")
	g.p("ANDQ $-8, DX")
	g.loopBelow("AX", "DX", l8, c1, func() {
		g.loadW(e, fmt.Sprintf("(SI)(AX*%d)", es), 1)
		g.p("VFMADD213PS (DI)(AX*4), Y0, Y1")
		g.p("VMOVUPS Y1, (DI)(AX*4)")
		g.p("ADDQ $8, AX")
	})
	g.loopBelow("AX", "CX", l1, end, func() {
		switch e {
		case f32:
			g.p("VMOVSS (SI)(AX*4), X1")
		case f16:
			g.p("MOVWLZX (SI)(AX*2), DX")
			g.p("VMOVD DX, X1")
			g.p("VCVTPH2PS X1, X1")
		case bf16:
			g.p("MOVWLZX (SI)(AX*2), DX")
			g.p("SHLL $16, DX")
			g.p("VMOVD DX, X1")
		case i8:
			g.p("MOVBLSX (SI)(AX*1), DX")
			g.p("VCVTSI2SSL DX, X1, X1")
		}
		g.p("VFMADD213SS (DI)(AX*4), X0, X1")
		g.p("VMOVSS X1, (DI)(AX*4)")
		g.p("INCQ AX")
	})
	g.p("VZEROUPPER")
	g.p("RET")
	return name
}

// Transposed kernels: gemmT<nt><E> multiplies nt tokens with a row-major
// [k, cols] weight matrix (outer-product form), sparseRows<E> sums selected
// weight rows scaled by one value each. Each output column keeps one
// accumulator lane for the whole pass over the weight rows, updated with one
// fused multiply-add per row in increasing row order, so the result of an
// output does not depend on the number of tokens, the column blocking or the
// kernel. The columns are processed in blocks of 8*v columns for the widest v
// that fits (v ymm accumulators per token), then one column at a time with
// scalar instructions, so no weight or output is accessed past the requested
// columns.
//
// Register conventions of both:
//
//	DI   dst of the current column block (token 0)
//	R9   weights of the current column block (row 0)
//	R10  weight row stride in bytes
//	R11  columns left
//
// gemmT only:
//
//	BX   dst row stride in bytes; AX temporary (dst of token 3, 16-bit decode)
//	SI   x (token 0, row 0); DX x row stride in bytes; R8 3*DX
//	R12  x of the current row; R13 weights of the current row; CX rows left
//
// sparseRows only:
//
//	R8   idx; SI vals; CX number of rows; AX current entry; DX row offset in
//	     bytes; BX temporary (16-bit decode, prefetch offset); R12 the entry
//	     prefetched; R13 the last entry

// maxTokensT is the largest number of tokens a gemmT kernel handles at once.
const maxTokensT = 4

// widthT[nt] is the number of ymm accumulators per token in the widest
// column block of the gemmT kernel for nt tokens.
var widthT = [maxTokensT + 1]int{0, 8, 4, 3, 3}

// widthS is the same for the sparseRows kernels.
const widthS = 8

// sparsePrefetch is how many listed rows ahead the sparseRows kernels
// prefetch the weights of their column block.
const sparsePrefetch = 8

// disp prefixes a memory operand with a byte displacement.
func disp(d int, base string) string {
	if d == 0 {
		return base
	}
	return fmt.Sprintf("%d%s", d, base)
}

// xAddrT is the x operand of token t in the gemmT kernels, off bytes past
// the current row.
func xAddrT(t, off int) string {
	return disp(off, [...]string{"(R12)", "(R12)(DX*1)", "(R12)(DX*2)", "(R12)(R8*1)"}[t])
}

// dstBaseT returns the base of the dst operands of token t in the gemmT
// kernels, emitting the address computation it needs.
func (g *gen) dstBaseT(t int) string {
	if t == 3 {
		g.p("LEAQ (DI)(BX*2), AX")
		return "(AX)(BX*1)"
	}
	return [...]string{"(DI)", "(DI)(BX*1)", "(DI)(BX*2)"}[t]
}

// loadScalarW loads one weight at addr into X0 as float32; tmp is a general
// register it may clobber.
func (g *gen) loadScalarW(e elem, addr, tmp string) {
	switch e {
	case f32:
		g.p("VMOVSS %s, X0", addr)
	case f16:
		g.p("MOVWLZX %s, %s", addr, tmp)
		g.p("VMOVD %s, X0", tmp)
		g.p("VCVTPH2PS X0, X0")
	case bf16:
		g.p("MOVWLZX %s, %s", addr, tmp)
		g.p("SHLL $16, %s", tmp)
		g.p("VMOVD %s, X0", tmp)
	case i8:
		g.p("MOVBLSX %s, %s", addr, tmp)
		g.p("VCVTSI2SSL %s, X0, X0", tmp)
	}
}

// layoutT assigns registers for a block of v vectors (v = 0: one scalar
// column) of nt tokens: accumulators at the top, and for 16-bit weights on
// a single token ntmp rotating conversion temporaries from Y1. It sets g.shuf
// to a free register, or -1 when none is left.
func (g *gen) layoutT(e elem, nt, v int) (acc func(t, h int) int, ntmp int) {
	nv := max(v, 1)
	nacc := nt * nv
	acc = func(t, h int) int { return 16 - nacc + t*nv + h }
	used := 1 // broadcast x (nt == 1) or scalar weight
	switch {
	case v == 0:
	case nt == 1:
		if e != f32 {
			ntmp = min(v, 4)
			used += ntmp
		}
	default:
		used += nv // the weight vectors of a row
	}
	if used+nacc > 16 {
		panic("too many registers")
	}
	g.shuf = -1
	if e == bf16 && v > 0 && used < 16-nacc {
		g.shuf = used
		g.p("VMOVDQU bf16Shuf<>(SB), Y%d", g.shuf)
	}
	return acc, ntmp
}

// stepT emits the update of the gemmT accumulators with one weight row at
// wbase (v vectors, or one scalar column when v = 0) and the x values xoff
// bytes past R12.
func (g *gen) stepT(e elem, nt, v int, acc func(t, h int) int, ntmp, xoff int, wbase string) {
	switch {
	case v == 0:
		g.loadScalarW(e, wbase, "AX")
		for t := 0; t < nt; t++ {
			g.p("VFMADD231SS %s, X0, X%d", xAddrT(t, xoff), acc(t, 0))
		}
	case nt == 1:
		g.p("VBROADCASTSS %s, Y0", xAddrT(0, xoff))
		for h := 0; h < v; h++ {
			wa := disp(h*8*e.size, wbase)
			if e == f32 {
				g.p("VFMADD231PS %s, Y0, Y%d", wa, acc(0, h))
				continue
			}
			tmp := 1 + h%ntmp
			g.loadW(e, wa, tmp)
			g.p("VFMADD231PS Y%d, Y0, Y%d", tmp, acc(0, h))
		}
	default:
		for h := 0; h < v; h++ {
			g.loadW(e, disp(h*8*e.size, wbase), h)
		}
		for t := 0; t < nt; t++ {
			g.p("VBROADCASTSS %s, Y%d", xAddrT(t, xoff), v)
			for h := 0; h < v; h++ {
				g.p("VFMADD231PS Y%d, Y%d, Y%d", h, v, acc(t, h))
			}
		}
	}
}

// accPrefix returns the register prefix of the accumulators of a block of v
// vectors (v = 0: scalar).
func accPrefix(v int) string {
	if v == 0 {
		return "X"
	}
	return "Y"
}

// blockT emits one column block of a gemmT kernel: v vectors (v = 0: one
// scalar column) for nt tokens over all k weight rows, starting from zero or,
// when accum is set, from dst.
func (g *gen) blockT(e elem, nt, v int) {
	acc, ntmp := g.layoutT(e, nt, v)
	nv := max(v, 1)
	r := accPrefix(v)
	mov := "VMOVUPS"
	if v == 0 {
		mov = "VMOVSS"
	}
	load, start := g.newLabel("tload"), g.newLabel("tstart")
	g.p("CMPQ accum+64(FP), $0")
	g.p("JNE %s", load)
	for t := 0; t < nt; t++ {
		for h := 0; h < nv; h++ {
			a := acc(t, h)
			g.p("VXORPS %s%d, %s%d, %s%d", r, a, r, a, r, a)
		}
	}
	g.p("JMP %s", start)
	g.lbl(load)
	for t := 0; t < nt; t++ {
		base := g.dstBaseT(t)
		for h := 0; h < nv; h++ {
			g.p("%s %s, %s%d", mov, disp(h*32, base), r, acc(t, h))
		}
	}
	g.lbl(start)
	g.p("MOVQ SI, R12")
	g.p("MOVQ R9, R13")
	g.p("MOVQ k+32(FP), CX")
	loop2, one, done := g.newLabel("trow2"), g.newLabel("trow1"), g.newLabel("trowend")
	g.p("CMPQ CX, $2")
	g.p("JB %s", one)
	g.lbl(loop2)
	g.stepT(e, nt, v, acc, ntmp, 0, "(R13)")
	g.stepT(e, nt, v, acc, ntmp, 4, "(R13)(R10*1)")
	g.p("ADDQ $8, R12")
	g.p("LEAQ (R13)(R10*2), R13")
	g.p("SUBQ $2, CX")
	g.p("CMPQ CX, $2")
	g.p("JAE %s", loop2)
	g.lbl(one)
	g.unlessZero("CX", done, func() { g.stepT(e, nt, v, acc, ntmp, 0, "(R13)") })
	for t := 0; t < nt; t++ {
		base := g.dstBaseT(t)
		for h := 0; h < nv; h++ {
			g.p("%s %s%d, %s", mov, r, acc(t, h), disp(h*32, base))
		}
	}
}

// colLoops emits the walk over the columns: blocks of 8*vmax columns while
// they fit, then one block of the widest v < vmax that fits, then single
// columns. block(v) emits the computation of one block.
func (g *gen) colLoops(e elem, vmax int, block func(v int)) {
	advance := func(c int) {
		g.p("ADDQ $%d, DI", c*4)
		g.p("ADDQ $%d, R9", c*e.size)
		g.p("SUBQ $%d, R11", c)
	}
	wide, tail, single, singleLoop, end := g.newLabel("cwide"), g.newLabel("ctail"), g.newLabel("csingle"), g.newLabel("csingleloop"), g.newLabel("cend")
	g.lbl(wide)
	g.p("CMPQ R11, $%d", 8*vmax)
	g.p("JB %s", tail)
	block(vmax)
	advance(8 * vmax)
	g.p("JMP %s", wide)
	g.lbl(tail)
	for v := vmax - 1; v >= 1; v-- {
		next := g.newLabel("cnext")
		g.p("CMPQ R11, $%d", 8*v)
		g.p("JB %s", next)
		block(v)
		advance(8 * v)
		g.p("JMP %s", single)
		g.lbl(next)
	}
	g.lbl(single)
	g.unlessZero("R11", end, func() {
		g.lbl(singleLoop)
		block(0)
		advance(1)
		g.p("JNZ %s", singleLoop)
	})
	g.p("VZEROUPPER")
	g.p("RET")
}

// shiftFor returns log2 of an element size.
func shiftFor(size int) int {
	switch size {
	case 4:
		return 2
	case 2:
		return 1
	}
	return 0
}

// shl shifts register r left by n bits (nothing for 0).
func (g *gen) shl(n int, r string) {
	if n > 0 {
		g.p("SHLQ $%d, %s", n, r)
	}
}

// gemmTKernel emits
//
//	func gemmT<nt><E>(dst *float32, ldd int, x *float32, ldx, k int, wt *T, ldw, cols, accum int)
//
// dst[t*ldd + c] = (accum != 0 ? dst[t*ldd + c] : 0) + sum_{i<k} x[t*ldx + i] * wt[i*ldw + c]
// for t < nt and c < cols, with k >= 1 and cols >= 1.
func (g *gen) gemmTKernel(e elem, nt int) {
	name := fmt.Sprintf("gemmT%d%s", nt, e.name)
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, ldd int, x *float32, ldx, k int, wt *%s, ldw, cols, accum int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ ldd+8(FP), BX")
	g.p("SHLQ $2, BX")
	g.p("MOVQ x+16(FP), SI")
	g.p("MOVQ ldx+24(FP), DX")
	g.p("SHLQ $2, DX")
	g.p("LEAQ (DX)(DX*2), R8")
	g.p("MOVQ wt+40(FP), R9")
	g.p("MOVQ ldw+48(FP), R10")
	g.shl(shiftFor(e.size), "R10")
	g.p("MOVQ cols+56(FP), R11")
	g.colLoops(e, widthT[nt], func(v int) { g.blockT(e, nt, v) })
}

// blockS emits one column block of a sparseRows kernel: v vectors (v = 0:
// one scalar column) summed over all selected rows.
func (g *gen) blockS(e elem, v int) {
	acc, ntmp := g.layoutT(e, 1, v)
	nv := max(v, 1)
	r := accPrefix(v)
	for h := 0; h < nv; h++ {
		a := acc(0, h)
		g.p("VXORPS %s%d, %s%d, %s%d", r, a, r, a, r, a)
	}
	loop := g.newLabel("srow")
	g.p("XORQ AX, AX")
	g.lbl(loop)
	if v > 0 {
		// Prefetch this block's columns of the row sparsePrefetch entries
		// ahead (the last row once past the end): the listed rows are
		// scattered, beyond what the hardware prefetchers predict.
		g.p("LEAQ %d(AX), R12", sparsePrefetch)
		g.p("CMPQ R12, CX")
		g.p("CMOVQCC R13, R12")
		g.p("MOVLQSX (R8)(R12*4), BX")
		g.p("IMULQ R10, BX")
		for off := 0; off < v*8*e.size; off += 64 {
			g.p("PREFETCHT0 %s", disp(off, "(R9)(BX*1)"))
		}
	}
	g.p("MOVLQSX (R8)(AX*4), DX")
	g.p("IMULQ R10, DX")
	if v == 0 {
		g.loadScalarW(e, "(R9)(DX*1)", "BX")
		g.p("VFMADD231SS (SI)(AX*4), X0, X%d", acc(0, 0))
	} else {
		g.p("VBROADCASTSS (SI)(AX*4), Y0")
		for h := 0; h < v; h++ {
			wa := disp(h*8*e.size, "(R9)(DX*1)")
			if e == f32 {
				g.p("VFMADD231PS %s, Y0, Y%d", wa, acc(0, h))
				continue
			}
			tmp := 1 + h%ntmp
			g.loadW(e, wa, tmp)
			g.p("VFMADD231PS Y%d, Y0, Y%d", tmp, acc(0, h))
		}
	}
	g.p("INCQ AX")
	g.p("CMPQ AX, CX")
	g.p("JB %s", loop)
	mov := "VMOVUPS"
	if v == 0 {
		mov = "VMOVSS"
	}
	for h := 0; h < nv; h++ {
		g.p("%s %s%d, %s", mov, r, acc(0, h), disp(h*32, "(DI)"))
	}
}

// sparseKernel emits
//
//	func sparseRows<E>(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *T, ldw int)
//
// dst[c] = sum_{j<nnz} vals[j] * wt[idx[j]*ldw + c] for c < cols, with
// nnz >= 1, cols >= 1 and every idx[j] >= 0.
func (g *gen) sparseKernel(e elem) {
	name := "sparseRows" + e.name
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *%s, ldw int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ cols+8(FP), R11")
	g.p("MOVQ idx+16(FP), R8")
	g.p("MOVQ vals+24(FP), SI")
	g.p("MOVQ nnz+32(FP), CX")
	g.p("MOVQ wt+40(FP), R9")
	g.p("MOVQ ldw+48(FP), R10")
	g.shl(shiftFor(e.size), "R10")
	g.p("LEAQ -1(CX), R13")
	g.colLoops(e, widthS, func(v int) { g.blockS(e, v) })
}

func main() {
	g := &gen{}
	g.buf.WriteString("// Code generated by asm_gen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	// Shuffle control for bfloat16 -> float32 (see loadW).
	for d := 0; d < 8; d++ {
		fmt.Fprintf(&g.buf, "DATA bf16Shuf<>+%d(SB)/4, $0x%08x\n", 4*d, 0x8080|(2*d)<<16|(2*d+1)<<24)
	}
	g.buf.WriteString("GLOBL bf16Shuf<>(SB), RODATA|NOPTR, $32\n")
	for _, e := range []elem{f32, f16, bf16, i8} {
		g.rowsKernel(e, 1, 1)
		g.rowsKernel(e, 4, 1)
		g.rowsKernel(e, 2, 2)
		g.rowsKernel(e, 2, 3)
		g.axpy(e)
	}
	for _, e := range []elem{f32, f16, bf16, i8} {
		for nt := 1; nt <= maxTokensT; nt++ {
			g.gemmTKernel(e, nt)
		}
		g.sparseKernel(e)
	}
	for _, e := range []elem{f32, f16, bf16, i8} {
		for nt := 1; nt <= maxTile512; nt++ {
			g.tileKernel512(e, nt)
		}
		for nt := 1; nt <= maxTile512; nt++ {
			g.gemmT512Kernel(e, nt)
		}
		g.decode512(e)
	}
	for _, e := range []elem{f32, f16, bf16, i8} {
		g.sparse512Kernel(e)
	}
	out := strings.ReplaceAll(g.buf.String(), "\t\n", "\n")
	if err := os.WriteFile("kernels_amd64.s", []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// AVX-512 tiles for several tokens: tileKernel512 emits
//
//	func gemm4x<nt><E>Avx512(dst *float32, ldd int, w *T, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)
//
// computing 4 rows x nt tokens (nt <= maxTile512) per quad of rows, over
// nquad quads of consecutive rows, for the elements [0, k) of rows and
// tokens that are ldw and ldx elements apart (k a positive multiple of 16).
// Each output keeps its 16 lanes in one zmm accumulator (Z8 upwards, 4*nt
// of them): per 16 elements, the four rows are loaded and decoded once into
// Z0-Z3, and each token's x is loaded once (Z4/Z5) and multiplied with the
// four rows, so a tile issues 4 + nt loads per 4*nt fused multiply-adds.
// Element i goes to lane i%16 in increasing i and the reduction is the Gemm
// kernels' one, so every output equals the one-token kernels' bitwise.
//
// A long product is split into ranges of elements (so that the x of the
// tile's tokens stays in L1) with the accumulators kept in part between
// calls, 4*nt vectors of 16 floats per quad: mode bit 0 starts them from
// part instead of zero, bit 1 reduces them into dst at the end instead of
// storing them to part. The chains are those of one call over all elements.
//
// Registers: DI dst of the quad (token 0, row 0); SI row 0 and R8 row 3 of
// the current step, DX the row stride in bytes; BX token 0 and R9 token 3 of
// the current step, CX the x row stride in bytes, R10 the end of token 0;
// R11 and R12 the start of tokens 0 and 3; R13 quads left; R14 the dst row
// stride in bytes; R15 part of the quad; AX the dst base of tokens 3-5.
const maxTile512 = 6

// loadW512 loads 16 weights at addr, converted to float32, into Zz.
func (g *gen) loadW512(e elem, addr string, z int) {
	switch e {
	case f32:
		g.p("VMOVUPS %s, Z%d", addr, z)
	case f16:
		g.p("VCVTPH2PS %s, Z%d", addr, z)
	case bf16:
		g.p("VPMOVZXWD %s, Z%d", addr, z)
		g.p("VPSLLD $16, Z%d, Z%d", z, z)
	case i8:
		g.p("VPMOVSXBD %s, Z%d", addr, z)
		g.p("VCVTDQ2PS Z%d, Z%d", z, z)
	}
}

// reduce512 sums the 16 lanes of Za in the fixed order of the package
// contract and stores the float32 result at addr. Clobbers Z0 and Za.
func (g *gen) reduce512(a int, addr string) {
	g.p("VEXTRACTF64X4 $1, Z%d, Y0", a)
	g.p("VADDPS Y0, Y%d, Y%d", a, a) // v[j] = L[j] + L[j+8]
	g.p("VEXTRACTF32X4 $1, Y%d, X0", a)
	g.p("VADDPS X0, X%d, X%d", a, a) // u[j] = v[j] + v[j+4]
	g.p("VMOVHLPS X%d, X%d, X0", a, a)
	g.p("VADDPS X0, X%d, X%d", a, a) // p[j] = u[j] + u[j+2]
	g.p("VMOVSHDUP X%d, X0", a)
	g.p("VADDSS X0, X%d, X%d", a, a) // s = p[0] + p[1]
	g.p("VMOVSS X%d, %s", a, addr)
}

func (g *gen) tileKernel512(e elem, nt int) string {
	name := fmt.Sprintf("gemm4x%d%sAvx512", nt, e.name)
	es := e.size
	acc := func(r, t int) int { return 8 + t*4 + r }
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, ldd int, w *%s, nquad, k int, x *float32, ldw, ldx int, part *float32, mode int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-80\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ ldd+8(FP), R14")
	g.p("SHLQ $2, R14")
	g.p("MOVQ w+16(FP), SI")
	g.p("MOVQ nquad+24(FP), R13")
	g.p("MOVQ ldw+48(FP), DX")
	g.p("MOVQ ldx+56(FP), CX")
	g.p("SHLQ $2, CX")
	g.shl(shiftFor(es), "DX")
	g.p("MOVQ part+64(FP), R15")
	g.p("MOVQ x+40(FP), R11")
	g.p("LEAQ (R11)(CX*2), R12")
	g.p("ADDQ CX, R12")
	g.p("LEAQ (SI)(DX*2), R8")
	g.p("ADDQ DX, R8")
	quad, loop, zero, start := g.newLabel("tquad"), g.newLabel("tloop"), g.newLabel("tzero"), g.newLabel("tstart")
	store, next := g.newLabel("tstore"), g.newLabel("tnext")
	g.lbl(quad)
	g.p("TESTQ $1, mode+72(FP)")
	g.p("JZ %s", zero)
	for t := 0; t < nt; t++ {
		for r := 0; r < 4; r++ {
			g.p("VMOVUPS %s, Z%d", disp((t*4+r)*64, "(R15)"), acc(r, t))
		}
	}
	g.p("JMP %s", start)
	g.lbl(zero)
	for t := 0; t < nt; t++ {
		for r := 0; r < 4; r++ {
			a := acc(r, t)
			g.p("VPXORD Z%d, Z%d, Z%d", a, a, a)
		}
	}
	g.lbl(start)
	g.p("MOVQ R11, BX")
	g.p("MOVQ R12, R9")
	g.p("MOVQ k+32(FP), R10")
	g.p("LEAQ (R11)(R10*4), R10")
	g.p("MOVQ SI, AX") // row 0 of the quad
	g.lbl(loop)
	rowAddr := [4]string{"(SI)", "(SI)(DX*1)", "(SI)(DX*2)", "(R8)"}
	tokAddr := [maxTile512]string{"(BX)", "(BX)(CX*1)", "(BX)(CX*2)", "(R9)", "(R9)(CX*1)", "(R9)(CX*2)"}
	for r := 0; r < 4; r++ {
		g.loadW512(e, rowAddr[r], r)
	}
	for t := 0; t < nt; t++ {
		x := 4 + t%2
		g.p("VMOVUPS %s, Z%d", tokAddr[t], x)
		for r := 0; r < 4; r++ {
			g.p("VFMADD231PS Z%d, Z%d, Z%d", r, x, acc(r, t))
		}
	}
	g.p("ADDQ $%d, SI", 16*es)
	g.p("ADDQ $%d, R8", 16*es)
	g.p("ADDQ $64, BX")
	if nt > 3 {
		g.p("ADDQ $64, R9")
	}
	g.p("CMPQ BX, R10")
	g.p("JB %s", loop)
	// Next quad: 4 rows past the start of this one.
	g.p("LEAQ (AX)(DX*4), SI")
	g.p("LEAQ (SI)(DX*2), R8")
	g.p("ADDQ DX, R8")
	g.p("TESTQ $2, mode+72(FP)")
	g.p("JZ %s", store)
	// Reduce into dst.
	if nt > 3 {
		g.p("LEAQ (DI)(R14*2), AX")
		g.p("ADDQ R14, AX")
	}
	dstBase := [maxTile512]string{"(DI)", "(DI)(R14*1)", "(DI)(R14*2)", "(AX)", "(AX)(R14*1)", "(AX)(R14*2)"}
	for t := 0; t < nt; t++ {
		for r := 0; r < 4; r++ {
			g.reduce512(acc(r, t), disp(r*4, dstBase[t]))
		}
	}
	g.p("JMP %s", next)
	g.lbl(store)
	for t := 0; t < nt; t++ {
		for r := 0; r < 4; r++ {
			g.p("VMOVUPS Z%d, %s", acc(r, t), disp((t*4+r)*64, "(R15)"))
		}
	}
	g.lbl(next)
	g.p("ADDQ $16, DI")
	g.p("ADDQ $%d, R15", nt*4*64)
	g.p("DECQ R13")
	g.p("JNZ %s", quad)
	g.p("VZEROUPPER")
	g.p("RET")
	return name
}

// Transposed AVX-512 kernels: gemmT512<nt><E> is gemmT<nt><E> for nt <=
// maxTile512 tokens and cols a positive multiple of 16, with the columns in
// zmm accumulators (16 columns each): blocks of 64 columns (4*nt
// accumulators from Z8 upwards; per weight row, 4 weight vectors in Z0-Z3
// and one broadcast x value in Z4 per token, so 4 + nt loads per 4*nt fused
// multiply-adds), then one block of 48, 32 or 16. Each output is the same
// multiply-add chain over increasing rows as in the AVX2 kernels.
//
// Registers: those of gemmT, and R14 the x of token 3 of the current row.

// xAddrT512 is the x operand of token t in the gemmT512 kernels.
func xAddrT512(t int) string {
	return [...]string{"(R12)", "(R12)(DX*1)", "(R12)(DX*2)", "(R14)", "(R14)(DX*1)", "(R14)(DX*2)"}[t]
}

// dstBaseT512 returns the base of the dst operands of token t in the
// gemmT512 kernels, emitting the address computation it needs (AX).
func (g *gen) dstBaseT512(t int) string {
	if t == 3 {
		g.p("LEAQ (DI)(BX*2), AX")
		g.p("ADDQ BX, AX")
	}
	return [...]string{"(DI)", "(DI)(BX*1)", "(DI)(BX*2)", "(AX)", "(AX)(BX*1)", "(AX)(BX*2)"}[t]
}

// blockT512 emits one column block of v zmm vectors for nt tokens over all k
// weight rows, starting from zero or, when accum is set, from dst.
func (g *gen) blockT512(e elem, nt, v int) {
	acc := func(t, h int) int { return 8 + t*v + h }
	load, start := g.newLabel("zload"), g.newLabel("zstart")
	g.p("CMPQ accum+64(FP), $0")
	g.p("JNE %s", load)
	for t := 0; t < nt; t++ {
		for h := 0; h < v; h++ {
			a := acc(t, h)
			g.p("VPXORD Z%d, Z%d, Z%d", a, a, a)
		}
	}
	g.p("JMP %s", start)
	g.lbl(load)
	for t := 0; t < nt; t++ {
		base := g.dstBaseT512(t)
		for h := 0; h < v; h++ {
			g.p("VMOVUPS %s, Z%d", disp(h*64, base), acc(t, h))
		}
	}
	g.lbl(start)
	g.p("MOVQ SI, R12")
	g.p("LEAQ (SI)(R8*1), R14")
	g.p("MOVQ R9, R13")
	g.p("MOVQ k+32(FP), CX")
	loop := g.newLabel("zrow")
	g.lbl(loop)
	for h := 0; h < v; h++ {
		g.loadW512(e, disp(h*16*e.size, "(R13)"), h)
	}
	for t := 0; t < nt; t++ {
		g.p("VBROADCASTSS %s, Z4", xAddrT512(t))
		for h := 0; h < v; h++ {
			g.p("VFMADD231PS Z%d, Z4, Z%d", h, acc(t, h))
		}
	}
	g.p("ADDQ $4, R12")
	g.p("ADDQ $4, R14")
	g.p("ADDQ R10, R13")
	g.p("DECQ CX")
	g.p("JNZ %s", loop)
	for t := 0; t < nt; t++ {
		base := g.dstBaseT512(t)
		for h := 0; h < v; h++ {
			g.p("VMOVUPS Z%d, %s", acc(t, h), disp(h*64, base))
		}
	}
}

// gemmT512Kernel emits
//
//	func gemmT512<nt><E>(dst *float32, ldd int, x *float32, ldx, k int, wt *T, ldw, cols, accum int)
//
// as gemmTKernel, with cols a positive multiple of 16.
func (g *gen) gemmT512Kernel(e elem, nt int) {
	name := fmt.Sprintf("gemmT512%d%s", nt, e.name)
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, ldd int, x *float32, ldx, k int, wt *%s, ldw, cols, accum int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ ldd+8(FP), BX")
	g.p("SHLQ $2, BX")
	g.p("MOVQ x+16(FP), SI")
	g.p("MOVQ ldx+24(FP), DX")
	g.p("SHLQ $2, DX")
	g.p("LEAQ (DX)(DX*2), R8")
	g.p("MOVQ wt+40(FP), R9")
	g.p("MOVQ ldw+48(FP), R10")
	g.shl(shiftFor(e.size), "R10")
	g.p("MOVQ cols+56(FP), R11")
	wide, tail, end := g.newLabel("zwide"), g.newLabel("ztail"), g.newLabel("zend")
	g.lbl(wide)
	g.p("CMPQ R11, $64")
	g.p("JB %s", tail)
	g.blockT512(e, nt, 4)
	g.p("ADDQ $256, DI")
	g.p("ADDQ $%d, R9", 64*e.size)
	g.p("SUBQ $64, R11")
	g.p("JMP %s", wide)
	g.lbl(tail)
	for v := 3; v >= 1; v-- {
		next := g.newLabel("znext")
		g.p("CMPQ R11, $%d", 16*v)
		g.p("JNE %s", next)
		g.blockT512(e, nt, v)
		g.p("JMP %s", end)
		g.lbl(next)
	}
	g.lbl(end)
	g.p("VZEROUPPER")
	g.p("RET")
}

// decode512 emits
//
//	func decode<E>Avx512(dst *float32, ldd int, src *T, lds, rows, cols int)
//
// writing the float32 values of rows x cols weights (rows ldd and lds
// elements apart, rows >= 1, cols a positive multiple of 16) to dst, with
// the conversion of loadW512 (exact): the multi-token products decode a
// block of weights once and run the float32 kernels over it.
func (g *gen) decode512(e elem) {
	name := fmt.Sprintf("decode%sAvx512", e.name)
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, ldd int, src *%s, lds, rows, cols int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ ldd+8(FP), R8")
	g.p("SHLQ $2, R8")
	g.p("MOVQ src+16(FP), SI")
	g.p("MOVQ lds+24(FP), R9")
	g.shl(shiftFor(e.size), "R9")
	g.p("MOVQ rows+32(FP), R10")
	row, pair, single, next := g.newLabel("drow"), g.newLabel("dpair"), g.newLabel("dsingle"), g.newLabel("dnext")
	g.lbl(row)
	g.p("XORQ AX, AX") // element offset in the row
	g.p("MOVQ cols+40(FP), CX")
	g.lbl(pair)
	g.p("CMPQ CX, $32")
	g.p("JB %s", single)
	g.loadW512(e, fmt.Sprintf("(SI)(AX*%d)", e.size), 0)
	g.loadW512(e, fmt.Sprintf("%d(SI)(AX*%d)", 16*e.size, e.size), 1)
	g.p("VMOVUPS Z0, (DI)(AX*4)")
	g.p("VMOVUPS Z1, 64(DI)(AX*4)")
	g.p("ADDQ $32, AX")
	g.p("SUBQ $32, CX")
	g.p("JMP %s", pair)
	g.lbl(single)
	g.unlessZero("CX", next, func() {
		g.loadW512(e, fmt.Sprintf("(SI)(AX*%d)", e.size), 0)
		g.p("VMOVUPS Z0, (DI)(AX*4)")
	})
	g.p("ADDQ R8, DI")
	g.p("ADDQ R9, SI")
	g.p("DECQ R10")
	g.p("JNZ %s", row)
	g.p("VZEROUPPER")
	g.p("RET")
}

// AVX-512 one-token sparse kernels: sparse512Kernel emits
//
//	func sparseRows4<E>Avx512(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *T, ldw int)
//
// computing dst[c] = sum_j vals[j] * wt[idx[j]*ldw + c] for c < cols (a
// multiple of 32), nnz >= 1. dst is cleared, then updated four listed rows
// at a time: for each 32 columns the outputs are loaded, given one fused
// multiply-add per row in increasing j and stored, so every output is the
// same chain, rounded at the same steps, as in the AVX2 kernels (which keep
// it in a register): the results are bitwise theirs. Each row is read as
// one run of cols elements (the AVX2 kernels read 64 columns of every row
// per pass), and while a group of four rows is read the same columns of the
// next four are prefetched (the listed rows are scattered, beyond what the
// hardware prefetchers predict): every 64-byte line once for float32 and
// 16-bit weights, twice for int8 (32 bytes of a row per step). The kernels
// differ only in how 16 weights are widened to float32 (loadW512; float32
// weights are the multiply-add's memory operand); int8 codes are widened
// exactly and vals carry the row scales.
//
// Registers: DI dst, R10 bytes of weights per row, R8 the current entry of
// idx, SI of vals, CX the end of idx, R11 the byte offset in the weight
// rows, AX BX DX R12 the current rows, R9 R13 R14 R15 the rows prefetched.
func (g *gen) sparse512Kernel(e elem) {
	name := fmt.Sprintf("sparseRows4%sAvx512", e.name)
	// The shifts are emitted also when 0 (int8), as the hand-written
	// kernels these replace had them: the same bytes.
	shift := shiftFor(e.size)
	step := 32 * e.size                          // weight bytes of a row per 32 columns
	dst := fmt.Sprintf("(DI)(R11*%d)", 4/e.size) // dst of the columns at weight byte R11
	fmt.Fprintf(&g.buf, "\n// func %s(dst *float32, cols int, idx *int32, vals *float32, nnz int, wt *%s, ldw int)\n", name, e.goT)
	fmt.Fprintf(&g.buf, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ cols+8(FP), R10")
	g.p("SHLQ $%d, R10", shift)
	g.p("MOVQ idx+16(FP), R8")
	g.p("MOVQ vals+24(FP), SI")
	g.p("MOVQ nnz+32(FP), CX")
	g.p("LEAQ (R8)(CX*4), CX")
	// Clear dst, 128 bytes per step.
	g.p("VXORPS Z0, Z0, Z0")
	g.p("XORQ R11, R11")
	zero := g.newLabel("szero")
	g.lbl(zero)
	g.p("VMOVUPS Z0, %s", dst)
	g.p("VMOVUPS Z0, 64%s", dst)
	g.p("ADDQ $%d, R11", step)
	g.p("CMPQ R11, R10")
	g.p("JB %s", zero)
	// row points reg at the weight row listed at addr.
	row := func(addr, reg string) {
		g.p("MOVLQSX %s, %s", addr, reg)
		g.p("IMULQ ldw+48(FP), %s", reg)
		g.p("SHLQ $%d, %s", shift, reg)
		g.p("ADDQ wt+40(FP), %s", reg)
	}
	// columns emits one pass over the columns of the rows in regs, each
	// row scaled by its value in Z16 upwards, prefetching the rows in
	// next.
	columns := func(regs, next []string) {
		loop := g.newLabel("scol")
		g.p("XORQ R11, R11")
		g.lbl(loop)
		g.p("VMOVUPS %s, Z0", dst)
		g.p("VMOVUPS 64%s, Z1", dst)
		halves := [4][2]int{{2, 3}, {4, 5}, {6, 7}, {8, 10}} // registers of the widened weights
		operand := make([][2]string, len(regs))
		for r, reg := range regs {
			for h := 0; h < 2; h++ {
				addr := disp(h*16*e.size, "("+reg+")(R11*1)")
				if e == f32 {
					operand[r][h] = addr
				} else {
					g.loadW512(e, addr, halves[r][h])
					operand[r][h] = fmt.Sprintf("Z%d", halves[r][h])
				}
			}
		}
		for r := range regs {
			for h := 0; h < 2; h++ {
				g.p("VFMADD231PS %s, Z%d, Z%d", operand[r][h], 16+r, h)
			}
		}
		g.p("VMOVUPS Z0, %s", dst)
		g.p("VMOVUPS Z1, 64%s", dst)
		for line := 0; line < max(step/64, 1); line++ {
			for _, reg := range next {
				g.p("PREFETCHT0 %s", disp(line*64, "("+reg+")(R11*1)"))
			}
		}
		g.p("ADDQ $%d, R11", step)
		g.p("CMPQ R11, R10")
		g.p("JB %s", loop)
	}
	group, rest, one, done := g.newLabel("sgroup"), g.newLabel("srest"), g.newLabel("sone"), g.newLabel("sdone")
	g.p("LEAQ 16(R8), AX")
	g.p("CMPQ AX, CX")
	g.p("JA %s", rest)
	// Four rows at a time.
	g.lbl(group)
	cur, next := []string{"AX", "BX", "DX", "R12"}, []string{"R9", "R13", "R14", "R15"}
	for r, reg := range cur {
		row(disp(4*r, "(R8)"), reg)
	}
	// The rows four entries on, or the last listed row past the end.
	for r, reg := range next {
		listed := g.newLabel("snext")
		g.p("LEAQ %d(R8), %s", 16+4*r, reg)
		g.p("CMPQ %s, CX", reg)
		g.p("JB %s", listed)
		g.p("LEAQ -4(CX), %s", reg)
		g.lbl(listed)
		row("("+reg+")", reg)
	}
	for r := range cur {
		g.p("VBROADCASTSS %s, Z%d", disp(4*r, "(SI)"), 16+r)
	}
	columns(cur, next)
	g.p("ADDQ $16, R8")
	g.p("ADDQ $16, SI")
	g.p("LEAQ 16(R8), AX")
	g.p("CMPQ AX, CX")
	g.p("JBE %s", group)
	// The last rows one at a time.
	g.lbl(rest)
	g.loopBelow("R8", "CX", one, done, func() {
		row("(R8)", "AX")
		g.p("VBROADCASTSS (SI), Z16")
		columns(cur[:1], nil)
		g.p("ADDQ $4, R8")
		g.p("ADDQ $4, SI")
	})
	g.p("VZEROUPPER")
	g.p("RET")
}
