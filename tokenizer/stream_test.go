package tokenizer

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStreamDecoderBytes(t *testing.T) {
	d := NewStreamDecoder(Bytes())
	steps := []struct {
		b    byte
		want string
	}{
		{'a', "a"},
		{0xe4, ""}, {0xb8, ""}, {0xad, "中"},
		{0xf0, ""}, {0x9f, ""}, {0x98, ""}, {0x80, "😀"},
		{0xff, "\xff"},             // never valid: emitted at once
		{0x80, "\x80"},             // stray continuation byte
		{0xe6, ""}, {'x', "\xe6x"}, // cut short by a byte that cannot continue it
		{0xe0, ""}, {0x80, "\xe0\x80"}, // invalid second byte
		{0xc3, ""},
	}
	for i, s := range steps {
		got, err := d.Write(int(s.b))
		if err != nil || got != s.want {
			t.Fatalf("step %d: Write(%#x) = %q, %v; want %q", i, s.b, got, err, s.want)
		}
	}
	if d.Pending() != 1 {
		t.Fatalf("Pending = %d", d.Pending())
	}
	if got := d.Flush(); got != "\xc3" {
		t.Fatalf("Flush = %q", got)
	}
	if got := d.Flush(); got != "" {
		t.Fatalf("second Flush = %q", got)
	}
	// Unknown ids are errors and leave the state alone.
	d.Write(0xe4)
	if _, err := d.Write(256); !errors.As(err, new(*UnknownIDError)) {
		t.Fatalf("Write(256) error = %v", err)
	}
	if got, _ := d.Write(0xb8); got != "" {
		t.Fatalf("got %q", got)
	}
	if got, _ := d.Write(0xad); got != "中" {
		t.Fatalf("got %q", got)
	}
}

// streamAll decodes ids through a StreamDecoder and checks every piece.
func streamAll(t *testing.T, tok Tokenizer, ids []int, validInput bool) string {
	t.Helper()
	d := NewStreamDecoder(tok)
	var sb strings.Builder
	for _, id := range ids {
		s, err := d.Write(id)
		if err != nil {
			t.Fatal(err)
		}
		if validInput && !utf8.ValidString(s) {
			t.Fatalf("Write emitted invalid UTF-8 %q", s)
		}
		sb.WriteString(s)
	}
	sb.WriteString(d.Flush())
	return sb.String()
}

func TestStreamDecoderTokenizers(t *testing.T) {
	text := "Hello, 世界! こんにちは 😀👍🏽 naïve café\n" + strings.Repeat("多字节字符测试。", 20)
	toks := []Tokenizer{Bytes(), loadFixture(t, "small_world_vocab.txt"), loadFixture(t, "small_tokenizer.json")}
	for _, tok := range toks {
		ids := tok.Encode([]byte(text))
		if got := streamAll(t, tok, ids, true); got != text {
			t.Errorf("%s: streamed %q", tok.Name(), got)
		}
	}
}

func TestStreamDecoderShared(t *testing.T) {
	for _, rel := range []string{worldVocabRel, neoxRel} {
		tok := shared(t, rel)
		text := "RWKV 是一种 RNN，具有 Transformer 级别的 LLM 性能。🦜🦜 Ελληνικά, العربية, हिन्दी."
		ids := tok.Encode([]byte(text))
		split := false
		for _, id := range ids {
			b, _ := tok.Decode([]int{id})
			split = split || !utf8.Valid(b)
		}
		if !split {
			t.Errorf("%s: no token splits a character; test text too easy", tok.Name())
		}
		if got := streamAll(t, tok, ids, true); got != text {
			t.Errorf("%s: streamed %q", tok.Name(), got)
		}
	}
}

func TestCompletePrefix(t *testing.T) {
	cases := map[string]int{
		"":              0,
		"abc":           3,
		"a\xe4":         1,
		"a\xe4\xb8":     1,
		"a\xe4\xb8\xad": 4,
		"\xf0\x9f\x98":  0,
		"\xf4\x90":      2, // beyond U+10FFFF: invalid at once
		"\xc0":          1,
		"\x80\x80\x80":  3,
		"\xed\xa0":      2, // surrogate: invalid
	}
	for in, want := range cases {
		if got := completePrefix([]byte(in)); got != want {
			t.Errorf("completePrefix(%q) = %d, want %d", in, got, want)
		}
	}
}
