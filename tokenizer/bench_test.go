package tokenizer

import (
	"fmt"
	"strings"
	"testing"
)

// mixedText returns about n bytes of mixed English and Chinese prose.
func mixedText(n int) []byte {
	en := []string{
		"The quick brown fox jumps over the lazy dog. ",
		"RWKV is an RNN with transformer-level LLM performance, and it can be trained directly like a GPT. ",
		"It's combining the best of RNN and transformer: great performance, fast inference, saves VRAM, fast training, \"infinite\" ctx_len, and free sentence embedding. ",
		"In 2023, the model reached 14 billion parameters; by 2024 it had 3 new versions (v5, v6 and v7).\n\n",
	}
	zh := []string{
		"RWKV是一种具有Transformer级别大语言模型性能的循环神经网络，",
		"它可以像GPT一样直接训练，并且可以并行化。",
		"今天天气很好，我们去公园散步吧！",
		"自然语言处理是人工智能领域中的一个重要方向。\n",
	}
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		sb.WriteString(en[i%len(en)])
		sb.WriteString(zh[(i*7)%len(zh)])
		fmt.Fprintf(&sb, "Item %d: 第%d项。 ", i, i*3)
	}
	return []byte(sb.String()[:n])
}

func benchEncode(b *testing.B, tok Tokenizer, text []byte) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkWorldEncode(b *testing.B) {
	benchEncode(b, sharedWorld(b), mixedText(1<<20))
}

func BenchmarkBPEEncode(b *testing.B) {
	benchEncode(b, sharedNeoX(b), mixedText(1<<20))
}

// BenchmarkBPEEncodeCold measures BPE without the word cache warmed up.
func BenchmarkBPEEncodeCold(b *testing.B) {
	tok := sharedNeoX(b)
	text := mixedText(1 << 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.cacheMu.Lock()
		clear(tok.cache)
		tok.cacheMu.Unlock()
		tok.Encode(text)
	}
}

func BenchmarkWorldDecode(b *testing.B) {
	tok := sharedWorld(b)
	text := mixedText(1 << 20)
	ids := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamDecoder(b *testing.B) {
	tok := sharedWorld(b)
	text := mixedText(1 << 16)
	ids := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		d := NewStreamDecoder(tok)
		for _, id := range ids {
			d.Write(id)
		}
		d.Flush()
	}
}

func BenchmarkLoadWorld(b *testing.B) {
	shared(b, worldVocabRel) // skip when absent
	for b.Loop() {
		loadUncached(b, worldVocabRel)
	}
}

func BenchmarkLoadBPE(b *testing.B) {
	shared(b, neoxRel)
	for b.Loop() {
		loadUncached(b, neoxRel)
	}
}
