package main

import (
	"go/token"
	"strings"
	"unicode"
)

// Naming rules (the only link between Go and C names):
//
//   - C function rwkvcu_<words> is capi field <words> in lowerCamelCase
//     (rwkvcu_matmul_t -> matmulT); a Go keyword gets the suffix Fn
//     (rwkvcu_map -> mapFn).
//   - Interface method M runs the C function whose name, without the
//     rwkvcu_ prefix and underscores, equals M in lower case
//     (MatMulT <-> rwkvcu_matmul_t, KeyV7 <-> rwkvcu_key_v7).
//   - Macro RWKVCU_<WORDS> is the Go constant c<Words> (RWKVCU_MIX_N_MAX ->
//     cMixNMax), except the status codes: RWKVCU_OK is StatusOK and
//     RWKVCU_ERR_<X> is Status<X>, whose sentinel error is Err<X>.
//   - Enum constant backend.K has the C code RWKVCU_<...> whose name without
//     underscores equals K in upper case (ReLUSquare <-> RWKVCU_RELU_SQUARE).

const cPrefix = "rwkvcu_"

// acronyms keep their case in CamelCase names.
var acronyms = map[string]bool{"ABI": true, "API": true, "CUDA": true, "ID": true, "OK": true}

// camel converts UPPER_SNAKE or lower_snake words to CamelCase.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(s, "_") {
		if w == "" {
			continue
		}
		u := strings.ToUpper(w)
		switch {
		case acronyms[u] || strings.IndexFunc(w, unicode.IsDigit) >= 0:
			b.WriteString(u)
		default:
			b.WriteString(u[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

// fieldName is the capi field of C function name.
func fieldName(cname string) string {
	n := strings.TrimPrefix(cname, cPrefix)
	parts := strings.Split(n, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	f := strings.Join(parts, "")
	if token.IsKeyword(f) {
		f += "Fn"
	}
	return f
}

// squash normalises a name for matching: no underscores, lower case.
func squash(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

// constName is the Go constant of a non-status macro.
func constName(macro string) string { return "c" + camel(strings.TrimPrefix(macro, "RWKVCU_")) }

// isStatus reports whether a macro is a status code.
func isStatus(macro string) bool {
	return macro == "RWKVCU_OK" || strings.HasPrefix(macro, "RWKVCU_ERR_")
}

// statusName is the exported Go constant of a status macro; sentinelName is
// the error its Error unwraps to ("" for RWKVCU_OK).
func statusName(macro string) string {
	if macro == "RWKVCU_OK" {
		return "StatusOK"
	}
	return "Status" + camel(strings.TrimPrefix(macro, "RWKVCU_ERR_"))
}

func sentinelName(macro string) string {
	if macro == "RWKVCU_OK" {
		return ""
	}
	return "Err" + camel(strings.TrimPrefix(macro, "RWKVCU_ERR_"))
}

// goIdent makes a C parameter name a Go identifier
// (lowerCamelCase: name_len -> nameLen).
func goIdent(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	s = strings.Join(parts, "")
	if token.IsKeyword(s) || s == "ptr" || s == "unsafe" || s == "C" || s == "fmt" {
		return s + "Arg"
	}
	return s
}

// joinParams writes a parameter list, grouping consecutive parameters of
// one type (out, x backend.Tensor).
func joinParams(names, types []string) string {
	var parts []string
	for i := range names {
		if i+1 < len(names) && types[i+1] == types[i] {
			parts = append(parts, names[i])
			continue
		}
		parts = append(parts, names[i]+" "+types[i])
	}
	return strings.Join(parts, ", ")
}
