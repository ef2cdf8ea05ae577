package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxSafetensorsHeader is the largest safetensors JSON header accepted, in bytes
// (the reference implementation's limit).
const MaxSafetensorsHeader = 100_000_000

// safetensorsMetaKey is the reserved header key holding free-form metadata.
const safetensorsMetaKey = "__metadata__"

// safetensorsDType maps safetensors dtype names to supported element types.
func safetensorsDType(s string) (DType, bool) {
	switch s {
	case "F32":
		return F32, true
	case "F16":
		return F16, true
	case "BF16":
		return BF16, true
	}
	return 0, false
}

// safetensorsRank orders dtypes as the reference writer does: descending
// alignment (F32, then BF16, then F16).
func safetensorsRank(d DType) int {
	switch d {
	case F32:
		return 0
	case BF16:
		return 1
	}
	return 2
}

// stEntry is one decoded header entry before its bytes are attached.
type stEntry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// ReadSafetensors parses a safetensors file: an 8-byte little-endian header
// length N, N bytes of JSON describing every tensor (dtype, shape and byte
// range), then the tensors' bytes. Only F32, F16 and BF16 tensors are
// supported. Every header field is validated (well-formed JSON, offsets within
// the buffer and consistent with the shape, tensors tiling the data buffer
// exactly, with no overlaps, gaps or trailing bytes). The
// returned tensors alias data and are ordered by their data offset; the header's
// __metadata__ goes to File.Meta.
func ReadSafetensors(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("weights: safetensors file too short (%d bytes)", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxSafetensorsHeader {
		return nil, fmt.Errorf("weights: safetensors header length %d exceeds the %d byte limit", n, MaxSafetensorsHeader)
	}
	if n < 2 || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("weights: safetensors header length %d does not fit the %d byte file", n, len(data))
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	if header[0] != '{' {
		return nil, errors.New("weights: safetensors header does not start with '{'")
	}
	meta, entries, err := parseSafetensorsHeader(header)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	f := &File{Format: FormatSafetensors, Meta: meta, Tensors: make([]*Tensor, 0, len(entries))}
	// As in the reference implementation, the tensors must tile the data
	// buffer exactly: no overlaps, no unclaimed gaps, no trailing bytes.
	var prevEnd uint64
	prevName := ""
	for _, e := range entries {
		if e.end > uint64(len(buf)) {
			return nil, fmt.Errorf("weights: safetensors tensor %q: data_offsets [%d, %d] beyond the %d byte data buffer", e.name, e.begin, e.end, len(buf))
		}
		switch {
		case e.begin < prevEnd:
			return nil, fmt.Errorf("weights: safetensors tensors %q and %q overlap (data_offsets [%d, %d] start before %d)", prevName, e.name, e.begin, e.end, prevEnd)
		case e.begin > prevEnd:
			after := "the start of the data buffer"
			if prevName != "" {
				after = fmt.Sprintf("tensor %q", prevName)
			}
			return nil, fmt.Errorf("weights: safetensors data bytes [%d, %d) between %s and tensor %q belong to no tensor", prevEnd, e.begin, after, e.name)
		}
		if e.end > e.begin {
			prevEnd, prevName = e.end, e.name
		}
		f.Tensors = append(f.Tensors, &Tensor{
			Name:  e.name,
			DType: e.dtype,
			Shape: e.shape,
			Data:  buf[e.begin:e.end:e.end],
		})
	}
	if prevEnd != uint64(len(buf)) {
		return nil, fmt.Errorf("weights: safetensors data buffer has %d bytes after the last tensor that belong to no tensor (tensors end at %d of %d)", uint64(len(buf))-prevEnd, prevEnd, len(buf))
	}
	return f, nil
}

// parseSafetensorsHeader decodes the JSON header strictly, rejecting duplicate
// keys, and checks each entry's fields for internal consistency.
func parseSafetensorsHeader(header []byte) (map[string]string, []stEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("weights: safetensors header is not a JSON object")
	}
	var meta map[string]string
	var entries []stEntry
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("weights: safetensors header: malformed JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("weights: safetensors header: malformed JSON object key")
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("weights: safetensors header: duplicate key %q", name)
		}
		seen[name] = true
		if name == safetensorsMetaKey {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("weights: safetensors __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var raw struct {
			DType       *string       `json:"dtype"`
			Shape       []json.Number `json:"shape"`
			DataOffsets []json.Number `json:"data_offsets"`
		}
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("weights: safetensors tensor %q: malformed header entry: %v", name, err)
		}
		e, err := checkSafetensorsEntry(name, raw.DType, raw.Shape, raw.DataOffsets)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, nil, errors.New("weights: safetensors header: malformed JSON (unterminated object)")
	}
	// Only padding may follow the object.
	rest := header[dec.InputOffset():]
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, nil, errors.New("weights: safetensors header: unexpected bytes after the JSON object")
	}
	return meta, entries, nil
}

func checkSafetensorsEntry(name string, dtype *string, shape, offsets []json.Number) (stEntry, error) {
	e := stEntry{name: name}
	if dtype == nil {
		return e, fmt.Errorf("weights: safetensors tensor %q: missing dtype", name)
	}
	dt, ok := safetensorsDType(*dtype)
	if !ok {
		return e, fmt.Errorf("weights: safetensors tensor %q has unsupported dtype %q (supported: F32, F16, BF16)", name, *dtype)
	}
	e.dtype = dt
	if shape == nil {
		return e, fmt.Errorf("weights: safetensors tensor %q: missing shape", name)
	}
	if len(offsets) != 2 {
		return e, fmt.Errorf("weights: safetensors tensor %q: data_offsets must hold two numbers", name)
	}
	e.shape = make([]int, len(shape))
	numel := uint64(1)
	for i, s := range shape {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil || v > math.MaxInt {
			return e, fmt.Errorf("weights: safetensors tensor %q: invalid dimension %s", name, s)
		}
		e.shape[i] = int(v)
		hi, lo := bits.Mul64(numel, v)
		if hi != 0 || lo > math.MaxInt64 {
			return e, fmt.Errorf("weights: safetensors tensor %q: shape %v overflows", name, e.shape)
		}
		numel = lo
	}
	for i, o := range offsets {
		v, err := strconv.ParseUint(string(o), 10, 64)
		if err != nil {
			return e, fmt.Errorf("weights: safetensors tensor %q: invalid data offset %s", name, o)
		}
		if i == 0 {
			e.begin = v
		} else {
			e.end = v
		}
	}
	if e.begin > e.end {
		return e, fmt.Errorf("weights: safetensors tensor %q: data_offsets [%d, %d] end before they begin", name, e.begin, e.end)
	}
	hi, size := bits.Mul64(numel, uint64(dt.BlockBytes()))
	if hi != 0 || size != e.end-e.begin {
		return e, fmt.Errorf("weights: safetensors tensor %q: %d bytes for shape %v of %s (want %d)", name, e.end-e.begin, e.shape, dt, numel*uint64(dt.BlockBytes()))
	}
	return e, nil
}

// WriteSafetensors writes tensors (F32, F16 or BF16) and meta as a safetensors
// file laid out exactly as the reference implementation (safetensors.torch.save_file)
// lays it out: tensors ordered by descending dtype alignment (F32, BF16, F16),
// then by name; a compact JSON header with __metadata__ first (its keys sorted),
// padded with spaces to a multiple of 8 bytes; then the tensors' bytes back to
// back. A nil or empty meta omits __metadata__.
func WriteSafetensors(w io.Writer, tensors []*Tensor, meta map[string]string) error {
	order := slices.Clone(tensors)
	seen := make(map[string]bool, len(order))
	for _, t := range order {
		if t == nil {
			return errors.New("weights: WriteSafetensors: nil tensor")
		}
		if _, ok := safetensorsDType(t.DType.String()); !ok {
			return fmt.Errorf("weights: WriteSafetensors: tensor %q has unsupported dtype %s (supported: F32, F16, BF16)", t.Name, t.DType)
		}
		if t.Name == safetensorsMetaKey || !utf8.ValidString(t.Name) {
			return fmt.Errorf("weights: WriteSafetensors: invalid tensor name %q", t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("weights: WriteSafetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		numel := uint64(1)
		for _, s := range t.Shape {
			if s < 0 {
				return fmt.Errorf("weights: WriteSafetensors: tensor %q has negative dimension in shape %v", t.Name, t.Shape)
			}
			hi, lo := bits.Mul64(numel, uint64(s))
			if hi != 0 || lo > math.MaxInt64/4 {
				return fmt.Errorf("weights: WriteSafetensors: tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			numel = lo
		}
		if want := numel * uint64(t.DType.BlockBytes()); uint64(len(t.Data)) != want {
			return fmt.Errorf("weights: WriteSafetensors: tensor %q holds %d bytes, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, want)
		}
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("weights: WriteSafetensors: metadata %q is not valid UTF-8", k)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := safetensorsRank(order[i].DType), safetensorsRank(order[j].DType)
		if ri != rj {
			return ri < rj
		}
		return order[i].Name < order[j].Name
	})

	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			h.WriteByte(',')
		}
		first = false
	}
	if len(meta) > 0 {
		comma()
		writeJSONString(&h, safetensorsMetaKey)
		h.WriteString(":{")
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, meta[k])
		}
		h.WriteByte('}')
	}
	var off uint64
	for _, t := range order {
		comma()
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeJSONString(&h, t.DType.String())
		h.WriteString(`,"shape":[`)
		for i, s := range t.Shape {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(s))
		}
		end := off + uint64(len(t.Data))
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(h.Len()))
	if _, err := bw.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := bw.Write(h.Bytes()); err != nil {
		return err
	}
	for _, t := range order {
		if _, err := bw.Write(t.Data); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeJSONString writes s as a JSON string escaped the way serde_json (used by
// the reference writer) escapes it: quote, backslash and control characters
// only, with lower-case hex in \u escapes.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
