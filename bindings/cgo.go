//go:build cuda

package bindings

/*
#cgo CFLAGS: -I${SRCDIR}/../csrc/include
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include "rwkvcu.h"

// rwkvcu_library_path names the file librwkvcu was loaded from (NULL if unknown).
static const char *rwkvcu_library_path(void) {
	Dl_info info;
	if (dladdr((void *)rwkvcu_abi_version, &info) == 0) return NULL;
	return info.dli_fname;
}
*/
import "C"

import "unsafe"

type (
	cctx = *C.rwkvcu_context
	cten = *C.rwkvcu_tensor
)

func cc(p ptr) cctx { return cctx(p) }
func ct(p ptr) cten { return cten(p) }
func ci(p *int32) *C.int32_t {
	return (*C.int32_t)(unsafe.Pointer(p))
}

// cs converts a sampler handle.
func cs(p ptr) *C.rwkvcu_sampler { return (*C.rwkvcu_sampler)(p) }

func init() { cgoAPI = newCgoAPI() }

// newCgoAPI binds the C ABI through cgo.
func newCgoAPI() *capi {
	return &capi{
		abiVersion: func() uint32 { return uint32(C.rwkvcu_abi_version()) },
		lastError:  func(ctx ptr) string { return C.GoString(C.rwkvcu_last_error(cc(ctx))) },
		contextCreate: func(dev int32, out *ptr) int32 {
			var c cctx
			rc := C.rwkvcu_context_create(C.int32_t(dev), &c)
			*out = ptr(c)
			return int32(rc)
		},
		contextDestroy: func(ctx ptr) { C.rwkvcu_context_destroy(cc(ctx)) },
		synchronize:    func(ctx ptr) int32 { return int32(C.rwkvcu_synchronize(cc(ctx))) },
		stats: func(ctx ptr, out *uint64, n int32) int32 {
			return int32(C.rwkvcu_stats(cc(ctx), (*C.uint64_t)(unsafe.Pointer(out)), C.int32_t(n)))
		},
		deviceInfo: func(ctx ptr, name *byte, nameLen uintptr, major, minor, sms *int32, mem *uint64, bw, f32, f16 *float64) int32 {
			return int32(C.rwkvcu_device_info(cc(ctx), (*C.char)(unsafe.Pointer(name)), C.size_t(nameLen), ci(major), ci(minor), ci(sms),
				(*C.uint64_t)(unsafe.Pointer(mem)), (*C.double)(unsafe.Pointer(bw)), (*C.double)(unsafe.Pointer(f32)), (*C.double)(unsafe.Pointer(f16))))
		},
		tensorNew: func(ctx ptr, dt int32, rows, cols int64, out *ptr) int32 {
			var t cten
			rc := C.rwkvcu_tensor_new(cc(ctx), C.int32_t(dt), C.int64_t(rows), C.int64_t(cols), &t)
			*out = ptr(t)
			return int32(rc)
		},
		tensorView: func(ctx, t ptr, rows int64, out *ptr) int32 {
			var v cten
			rc := C.rwkvcu_tensor_view(cc(ctx), ct(t), C.int64_t(rows), &v)
			*out = ptr(v)
			return int32(rc)
		},
		tensorFree: func(t ptr) { C.rwkvcu_tensor_free(ct(t)) },
		tensorUpload: func(ctx, t ptr, data unsafe.Pointer, n uintptr) int32 {
			return int32(C.rwkvcu_tensor_upload(cc(ctx), ct(t), data, C.size_t(n)))
		},
		tensorRead: func(ctx, t ptr, row int64, dst *float32, n uintptr) int32 {
			return int32(C.rwkvcu_tensor_read(cc(ctx), ct(t), C.int64_t(row), (*C.float)(unsafe.Pointer(dst)), C.size_t(n)))
		},
		tensorWrite: func(ctx, t ptr, row int64, src *float32, n uintptr) int32 {
			return int32(C.rwkvcu_tensor_write(cc(ctx), ct(t), C.int64_t(row), (*C.float)(unsafe.Pointer(src)), C.size_t(n)))
		},
		embed: func(ctx, out, emb ptr, tokens *int32, n int64) int32 {
			return int32(C.rwkvcu_embed(cc(ctx), ct(out), ct(emb), ci(tokens), C.int64_t(n)))
		},
		groupNorm: func(ctx, out, x, w, b ptr, groups int32, eps float32) int32 {
			return int32(C.rwkvcu_group_norm(cc(ctx), ct(out), ct(x), ct(w), ct(b), C.int32_t(groups), C.float(eps)))
		},
		matmul:  func(ctx, out, x, w ptr) int32 { return int32(C.rwkvcu_matmul(cc(ctx), ct(out), ct(x), ct(w))) },
		matmulT: func(ctx, out, x, wt ptr) int32 { return int32(C.rwkvcu_matmul_t(cc(ctx), ct(out), ct(x), ct(wt))) },
		mapFn: func(ctx, out, x ptr, fn int32) int32 {
			return int32(C.rwkvcu_map(cc(ctx), ct(out), ct(x), C.int32_t(fn)))
		},
		zip: func(ctx, out, a, b ptr, fn int32) int32 {
			return int32(C.rwkvcu_zip(cc(ctx), ct(out), ct(a), ct(b), C.int32_t(fn)))
		},
		slice: func(ctx, out, x ptr, col int64) int32 {
			return int32(C.rwkvcu_slice(cc(ctx), ct(out), ct(x), C.int64_t(col)))
		},
		gatherRows: func(ctx, out, x ptr, rows *int32, n int64) int32 {
			return int32(C.rwkvcu_gather_rows(cc(ctx), ct(out), ct(x), ci(rows), C.int64_t(n)))
		},
		beginStep: func(ctx ptr, offsets, slots *int32, nseq int32) int32 {
			return int32(C.rwkvcu_begin_step(cc(ctx), ci(offsets), ci(slots), C.int32_t(nseq)))
		},
		shift: func(ctx, prev, x, state ptr, off int64) int32 {
			return int32(C.rwkvcu_shift(cc(ctx), ct(prev), ct(x), ct(state), C.int64_t(off)))
		},
		mix: func(ctx, out, x, prev, mix ptr, style int32) int32 {
			return int32(C.rwkvcu_mix(cc(ctx), ct(out), ct(x), ct(prev), ct(mix), C.int32_t(style)))
		},
		mixN: func(ctx ptr, outs *ptr, x, prev ptr, mixes *ptr, count, style int32) int32 {
			return int32(C.rwkvcu_mix_n(cc(ctx), (**C.rwkvcu_tensor)(unsafe.Pointer(outs)), ct(x), ct(prev),
				(**C.rwkvcu_tensor)(unsafe.Pointer(mixes)), C.int32_t(count), C.int32_t(style)))
		},
		wkv4: func(ctx, out, k, v, w, u, state ptr, off int64) int32 {
			return int32(C.rwkvcu_wkv4(cc(ctx), ct(out), ct(k), ct(v), ct(w), ct(u), ct(state), C.int64_t(off)))
		},
		wkv5: func(ctx, out, r, k, v, w, u, state ptr, off int64, heads int32) int32 {
			return int32(C.rwkvcu_wkv5(cc(ctx), ct(out), ct(r), ct(k), ct(v), ct(w), ct(u), ct(state), C.int64_t(off), C.int32_t(heads)))
		},
		wkv7: func(ctx, out, r, w, k, v, kk, a, state ptr, off int64, heads int32) int32 {
			return int32(C.rwkvcu_wkv7(cc(ctx), ct(out), ct(r), ct(w), ct(k), ct(v), ct(kk), ct(a), ct(state), C.int64_t(off),
				C.int32_t(heads)))
		},
		keyV7: func(ctx, kk, k, a, kK, kA ptr, heads int32) int32 {
			return int32(C.rwkvcu_key_v7(cc(ctx), ct(kk), ct(k), ct(a), ct(kK), ct(kA), C.int32_t(heads)))
		},
		valueV7: func(ctx, v, first, gate ptr) int32 {
			return int32(C.rwkvcu_value_v7(cc(ctx), ct(v), ct(first), ct(gate)))
		},
		bonusV7: func(ctx, out, r, k, v, rK ptr, heads int32) int32 {
			return int32(C.rwkvcu_bonus_v7(cc(ctx), ct(out), ct(r), ct(k), ct(v), ct(rK), C.int32_t(heads)))
		},
		samplerCreate: func(ctx ptr, rows, vocab int32, out *ptr) int32 {
			var s *C.rwkvcu_sampler
			rc := C.rwkvcu_sampler_create(cc(ctx), C.int32_t(rows), C.int32_t(vocab), &s)
			*out = ptr(s)
			return int32(rc)
		},
		samplerDestroy: func(s ptr) { C.rwkvcu_sampler_destroy(cs(s)) },
		samplerSetRow: func(s ptr, row int32, temperature float32, topK int32, topP, minP, repetition, presence, frequency, decay float32, seed, seq uint64) int32 {
			return int32(C.rwkvcu_sampler_set_row(cs(s), C.int32_t(row), C.float(temperature), C.int32_t(topK), C.float(topP), C.float(minP),
				C.float(repetition), C.float(presence), C.float(frequency), C.float(decay), C.uint64_t(seed), C.uint64_t(seq)))
		},
		samplerSetBias: func(s ptr, row int32, ids *int32, values *float32, n int32) int32 {
			return int32(C.rwkvcu_sampler_set_bias(cs(s), C.int32_t(row), ci(ids), (*C.float)(unsafe.Pointer(values)), C.int32_t(n)))
		},
		samplerObserve: func(s ptr, row int32, tokens *int32, n int32) int32 {
			return int32(C.rwkvcu_sampler_observe(cs(s), C.int32_t(row), ci(tokens), C.int32_t(n)))
		},
		sample: func(s, logits ptr, step uint64, tokens *int32, probs *float32) int32 {
			return int32(C.rwkvcu_sample(cs(s), ct(logits), C.uint64_t(step), ci(tokens), (*C.float)(unsafe.Pointer(probs))))
		},
		graphBegin: func(ctx ptr, staging uintptr) int32 { return int32(C.rwkvcu_graph_begin(cc(ctx), C.size_t(staging))) },
		graphEnd: func(ctx ptr, out *ptr) int32 {
			var g *C.rwkvcu_graph
			rc := C.rwkvcu_graph_end(cc(ctx), &g)
			*out = ptr(g)
			return int32(rc)
		},
		graphInputs: func(g ptr, n *int32) int32 {
			return int32(C.rwkvcu_graph_input_count((*C.rwkvcu_graph)(g), ci(n)))
		},
		graphSetInput: func(ctx, g ptr, index int32, data unsafe.Pointer, n uintptr) int32 {
			return int32(C.rwkvcu_graph_set_input(cc(ctx), (*C.rwkvcu_graph)(g), C.int32_t(index), data, C.size_t(n)))
		},
		graphLaunch:  func(ctx, g ptr) int32 { return int32(C.rwkvcu_graph_launch(cc(ctx), (*C.rwkvcu_graph)(g))) },
		graphDestroy: func(g ptr) { C.rwkvcu_graph_destroy((*C.rwkvcu_graph)(g)) },
		path: func() string {
			if p := C.rwkvcu_library_path(); p != nil {
				return C.GoString(p)
			}
			return ""
		},
	}
}
