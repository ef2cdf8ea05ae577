package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// header is what abigen reads from a C header of the librwkvcu ABI.
type header struct {
	path    string
	macros  []macro           // integer RWKVCU_* macros in declaration order
	handles map[string]bool   // opaque handle types (typedef struct X X)
	funcs   []*cfunc          // RWKVCU_API prototypes in declaration order
	byName  map[string]*cfunc // funcs by C name
}

// macro is an integer #define RWKVCU_NAME value.
type macro struct {
	name  string // e.g. RWKVCU_ERR_INVALID_ARGUMENT
	value int64
	doc   string // the comment on the same line, if any
}

// cfunc is one prototype.
type cfunc struct {
	name   string // C name, e.g. rwkvcu_matmul_t
	ret    ctype
	params []cparam
	line   int
	// optional: the purego loader tolerates its absence (a nil function).
	optional bool
}

type cparam struct {
	name string
	t    ctype
}

// ctype is a parameter or result type: a base type and a pointer depth.
// Qualifiers (const) are dropped: they do not change the Go side.
type ctype struct {
	base string // int32_t, float, void, rwkvcu_tensor, ...
	ptr  int
}

func (t ctype) String() string { return t.base + strings.Repeat("*", t.ptr) }

// scalars are the C base types abigen maps; handles are the header's opaque
// structs.
var scalars = map[string]bool{
	"void": true, "char": true, "int": true, "float": true, "double": true, "size_t": true,
	"int32_t": true, "int64_t": true, "uint32_t": true, "uint64_t": true,
}

var (
	reDefine  = regexp.MustCompile(`^\s*#\s*define\s+(RWKVCU_[A-Z0-9_]+)\s+\(?\s*(-?\s*[0-9]+)\s*\)?\s*(?:/\*(.*?)(?:\*/)?)?\s*$`)
	reTypedef = regexp.MustCompile(`typedef\s+struct\s+(\w+)\s+(\w+)\s*;`)
	reProto   = regexp.MustCompile(`RWKVCU_API\s+([^;(){}]*?)\b(\w+)\s*\(([^;(){}]*)\)\s*;`)
	reIdent   = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

// parseHeaderFile reads and parses a header (see parseHeader).
func parseHeaderFile(path string, base *header) (*header, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseHeader(path, string(src), base)
}

// parseHeader parses the declarations abigen needs: integer RWKVCU_* macros,
// opaque handle typedefs and RWKVCU_API prototypes. A prototype it does not
// understand is an error naming the file, line and what is wrong. A header
// that includes another (base, or nil) also knows its handle types.
func parseHeader(path, src string, base *header) (*header, error) {
	h := &header{path: path, handles: map[string]bool{}, byName: map[string]*cfunc{}}
	if base != nil {
		for k := range base.handles {
			h.handles[k] = true
		}
	}
	for _, ln := range strings.Split(src, "\n") {
		if m := reDefine.FindStringSubmatch(ln); m != nil {
			v, err := strconv.ParseInt(strings.ReplaceAll(m[2], " ", ""), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: #define %s: %v", path, m[1], err)
			}
			h.macros = append(h.macros, macro{name: m[1], value: v, doc: strings.TrimSpace(m[3])})
		}
	}
	code := stripComments(src)
	// Preprocessor lines (the RWKVCU_API definition itself among them) are not declarations.
	lines := strings.Split(code, "\n")
	for i, ln := range lines {
		if strings.HasPrefix(strings.TrimSpace(ln), "#") {
			lines[i] = strings.Repeat(" ", len(ln))
		}
	}
	code = strings.Join(lines, "\n")
	for _, m := range reTypedef.FindAllStringSubmatch(code, -1) {
		if m[1] == m[2] {
			h.handles[m[1]] = true
		}
	}
	lineOf := func(off int) int { return strings.Count(code[:off], "\n") + 1 }
	matched := map[int]bool{}
	for _, m := range reProto.FindAllStringSubmatchIndex(code, -1) {
		line := lineOf(m[0])
		matched[m[0]] = true
		name := code[m[4]:m[5]]
		f := &cfunc{name: name, line: line}
		where := fmt.Sprintf("%s:%d: %s", path, line, name)
		ret, err := h.parseType(strings.Fields(strings.ReplaceAll(code[m[2]:m[3]], "*", " * ")))
		if err != nil {
			return nil, fmt.Errorf("%s: result type: %v", where, err)
		}
		f.ret = ret
		plist := strings.TrimSpace(code[m[6]:m[7]])
		if plist != "void" && plist != "" {
			for i, p := range strings.Split(plist, ",") {
				cp, err := h.parseParam(p)
				if err != nil {
					return nil, fmt.Errorf("%s: parameter %d (%q): %v", where, i+1, strings.Join(strings.Fields(p), " "), err)
				}
				f.params = append(f.params, cp)
			}
		} else if plist == "" {
			return nil, fmt.Errorf("%s: write an empty parameter list as (void)", where)
		}
		if h.byName[name] != nil {
			return nil, fmt.Errorf("%s: declared twice", where)
		}
		h.funcs = append(h.funcs, f)
		h.byName[name] = f
	}
	// Every RWKVCU_API must have been understood.
	for off := 0; ; {
		i := strings.Index(code[off:], "RWKVCU_API")
		if i < 0 {
			break
		}
		if !matched[off+i] {
			return nil, fmt.Errorf("%s:%d: cannot parse this declaration (want `RWKVCU_API type name(params);` with plain parameter types)", path, lineOf(off+i))
		}
		off += i + len("RWKVCU_API")
	}
	if len(h.funcs) == 0 {
		return nil, fmt.Errorf("%s: no RWKVCU_API prototypes", path)
	}
	return h, nil
}

// parseParam parses "const rwkvcu_tensor *const *outs".
func (h *header) parseParam(p string) (cparam, error) {
	toks := strings.Fields(strings.ReplaceAll(p, "*", " * "))
	if len(toks) < 2 {
		return cparam{}, fmt.Errorf("want a type and a name")
	}
	name := toks[len(toks)-1]
	if !reIdent.MatchString(name) || name == "const" {
		return cparam{}, fmt.Errorf("want a parameter name last, not %q", name)
	}
	t, err := h.parseType(toks[:len(toks)-1])
	if err != nil {
		return cparam{}, err
	}
	if t.base == "void" && t.ptr == 0 {
		return cparam{}, fmt.Errorf("void parameter")
	}
	return cparam{name: name, t: t}, nil
}

// parseType parses type tokens: qualifiers, one base type name, stars.
func (h *header) parseType(toks []string) (ctype, error) {
	var t ctype
	for _, tok := range toks {
		switch {
		case tok == "const":
		case tok == "*":
			if t.base == "" {
				return t, fmt.Errorf("'*' before the type name")
			}
			t.ptr++
		case t.base != "":
			return t, fmt.Errorf("more than one type name (%s %s): use a single-word type such as int32_t", t.base, tok)
		case scalars[tok] || h.handles[tok]:
			t.base = tok
		default:
			return t, fmt.Errorf("unsupported type %q (supported: %s and the header's opaque handles)", tok, strings.Join(sortedKeys(scalars), ", "))
		}
	}
	if t.base == "" {
		return t, fmt.Errorf("no type")
	}
	if t.ptr > 2 || (t.ptr == 2 && !h.handles[t.base]) {
		return t, fmt.Errorf("unsupported pointer depth %d for %s", t.ptr, t.base)
	}
	return t, nil
}

// stripComments blanks C comments, keeping newlines (so offsets keep their line).
func stripComments(s string) string {
	b := []byte(s)
	for i := 0; i+1 < len(b); i++ {
		switch {
		case b[i] == '/' && b[i+1] == '*':
			j := i
			for ; j+1 < len(b) && !(b[j] == '*' && b[j+1] == '/'); j++ {
				if b[j] != '\n' {
					b[j] = ' '
				}
			}
			for k := j; k < len(b) && k < j+2; k++ {
				b[k] = ' '
			}
			i = j + 1
		case b[i] == '/' && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		}
	}
	return string(b)
}
