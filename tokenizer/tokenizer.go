// Package tokenizer converts between text and the token ids of RWKV models.
//
// Three tokenizers are provided, all byte-exact with their references:
//
//   - World (World): the RWKV World vocabulary (rwkv_vocab_v20230424.txt) used
//     by RWKV v5, v6 and v7 World models. Text is encoded by greedy longest
//     match over the vocabulary's byte strings. Id 0 is end-of-text.
//   - NeoX BPE (BPE): a Hugging Face tokenizer.json with a byte-level BPE
//     model, such as 20B_tokenizer.json used by RWKV-4 Pile and Raven models.
//   - Bytes (Bytes): id = byte value, for the tiny vocab-256 models.
//
// Every tokenizer encodes any byte string (World and Bytes reproduce the input
// bytes exactly on decode; BPE reproduces its normalized form), so Encode never
// fails. Decoding an id the tokenizer does not know is an error.
//
// Load reads a tokenizer file of either kind; ForModel picks the tokenizer
// for a model from its vocabulary size, an explicit path or the files next to
// the model.
//
// Tokens often end in the middle of a UTF-8 character; StreamDecoder turns a
// stream of ids into text without ever emitting half a character.
//
// All tokenizers are safe for concurrent use.
package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Tokenizer converts text to token ids and back.
type Tokenizer interface {
	// Encode returns the token ids of text. Any byte string can be encoded,
	// including invalid UTF-8; the result is never nil.
	Encode(text []byte) []int
	// Decode returns the bytes of the tokens ids. The result may end in (or
	// contain) an incomplete UTF-8 sequence when the ids split a character.
	// An id outside the vocabulary is an error (*UnknownIDError).
	Decode(ids []int) ([]byte, error)
	// VocabSize returns one more than the largest id the tokenizer can
	// produce or decode. A model's vocabulary may be padded larger.
	VocabSize() int
	// EndOfText returns the id of the end-of-text token, if the vocabulary
	// has one.
	EndOfText() (id int, ok bool)
	// Name returns a short name of the tokenizer kind: "world", "bpe" or
	// "bytes".
	Name() string
}

// UnknownIDError reports a token id that a tokenizer cannot decode.
type UnknownIDError struct {
	ID        int    // the offending id
	Tokenizer string // Name of the tokenizer
}

// Error describes the unknown id.
func (e *UnknownIDError) Error() string {
	return fmt.Sprintf("tokenizer %s: unknown token id %d", e.Tokenizer, e.ID)
}

// appender is implemented by the tokenizers of this package to decode one
// token without allocating.
type appender interface {
	appendToken(dst []byte, id int) ([]byte, error)
}

// decodeWith implements Decode through appendToken.
func decodeWith(a appender, ids []int) ([]byte, error) {
	out := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		var err error
		out, err = a.appendToken(out, id)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Kind names of the tokenizers, as returned by Name.
const (
	KindWorld = "world"
	KindBPE   = "bpe"
	KindBytes = "bytes"
)

// Load reads a tokenizer file: an RWKV World vocabulary (.txt, lines of
// "id literal length") or a Hugging Face tokenizer.json. The format is
// detected from the content, not the file name.
func Load(path string) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	return t, nil
}

// Parse builds a tokenizer from the content of a tokenizer file (see Load).
func Parse(data []byte) (Tokenizer, error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("empty tokenizer file")
	case trimmed[0] == '{':
		return NewBPE(data)
	case trimmed[0] >= '0' && trimmed[0] <= '9':
		return NewWorld(data)
	}
	return nil, errors.New("unrecognized tokenizer file: expected an RWKV World vocabulary (lines of \"id literal length\") or a Hugging Face tokenizer.json")
}

// Candidate file names searched for next to a model by ForModel, in order.
var (
	worldNames = []string{"rwkv_vocab_v20230424.txt", "*vocab*.txt"}
	bpeNames   = []string{"tokenizer.json", "20B_tokenizer.json", "*tokenizer*.json"}
)

// Compatible reports whether a tokenizer can serve a model with vocabSize
// logits: the model's vocabulary must cover every tokenizer id and may be
// padded larger, but by less than 1024 entries beyond the next multiple of
// 1024 (the usual padding to 64, 128, 256, ... entries). vocabSize <= 0 means
// unknown and is always compatible.
func Compatible(t Tokenizer, vocabSize int) bool {
	if vocabSize <= 0 {
		return true
	}
	n := t.VocabSize()
	return vocabSize >= n && vocabSize <= (n+1023)/1024*1024
}

// ForModel picks the tokenizer for a model with vocabSize logits whose file
// is modelPath. An explicit tokenizer path wins; otherwise a vocab-256 model
// uses Bytes, and other models use a tokenizer file found in the model's
// directory: for World-sized vocabularies (65536) rwkv_vocab_v20230424.txt or
// *vocab*.txt, for NeoX-sized ones (50277, 50304, 50432) tokenizer.json,
// 20B_tokenizer.json or *tokenizer*.json; for other sizes any of these. The
// tokenizer must be Compatible with vocabSize. The error lists what was
// looked for.
func ForModel(vocabSize int, modelPath, explicitPath string) (Tokenizer, error) {
	if explicitPath != "" {
		t, err := Load(explicitPath)
		if err != nil {
			return nil, err
		}
		if !Compatible(t, vocabSize) {
			return nil, fmt.Errorf("tokenizer %s (%s, %d ids) does not fit a model with vocabulary size %d", explicitPath, t.Name(), t.VocabSize(), vocabSize)
		}
		return t, nil
	}
	if vocabSize == 256 {
		return Bytes(), nil
	}
	var patterns []string
	switch {
	case vocabSize >= 65530 && vocabSize <= 66560:
		patterns = worldNames
	case vocabSize >= 50277 && vocabSize <= 51200:
		patterns = bpeNames
	default:
		patterns = append(append([]string{}, worldNames...), bpeNames...)
	}
	dir := filepath.Dir(modelPath)
	var tried []string
	var problems []string
	seen := map[string]bool{}
	for _, pat := range patterns {
		matches, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			if st, err := os.Stat(m); err != nil || st.IsDir() {
				continue
			}
			tried = append(tried, filepath.Base(m))
			t, err := Load(m)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if !Compatible(t, vocabSize) {
				problems = append(problems, fmt.Sprintf("%s: %s tokenizer with %d ids does not fit vocabulary size %d", m, t.Name(), t.VocabSize(), vocabSize))
				continue
			}
			return t, nil
		}
	}
	msg := fmt.Sprintf("no tokenizer for model %s with vocabulary size %d: looked in %s for %s", modelPath, vocabSize, dir, strings.Join(patterns, ", "))
	if len(tried) == 0 {
		msg += " (none found)"
	} else {
		msg += "; found " + strings.Join(tried, ", ") + " but: " + strings.Join(problems, "; ")
	}
	return nil, errors.New(msg + "; give a World vocabulary .txt or a tokenizer.json explicitly")
}

// byteTok is the identity tokenizer of vocab-256 models.
type byteTok struct{}

// Bytes returns the byte-level tokenizer of vocab-256 models: the id of a byte
// is its value. It has no end-of-text token.
func Bytes() Tokenizer { return byteTok{} }

func (byteTok) Encode(text []byte) []int {
	ids := make([]int, len(text))
	for i, b := range text {
		ids[i] = int(b)
	}
	return ids
}

func (b byteTok) Decode(ids []int) ([]byte, error) { return decodeWith(b, ids) }

func (byteTok) appendToken(dst []byte, id int) ([]byte, error) {
	if id < 0 || id > 255 {
		return dst, &UnknownIDError{ID: id, Tokenizer: KindBytes}
	}
	return append(dst, byte(id)), nil
}

func (byteTok) VocabSize() int               { return 256 }
func (byteTok) EndOfText() (id int, ok bool) { return -1, false }
func (byteTok) Name() string                 { return KindBytes }
