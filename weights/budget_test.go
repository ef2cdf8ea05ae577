package weights

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// ggmlRecord builds one rwkv.cpp tensor record header (no data).
func ggmlRecord(name string, code uint32, ne ...uint32) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(len(ne)))
	b = le.AppendUint32(b, uint32(len(name)))
	b = le.AppendUint32(b, code)
	for _, d := range ne {
		b = le.AppendUint32(b, d)
	}
	return append(b, name...)
}

// ggmlHeaderBytes builds an rwkv.cpp file header.
func ggmlHeaderBytes(nVocab, nEmbed, nLayer, code uint32) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, GGMLMagic)
	b = le.AppendUint32(b, GGMLVersion101)
	for _, v := range []uint32{nVocab, nEmbed, nLayer, code} {
		b = le.AppendUint32(b, v)
	}
	return b
}

// TestHugeDeclaredSizesRefusedWithoutAllocating crafts files of every format
// whose headers claim sizes far beyond the file or the address space. Each is
// refused with an error naming the problem, and refusing it allocates
// nothing near the claimed size.
func TestHugeDeclaredSizesRefusedWithoutAllocating(t *testing.T) {
	const maxU32 = math.MaxUint32
	bigDeflate := func(claim uint64) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.Create("a/data.pkl")
		require.NoError(t, err)
		n := int64(claim / 4)
		_, err = w.Write(newPickle().beginDict().str("w").tensor("FloatStorage", "0", n, 0, []int64{n}, []int64{1}).endDict())
		require.NoError(t, err)
		var def bytes.Buffer
		fw, _ := flate.NewWriter(&def, flate.BestCompression)
		fw.Write(make([]byte, 4096))
		fw.Close()
		w, err = zw.CreateRaw(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate,
			CompressedSize64: uint64(def.Len()), UncompressedSize64: claim})
		require.NoError(t, err)
		w.Write(def.Bytes())
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"ggml dims overflow", append(ggmlHeaderBytes(256, 64, 1, 0), ggmlRecord("emb.weight", 0, maxU32, maxU32, maxU32)...), "overflows"},
		{"ggml 64 GiB tensor in a tiny file", append(ggmlHeaderBytes(256, 64, 1, 0), ggmlRecord("emb.weight", 0, 1<<17, 1<<17)...), "needs 68719476736 bytes"},
		{"ggml quantized 16 EiB", append(ggmlHeaderBytes(256, 64, 1, 9), ggmlRecord("w", 9, maxU32&^31, maxU32, maxU32)...), "overflows"},
		{"safetensors shape overflow", st(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "overflows"},
		{"safetensors 4 TiB tensor", st(`{"a":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}`, make([]byte, 4)), "beyond the 4 byte data buffer"},
		{"safetensors bytes overflow", st(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}`, make([]byte, 4)), "bytes for shape"},
		{"safetensors 16 EiB header", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), `{}`...), "exceeds the 100000000 byte limit"},
		{"pth 4 TiB storage", pthWith(t, newPickle().beginDict().str("w").tensor("FloatStorage", "0", 1<<40, 0, []int64{1 << 40}, []int64{1}).endDict()), "declares 1099511627776 F32 elements"},
		{"pth view past storage", pthWith(t, newPickle().beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{1 << 31, 1 << 31}, []int64{1 << 31, 1}).endDict()), "exceed its storage"},
		{"pth compressed 1 TiB", bigDeflate(1 << 40), "compressed and too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = Decode(tc.data) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, n, uint64(4<<20), "refusal allocated %d bytes", n)
		})
	}
}

// TestHostMemoryBudget checks that data a file makes the reader copy or
// inflate is refused when it exceeds the memory the host has available.
func TestHostMemoryBudget(t *testing.T) {
	old := availableMemory
	t.Cleanup(func() { availableMemory = old })
	availableMemory = func() (uint64, bool) { return 1 << 20, true }

	require.NoError(t, CheckHostAlloc("x", 1<<20))
	err := CheckHostAlloc("the thing", 1<<20+1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the thing needs 1048577 bytes but only 1048576 bytes of memory are available")
	err = CheckHostAlloc("the thing", math.MaxUint64)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address space")

	// A 2 MiB compressed storage (within the inflate ratio) no longer fits.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a/data.pkl")
	const n = 1 << 19
	w.Write(newPickle().beginDict().str("w").tensor("FloatStorage", "0", n, 0, []int64{n}, []int64{1}).endDict())
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "a/data/0", Method: zip.Deflate})
	w.Write(make([]byte, 4*n))
	require.NoError(t, zw.Close())
	var got error
	alloc := allocated(func() { _, got = ReadPTH(buf.Bytes()) })
	require.Error(t, got)
	assert.Contains(t, got.Error(), `inflating pth entry "a/data/0" needs 2097152 bytes but only 1048576`)
	assert.Less(t, alloc, uint64(1<<20))

	// A state larger than the budget is refused before it is read.
	_, err = DecodeState(strings.NewReader(""), Config{Version: V7, Layers: 64, Embd: 1024, Heads: 16, HeadSize: 64})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "memory are available")

	// With the real host figure, the same archive loads.
	availableMemory = old
	_, err = ReadPTH(buf.Bytes())
	require.NoError(t, err)
	if avail, ok := hostAvailableMemory(); ok {
		assert.Greater(t, avail, uint64(0))
	}
}
