package archtest

import (
	"strings"
	"testing"
)

// TestOnlyCmdImportsEval: the evaluation studies (which draw plots) are
// imported only by the command line (and their own tests), so no product,
// serving or scheduling package links them.
func TestOnlyCmdImportsEval(t *testing.T) {
	lines := goList(t, "-f", `{{.ImportPath}}|{{join .Imports ","}}`, "github.com/rwkvgo/rwkvgo/...")
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, "|")
		if !strings.Contains(","+imports+",", ",github.com/rwkvgo/rwkvgo/eval,") {
			continue
		}
		if !strings.HasPrefix(pkg, "github.com/rwkvgo/rwkvgo/cmd/") {
			t.Errorf("%s imports package eval", pkg)
		}
	}
}
