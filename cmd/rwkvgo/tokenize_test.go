package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func TestTokenizeWorld(t *testing.T) {
	vocab := testdata.Path(t, "tokenizers/rwkv_vocab_v20230424.txt")
	text := "Hello, world! こんにちは、世界！"
	want := "[33155,45,40213,34,33,10115,10165,10136,10127,10139,10079,10267,14610,19126]\n"
	code, out, errs := runCLI("tokenize", "--tokenizer", vocab, "--text", text)
	if code != 0 || out != want {
		t.Fatalf("tokenize: code %d, out %q, err %q", code, out, errs)
	}
	// --file reads the text from a file.
	f := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI("tokenize", "--tokenizer", vocab, "--file", f); code != 0 || out != want {
		t.Fatalf("tokenize --file: code %d, out %q, err %q", code, out, errs)
	}
	ids := strings.Trim(strings.TrimSpace(want), "[]")
	if code, out, errs := runCLI("detokenize", "--tokenizer", vocab, "--ids", ids); code != 0 || out != text {
		t.Fatalf("detokenize: code %d, out %q, err %q", code, out, errs)
	}
	if code, out, _ := runCLI("detokenize", "--tokenizer", vocab, "--ids", "[33155, 45]"); code != 0 || out != "Hello," {
		t.Fatalf("detokenize JSON ids: code %d, out %q", code, out)
	}
}

func TestTokenizeNeoX(t *testing.T) {
	tj := testdata.Path(t, "tokenizers/20B_tokenizer.json")
	code, out, errs := runCLI("tokenize", "--tokenizer", tj, "--text", "Hello World!")
	if code != 0 || out != "[12092,3645,2]\n" {
		t.Fatalf("tokenize: code %d, out %q, err %q", code, out, errs)
	}
	if code, out, errs := runCLI("detokenize", "--tokenizer", tj, "--ids", "12092,3645,2"); code != 0 || out != "Hello World!" {
		t.Fatalf("detokenize: code %d, out %q, err %q", code, out, errs)
	}
}

func TestTokenizeFixture(t *testing.T) {
	vocab := "../../tokenizer/testdata/small_world_vocab.txt"
	if code, out, errs := runCLI("tokenize", "--tokenizer", vocab, "--text", ""); code != 0 || out != "[]\n" {
		t.Fatalf("empty text: code %d, out %q, err %q", code, out, errs)
	}
	if code, out, errs := runCLI("tokenize", "--tokenizer", vocab, "--text", "hello world"); code != 0 || out != "[263,264]\n" {
		t.Fatalf("tokenize: code %d, out %q, err %q", code, out, errs)
	}
	if code, out, errs := runCLI("detokenize", "--tokenizer", vocab, "--ids", ""); code != 0 || out != "" {
		t.Fatalf("empty ids: code %d, out %q, err %q", code, out, errs)
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tokenize", "--text", "x"}, 2, "--tokenizer is required"},
		{[]string{"tokenize", "--tokenizer", vocab}, 2, "exactly one of --text and --file"},
		{[]string{"tokenize", "--tokenizer", vocab, "--text", "a", "--file", "b"}, 2, "exactly one"},
		{[]string{"tokenize", "--tokenizer", vocab, "--text", "a", "extra"}, 2, "unexpected arguments"},
		{[]string{"tokenize", "--tokenizer", vocab, "--file", "/nonexistent/file"}, 1, "no such file"},
		{[]string{"tokenize", "--tokenizer", "/nonexistent/vocab.txt", "--text", "a"}, 1, "no such file"},
		{[]string{"tokenize", "--bogus"}, 2, "bogus"},
		{[]string{"detokenize", "--tokenizer", vocab}, 2, "--ids is required"},
		{[]string{"detokenize", "--ids", "1"}, 2, "--tokenizer is required"},
		{[]string{"detokenize", "--tokenizer", vocab, "--ids", "1,x"}, 2, `bad token id "x"`},
		{[]string{"detokenize", "--tokenizer", vocab, "--ids", "1,99999"}, 1, "unknown token id 99999"},
		{[]string{"detokenize", "--tokenizer", vocab, "--ids", "-5"}, 1, "unknown token id -5"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%q: code %d (want %d), stderr %q (want %q)", c.args, code, c.code, errs, c.msg)
		}
	}
	if code, _, errs := runCLI("tokenize", "-h"); code != 0 || !strings.Contains(errs, "usage: rwkvgo tokenize") {
		t.Errorf("-h: code %d, stderr %q", code, errs)
	}
}
