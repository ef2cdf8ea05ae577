//go:build ignore

// This program writes kernels_amd64.s, the AVX2/FMA/F16C kernels of package
// vec. Run it with `go generate` in internal/vec.
//
// Every kernel computes each output with the same accumulation scheme (see the
// package documentation): 16 lanes held in two ymm accumulators, element i
// added to lane i%16 by a fused multiply-add in increasing i, the final partial
// block zero-padded through a stack scratch area (no read past a slice end),
// then the fixed reduction emitted by reduce. Kernels differ only in how many
// rows and tokens share one pass over k.
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
)

type gen struct {
	buf   bytes.Buffer
	label int
	shuf  int // ymm register holding bf16Shuf in the current kernel
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, "\t"+format+"\n", args...)
}

func (g *gen) lbl(name string) { fmt.Fprintf(&g.buf, "%s:\n", name) }

func (g *gen) newLabel(prefix string) string {
	g.label++
	return fmt.Sprintf("%s_%d", prefix, g.label)
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
		g.p("VPSHUFB Y%d, Y%d, Y%d", g.shuf, y, y)
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
	if size == 4 {
		g.p("MOVL (SI)(AX*4), DX")
		g.p("MOVL DX, %d(SP)(AX*4)", o)
	} else {
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
	if es == 4 {
		g.p("SHLQ $2, R14")
	} else {
		g.p("SHLQ $1, R14")
	}
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
	g.p("CMPQ R12, R13")
	g.p("JAE %s", done)
	g.lbl(loop)
	g.body(e, nr, nt, acc,
		func(r, h int) string { return off(rowReg[r], h, es) },
		func(t, h int) string { return off(tokReg[t], h, 4) })
	g.p("ADDQ $16, R12")
	g.p("CMPQ R12, R13")
	g.p("JB %s", loop)
	g.lbl(done)
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
	g.p("CMPQ AX, DX")
	g.p("JAE %s", c1)
	g.lbl(l8)
	g.loadW(e, fmt.Sprintf("(SI)(AX*%d)", es), 1)
	g.p("VFMADD213PS (DI)(AX*4), Y0, Y1")
	g.p("VMOVUPS Y1, (DI)(AX*4)")
	g.p("ADDQ $8, AX")
	g.p("CMPQ AX, DX")
	g.p("JB %s", l8)
	g.lbl(c1)
	g.p("CMPQ AX, CX")
	g.p("JAE %s", end)
	g.lbl(l1)
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
	}
	g.p("VFMADD213SS (DI)(AX*4), X0, X1")
	g.p("VMOVSS X1, (DI)(AX*4)")
	g.p("INCQ AX")
	g.p("CMPQ AX, CX")
	g.p("JB %s", l1)
	g.lbl(end)
	g.p("VZEROUPPER")
	g.p("RET")
	return name
}

func main() {
	g := &gen{}
	g.buf.WriteString("// Code generated by asm_gen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	// Shuffle control for bfloat16 -> float32 (see loadW).
	for d := 0; d < 8; d++ {
		fmt.Fprintf(&g.buf, "DATA bf16Shuf<>+%d(SB)/4, $0x%08x\n", 4*d, 0x8080|(2*d)<<16|(2*d+1)<<24)
	}
	g.buf.WriteString("GLOBL bf16Shuf<>(SB), RODATA|NOPTR, $32\n")
	for _, e := range []elem{f32, f16, bf16} {
		g.rowsKernel(e, 1, 1)
		g.rowsKernel(e, 4, 1)
		g.rowsKernel(e, 2, 2)
		g.rowsKernel(e, 2, 3)
		g.axpy(e)
	}
	out := strings.ReplaceAll(g.buf.String(), "\t\n", "\n")
	if err := os.WriteFile("kernels_amd64.s", []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
