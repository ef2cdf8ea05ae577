package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxBPEID bounds the ids accepted in a tokenizer.json.
const maxBPEID = 1 << 21

// BPE is a Hugging Face byte-level BPE tokenizer (tokenizer.json), such as
// the GPT-NeoX 20B tokenizer of RWKV-4 Pile and Raven models. It reproduces
// the tokenizers library's Encode(text, add_special_tokens=true) and
// Decode(ids, skip_special_tokens=false):
//
//   - added tokens (special or not) in the input are recognized first, by
//     leftmost-longest match, honouring their single_word, lstrip, rstrip and
//     normalized flags;
//   - the normalizer (NFC, NFD, NFKC, NFKD or a sequence of them) is applied
//     to the text between added tokens;
//   - the ByteLevel pre-tokenizer splits it with the GPT-2 pattern (by hand,
//     including the \s+(?!\S) rule) after an optional prefix space, and maps
//     bytes to its printable alphabet;
//   - each piece is merged by rank.
//
// Invalid UTF-8 input is accepted: each invalid byte is a character of its own
// class (neither letter, number nor space) and goes through the byte alphabet,
// so decoding returns the normalized input bytes. The exception are bytes the
// vocabulary has no token for, which can only occur in invalid UTF-8 (0xc0,
// 0xc1 and 0xf5-0xff are missing from the GPT-NeoX vocabulary): each is
// encoded as U+FFFD. Create one with NewBPE or Load.
type BPE struct {
	byteID  [256]int32           // initial symbol of each byte
	merges  map[uint64]mergeRule // (left<<32 | right) -> rule
	vocab   map[string]int32     // token bytes -> id, for ignore_merges
	ignore  bool                 // model.ignore_merges
	buf     []byte               // decoded token bytes: id i is buf[off[i]:off[i+1]]
	off     []uint32
	known   []bool
	forms   []norm.Form // normalizer steps
	prefix  bool        // pre_tokenizer.add_prefix_space
	regex   bool        // pre_tokenizer.use_regex
	missing bool        // some byte has no token (byteID -1)
	raw     *addedMatcher
	normed  *addedMatcher
	eot     int
	cacheMu sync.RWMutex
	cache   map[string][]int32
}

type mergeRule struct {
	rank int32
	id   int32
}

// maxCache bounds the number of cached word encodings.
const maxCache = 1 << 16

type hfAddedToken struct {
	ID         *int    `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

type hfComponent struct {
	Type           string            `json:"type"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
	Processors     []json.RawMessage `json:"processors"`
	Decoders       []json.RawMessage `json:"decoders"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   hfVocab           `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

// hfVocab is a BPE model's token -> id map. Unlike a plain map it refuses a
// JSON object naming the same token twice, which would otherwise silently
// keep only the last id.
type hfVocab map[string]int

// UnmarshalJSON decodes the vocabulary object strictly.
func (v *hfVocab) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		*v = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("vocab is not a JSON object")
	}
	m := hfVocab{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("vocab has a non-string key")
		}
		var id int
		if err := dec.Decode(&id); err != nil {
			return fmt.Errorf("vocab token %q: id is not an integer: %w", key, err)
		}
		if prev, dup := m[key]; dup {
			return fmt.Errorf("vocab lists token %q twice (ids %d and %d)", key, prev, id)
		}
		m[key] = id
	}
	*v = m
	return nil
}

type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *hfModel        `json:"model"`
}

// parseComponent decodes an optional pipeline component; null gives "".
func parseComponent(raw json.RawMessage) (*hfComponent, error) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// byteLevelChars maps each byte to the printable character of the GPT-2
// byte-level alphabet, and byteOfChar is its inverse.
var (
	byteLevelChars [256]rune
	byteOfChar     = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			byteLevelChars[b] = rune(b)
		} else {
			byteLevelChars[b] = rune(256 + n)
			n++
		}
		byteOfChar[byteLevelChars[b]] = byte(b)
	}
}

// byteLevelDecode returns the bytes of a token string in the byte-level
// alphabet; a token with a character outside the alphabet is taken as its
// UTF-8 text, as the ByteLevel decoder does.
func byteLevelDecode(tok string) []byte {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := byteOfChar[r]
		if !ok {
			return []byte(tok)
		}
		out = append(out, b)
	}
	return out
}

// NewBPE parses a Hugging Face tokenizer.json with a BPE model and ByteLevel
// pre-tokenizer and decoder. Configurations this package cannot reproduce
// exactly (other models, normalizers, pre-tokenizers, decoders or post-
// processors that add tokens, dropout, subword prefixes, byte fallback) are
// errors rather than silently different encodings.
func NewBPE(data []byte) (*BPE, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	m := f.Model
	if m == nil {
		return nil, errors.New("tokenizer.json: no model")
	}
	if m.Type != "BPE" && !(m.Type == "" && m.Vocab != nil && m.Merges != nil) {
		return nil, fmt.Errorf("tokenizer.json: model type %q is not supported (want BPE)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, errors.New("tokenizer.json: BPE dropout is not supported")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, errors.New("tokenizer.json: continuing_subword_prefix is not supported")
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, errors.New("tokenizer.json: end_of_word_suffix is not supported")
	}
	if m.ByteFallback {
		return nil, errors.New("tokenizer.json: byte_fallback is not supported")
	}
	initClasses()
	t := &BPE{regex: true, ignore: m.IgnoreMerges, eot: -1, cache: map[string][]int32{}}

	// Normalizer.
	if err := t.setNormalizer(f.Normalizer, 0); err != nil {
		return nil, err
	}
	// Pre-tokenizer: ByteLevel, possibly alone in a Sequence.
	pre, err := parseComponent(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
	}
	if pre != nil && pre.Type == "Sequence" && len(pre.PreTokenizers) == 1 {
		if pre, err = parseComponent(pre.PreTokenizers[0]); err != nil {
			return nil, fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
		}
	}
	if pre == nil || pre.Type != "ByteLevel" {
		return nil, errors.New("tokenizer.json: only the ByteLevel pre_tokenizer is supported")
	}
	if pre.AddPrefixSpace != nil {
		t.prefix = *pre.AddPrefixSpace
	}
	if pre.UseRegex != nil {
		t.regex = *pre.UseRegex
	}
	// Decoder: ByteLevel (possibly alone in a Sequence).
	dec, err := parseComponent(f.Decoder)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: decoder: %w", err)
	}
	if dec != nil && dec.Type == "Sequence" && len(dec.Decoders) == 1 {
		if dec, err = parseComponent(dec.Decoders[0]); err != nil {
			return nil, fmt.Errorf("tokenizer.json: decoder: %w", err)
		}
	}
	if dec == nil || dec.Type != "ByteLevel" {
		return nil, errors.New("tokenizer.json: only the ByteLevel decoder is supported")
	}
	// Post-processor: ByteLevel only changes offsets; others add tokens.
	post, err := parseComponent(f.PostProcessor)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: post_processor: %w", err)
	}
	if post != nil && post.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer.json: post_processor %q is not supported", post.Type)
	}

	// Vocabulary.
	if len(m.Vocab) == 0 {
		return nil, errors.New("tokenizer.json: empty vocabulary")
	}
	maxID := -1
	toks := map[int]string{}
	for s, id := range m.Vocab {
		if id < 0 || id > maxBPEID {
			return nil, fmt.Errorf("tokenizer.json: vocab id %d out of range", id)
		}
		if prev, dup := toks[id]; dup {
			if prev > s {
				prev, s = s, prev
			}
			return nil, fmt.Errorf("tokenizer.json: tokens %q and %q share id %d", prev, s, id)
		}
		toks[id] = s
		maxID = max(maxID, id)
	}
	type added struct {
		tok addedToken
		raw bool
	}
	var addeds []added
	addedIDs := map[string]int{}
	for i, a := range f.AddedTokens {
		if a.ID == nil || a.Content == nil || *a.Content == "" {
			return nil, fmt.Errorf("tokenizer.json: added token %d lacks an id or content", i)
		}
		id := *a.ID
		if id < 0 || id > maxBPEID {
			return nil, fmt.Errorf("tokenizer.json: added token id %d out of range", id)
		}
		if prev, dup := addedIDs[*a.Content]; dup {
			return nil, fmt.Errorf("tokenizer.json: added token %q is listed twice (ids %d and %d)", *a.Content, prev, id)
		}
		addedIDs[*a.Content] = id
		if vid, ok := m.Vocab[*a.Content]; ok && vid != id {
			return nil, fmt.Errorf("tokenizer.json: added token %q has id %d but the vocabulary gives it id %d", *a.Content, id, vid)
		}
		if s, ok := toks[id]; ok && s != *a.Content {
			if _, inVocab := m.Vocab[s]; inVocab && m.Vocab[s] == id {
				return nil, fmt.Errorf("tokenizer.json: added token %q has the id %d of vocab token %q", *a.Content, id, s)
			}
			return nil, fmt.Errorf("tokenizer.json: added tokens %q and %q share id %d", s, *a.Content, id)
		}
		toks[id] = *a.Content
		maxID = max(maxID, id)
		// HF default: special tokens are not normalized, others are.
		normalized := !a.Special
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		content := []byte(*a.Content)
		if normalized {
			// Normalized tokens are matched in normalized text.
			content = t.normalize(content)
		}
		addeds = append(addeds, added{addedToken{
			content: content, id: id,
			singleWord: a.SingleWord, lstrip: a.LStrip, rstrip: a.RStrip,
		}, !normalized})
		if *a.Content == "<|endoftext|>" {
			t.eot = id
		}
	}
	if t.eot < 0 {
		if id, ok := m.Vocab["<|endoftext|>"]; ok {
			t.eot = id
		}
	}
	// Decode table.
	ids := make([]int, 0, len(toks))
	for id := range toks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	t.off = make([]uint32, maxID+2)
	t.known = make([]bool, maxID+1)
	next := 0
	for _, id := range ids {
		for ; next <= id; next++ {
			t.off[next] = uint32(len(t.buf))
		}
		t.buf = append(t.buf, byteLevelDecode(toks[id])...)
		t.known[id] = true
	}
	for ; next <= maxID+1; next++ {
		t.off[next] = uint32(len(t.buf))
	}
	// Initial symbols: every byte that occurs in valid UTF-8 must be in the
	// vocabulary; the others (0xc0, 0xc1, 0xf5-0xff) may be missing.
	for b := 0; b < 256; b++ {
		id, ok := m.Vocab[string(byteLevelChars[b])]
		if !ok {
			if b == 0xc0 || b == 0xc1 || b >= 0xf5 {
				t.byteID[b] = -1
				t.missing = true
				continue
			}
			return nil, fmt.Errorf("tokenizer.json: byte 0x%02x (%q) is not in the vocabulary", b, byteLevelChars[b])
		}
		t.byteID[b] = int32(id)
	}
	// Merges.
	t.merges = make(map[uint64]mergeRule, len(m.Merges))
	for rank, raw := range m.Merges {
		var a, b string
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("tokenizer.json: merge %d %q is not two tokens", rank+1, s)
			}
			a, b = parts[0], parts[1]
		} else {
			var pair []string
			if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
				return nil, fmt.Errorf("tokenizer.json: merge %d is not a pair of tokens", rank+1)
			}
			a, b = pair[0], pair[1]
		}
		ia, oka := m.Vocab[a]
		ib, okb := m.Vocab[b]
		ic, okc := m.Vocab[a+b]
		if !oka || !okb || !okc {
			return nil, fmt.Errorf("tokenizer.json: merge %d (%q %q) uses a token missing from the vocabulary", rank+1, a, b)
		}
		key := uint64(ia)<<32 | uint64(ib)
		if _, dup := t.merges[key]; !dup { // the first (best) rank wins
			t.merges[key] = mergeRule{rank: int32(rank), id: int32(ic)}
		}
	}
	if t.ignore {
		// Map the bytes a vocab token stands for to its id.
		t.vocab = make(map[string]int32, len(m.Vocab))
		for s, id := range m.Vocab {
			if bs, ok := byteLevelOnly(s); ok {
				t.vocab[string(bs)] = int32(id)
			}
		}
	}
	var rawToks, normToks []addedToken
	for _, a := range addeds {
		if a.raw {
			rawToks = append(rawToks, a.tok)
		} else {
			normToks = append(normToks, a.tok)
		}
	}
	t.raw = newAddedMatcher(rawToks)
	t.normed = newAddedMatcher(normToks)
	return t, nil
}

// byteLevelOnly returns the bytes of a token written entirely in the
// byte-level alphabet.
func byteLevelOnly(tok string) ([]byte, bool) {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := byteOfChar[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// setNormalizer records the normalization forms of a normalizer component.
func (t *BPE) setNormalizer(raw json.RawMessage, depth int) error {
	c, err := parseComponent(raw)
	if err != nil {
		return fmt.Errorf("tokenizer.json: normalizer: %w", err)
	}
	if c == nil {
		return nil
	}
	switch c.Type {
	case "NFC":
		t.forms = append(t.forms, norm.NFC)
	case "NFD":
		t.forms = append(t.forms, norm.NFD)
	case "NFKC":
		t.forms = append(t.forms, norm.NFKC)
	case "NFKD":
		t.forms = append(t.forms, norm.NFKD)
	case "Sequence":
		if depth > 8 {
			return errors.New("tokenizer.json: normalizer sequence nested too deeply")
		}
		for _, n := range c.Normalizers {
			if err := t.setNormalizer(n, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("tokenizer.json: normalizer %q is not supported", c.Type)
	}
	return nil
}

// normalize applies the normalizer to s.
func (t *BPE) normalize(s []byte) []byte {
	for _, f := range t.forms {
		s = f.Bytes(s)
	}
	return s
}

// Encode returns the token ids of text.
func (t *BPE) Encode(text []byte) []int {
	ids := make([]int, 0, len(text)/3+1)
	if t.missing && !utf8.Valid(text) {
		text = t.replaceMissing(text)
	}
	var scratch bpeScratch
	t.raw.split(text, func(seg []byte, id int) {
		if id >= 0 {
			ids = append(ids, id)
			return
		}
		t.normed.split(t.normalize(seg), func(seg []byte, id int) {
			if id >= 0 {
				ids = append(ids, id)
				return
			}
			ids = t.encodeSegment(ids, seg, &scratch)
		})
	})
	return ids
}

// replaceMissing replaces the bytes that have no token (which only occur in
// invalid UTF-8) by U+FFFD.
func (t *BPE) replaceMissing(text []byte) []byte {
	var out []byte
	for i, c := range text {
		if t.byteID[c] >= 0 {
			if out != nil {
				out = append(out, c)
			}
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(text)+8), text[:i]...)
		}
		out = append(out, "\uFFFD"...)
	}
	if out == nil {
		return text
	}
	return out
}

// encodeSegment pre-tokenizes a normalized segment without added tokens and
// appends the BPE ids of its pieces.
func (t *BPE) encodeSegment(ids []int, seg []byte, s *bpeScratch) []int {
	if len(seg) == 0 {
		return ids
	}
	if t.prefix && seg[0] != ' ' {
		seg = append([]byte{' '}, seg...)
	}
	if !t.regex {
		return t.encodeWord(ids, seg, s)
	}
	splitGPT2(seg, func(piece []byte) {
		ids = t.encodeWord(ids, piece, s)
	})
	return ids
}

// bpeScratch holds reusable buffers of one Encode call.
type bpeScratch struct {
	syms []int32
	heap mergeHeap
	prev []int32
	next []int32
}

// heapThreshold is the word length from which the heap-based merge is used.
const heapThreshold = 48

// encodeWord appends the BPE ids of one pre-tokenized word.
func (t *BPE) encodeWord(ids []int, word []byte, s *bpeScratch) []int {
	if len(word) == 1 {
		return append(ids, int(t.byteID[word[0]]))
	}
	t.cacheMu.RLock()
	cached, ok := t.cache[string(word)]
	t.cacheMu.RUnlock()
	if ok {
		for _, id := range cached {
			ids = append(ids, int(id))
		}
		return ids
	}
	var res []int32
	if id, ok := t.vocab[string(word)]; ok && t.ignore {
		res = []int32{id}
	} else if len(word) < heapThreshold {
		res = t.mergeSimple(word, s)
	} else {
		res = t.mergeHeap(word, s)
	}
	for _, id := range res {
		ids = append(ids, int(id))
	}
	if len(word) <= 256 {
		out := append([]int32(nil), res...)
		t.cacheMu.Lock()
		if len(t.cache) >= maxCache {
			clear(t.cache)
		}
		t.cache[string(word)] = out
		t.cacheMu.Unlock()
	}
	return ids
}

// mergeSimple merges the lowest-ranked (then leftmost) adjacent pair until no
// pair can merge; quadratic, for short words.
func (t *BPE) mergeSimple(word []byte, s *bpeScratch) []int32 {
	syms := s.syms[:0]
	for _, c := range word {
		syms = append(syms, t.byteID[c])
	}
	for len(syms) > 1 {
		best, at := mergeRule{rank: -1}, -1
		for k := 0; k+1 < len(syms); k++ {
			r, ok := t.merges[uint64(syms[k])<<32|uint64(syms[k+1])]
			if ok && (at < 0 || r.rank < best.rank) {
				best, at = r, k
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.id
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	s.syms = syms
	return syms
}

// mergeHeap is mergeSimple with a priority queue over a linked list of
// symbols, as the reference implementation does; for long words.
func (t *BPE) mergeHeap(word []byte, s *bpeScratch) []int32 {
	n := len(word)
	syms := s.syms[:0]
	prev, next := s.prev[:0], s.next[:0]
	for i, c := range word {
		syms = append(syms, t.byteID[c])
		prev = append(prev, int32(i-1))
		next = append(next, int32(i+1))
	}
	next[n-1] = -1
	h := s.heap[:0]
	for k := 0; k+1 < n; k++ {
		if r, ok := t.merges[uint64(syms[k])<<32|uint64(syms[k+1])]; ok {
			h.push(heapItem{rank: r.rank, pos: int32(k), id: r.id})
		}
	}
	for len(h) > 0 {
		top := h.pop()
		p := top.pos
		if syms[p] < 0 || next[p] < 0 {
			continue
		}
		q := next[p]
		r, ok := t.merges[uint64(syms[p])<<32|uint64(syms[q])]
		if !ok || r.id != top.id || r.rank != top.rank {
			continue // stale entry
		}
		syms[p] = r.id
		syms[q] = -1
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if r, ok := t.merges[uint64(syms[pp])<<32|uint64(syms[p])]; ok {
				h.push(heapItem{rank: r.rank, pos: pp, id: r.id})
			}
		}
		if nn := next[p]; nn >= 0 {
			if r, ok := t.merges[uint64(syms[p])<<32|uint64(syms[nn])]; ok {
				h.push(heapItem{rank: r.rank, pos: p, id: r.id})
			}
		}
	}
	s.heap, s.prev, s.next = h, prev, next
	out := syms[:0]
	for k := int32(0); k >= 0; k = next[k] {
		out = append(out, syms[k])
	}
	s.syms = syms
	return out
}

type heapItem struct {
	rank, pos, id int32
}

func (a heapItem) less(b heapItem) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// mergeHeap is a binary min-heap of candidate merges.
type mergeHeap []heapItem

func (h *mergeHeap) push(x heapItem) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *mergeHeap) pop() heapItem {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].less(a[m]) {
			m = l
		}
		if r < len(a) && a[r].less(a[m]) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// Decode returns the bytes of ids: vocabulary tokens through the byte-level
// alphabet, added tokens as their content (as the ByteLevel decoder does).
func (t *BPE) Decode(ids []int) ([]byte, error) { return decodeWith(t, ids) }

func (t *BPE) appendToken(dst []byte, id int) ([]byte, error) {
	if id < 0 || id >= len(t.known) || !t.known[id] {
		return dst, &UnknownIDError{ID: id, Tokenizer: KindBPE}
	}
	return append(dst, t.buf[t.off[id]:t.off[id+1]]...), nil
}

// VocabSize returns the largest id plus one (50277 for the GPT-NeoX 20B
// tokenizer; models pad it to 50304 or 50432).
func (t *BPE) VocabSize() int { return len(t.known) }

// EndOfText returns the id of "<|endoftext|>", if the tokenizer has it.
func (t *BPE) EndOfText() (id int, ok bool) { return t.eot, t.eot >= 0 }

// Name returns "bpe".
func (t *BPE) Name() string { return KindBPE }

// isWordChar reports whether r counts as part of a word for single_word
// added tokens (alphanumeric or underscore).
func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}
