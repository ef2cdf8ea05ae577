package deploy_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction (continuation lines joined).
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is a build stage: its FROM arguments and instructions.
type stage struct {
	name, from string
	ins        []instruction
}

// dockerfile is a parsed Dockerfile: the instructions before the first FROM
// and the stages.
type dockerfile struct {
	global []instruction
	stages []*stage
}

// parseDockerfile reads the subset of the Dockerfile syntax the images use.
func parseDockerfile(t *testing.T, path string) *dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "#") || (trim == "" && cur == "") {
			continue
		}
		if s, ok := strings.CutSuffix(trim, "\\"); ok {
			cur += s + " "
			continue
		}
		lines = append(lines, cur+trim)
		cur = ""
	}
	if cur != "" {
		t.Fatalf("%s: a continuation line at the end", path)
	}
	df := &dockerfile{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := &stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				t.Fatalf("%s: FROM %s", path, in.args)
			}
			df.stages = append(df.stages, st)
		case len(df.stages) == 0:
			if in.cmd != "ARG" {
				t.Fatalf("%s: %s before the first FROM", path, in.cmd)
			}
			df.global = append(df.global, in)
		default:
			st := df.stages[len(df.stages)-1]
			st.ins = append(st.ins, in)
		}
	}
	if len(df.stages) < 2 {
		t.Fatalf("%s: %d stages, want a multi-stage build", path, len(df.stages))
	}
	// Every stage a COPY --from or FROM names exists, and every ${ARG} a FROM
	// uses is declared before the first FROM.
	names := map[string]bool{}
	var globals []string
	for _, a := range df.global {
		n, _, _ := strings.Cut(a.args, "=")
		globals = append(globals, n)
	}
	for _, st := range df.stages {
		for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(st.from, -1) {
			if !slices.Contains(globals, m[1]) {
				t.Errorf("%s: FROM %s uses undeclared ARG %s", path, st.from, m[1])
			}
		}
		for _, in := range st.ins {
			if in.cmd == "COPY" {
				if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil && !names[m[1]] {
					t.Errorf("%s: COPY --from=%s names no earlier stage", path, m[1])
				}
			}
		}
		if st.name != "" {
			names[st.name] = true
		}
	}
	return df
}

func (st *stage) all(cmd string) []string {
	var out []string
	for _, in := range st.ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func (st *stage) last(cmd string) string {
	a := st.all(cmd)
	if len(a) == 0 {
		return ""
	}
	return a[len(a)-1]
}

// jsonArgs decodes an exec-form instruction's JSON array.
func jsonArgs(t *testing.T, what, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s %s is not in exec form: %v", what, s, err)
	}
	return out
}

// goBuild returns the RUN of stage st that runs go build.
func goBuild(t *testing.T, df *dockerfile) (string, *stage) {
	t.Helper()
	for _, st := range df.stages {
		for _, r := range st.all("RUN") {
			if strings.Contains(r, "go build") {
				return r, st
			}
		}
	}
	t.Fatal("no go build")
	return "", nil
}

// checkRuntimeStage checks the final stage: a non-root USER, the model
// volume, the binary copied from a build stage as the ENTRYPOINT, and a CMD
// `rwkvgo serve` accepts, listening on the EXPOSEd port.
func checkRuntimeStage(t *testing.T, df *dockerfile) (final *stage, cmd []string) {
	t.Helper()
	final = df.stages[len(df.stages)-1]
	user := final.last("USER")
	uid, _, _ := strings.Cut(user, ":")
	if user == "" || uid == "0" || uid == "root" {
		t.Errorf("the image runs as %q, want a non-root USER", user)
	}
	if !slices.ContainsFunc(final.all("VOLUME"), func(v string) bool { return strings.Contains(v, `"/models"`) }) {
		t.Errorf("no VOLUME /models")
	}
	entry := jsonArgs(t, "ENTRYPOINT", final.last("ENTRYPOINT"))
	copied := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if strings.HasPrefix(f[0], "--from=") && f[len(f)-1] == entry[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not copied from a build stage", entry[0])
	}
	cmd = append(entry[1:], jsonArgs(t, "CMD", final.last("CMD"))...)
	args := serveArgs(t, cmd)
	_, port, _ := strings.Cut(args["addr"], ":")
	if final.last("EXPOSE") != port || !strings.HasPrefix(args["addr"], "0.0.0.0:") {
		t.Errorf("CMD --addr %s, EXPOSE %s", args["addr"], final.last("EXPOSE"))
	}
	if !strings.HasPrefix(args["model"], "/models/") {
		t.Errorf("CMD --model %s is not on the /models volume", args["model"])
	}
	checkServeFlags(t, cmd)
	return final, cmd
}

// cpuImageTags returns the -tags of Dockerfile.cpu's go build.
func cpuImageTags() (string, error) {
	b, err := os.ReadFile("docker/Dockerfile.cpu")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`go build[^\n]*-tags[ =](\S+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("Dockerfile.cpu's go build has no -tags")
	}
	return string(m[1]), nil
}

// TestDockerfileCPU: a multi-stage build of a CGO-free binary without the
// run-time CUDA loader, on a distroless static base, as a non-root user.
func TestDockerfileCPU(t *testing.T) {
	df := parseDockerfile(t, "docker/Dockerfile.cpu")
	run, _ := goBuild(t, df)
	for _, want := range []string{"CGO_ENABLED=0", "-tags nopurego", "./cmd/rwkvgo"} {
		if !strings.Contains(run, want) {
			t.Errorf("go build %q lacks %s", run, want)
		}
	}
	final, _ := checkRuntimeStage(t, df)
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("the CPU image's base %s is not distroless/static", final.from)
	}
}

// TestCPUBinaryIsStatic: the binary built as Dockerfile.cpu builds it has
// no program interpreter and needs no shared library, so it runs on a base
// without a C library.
func TestCPUBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(rwkvgoBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
}

// TestDockerfileCUDA: librwkvcu built with nvcc (CMake's cuda target) in a
// CUDA devel stage, a CGO-free binary that loads it through purego from
// $RWKVGO_CUDA_LIB, on the CUDA runtime base, as a non-root user.
func TestDockerfileCUDA(t *testing.T) {
	df := parseDockerfile(t, "docker/Dockerfile.cuda")
	var lib *stage
	for _, st := range df.stages {
		for _, r := range st.all("RUN") {
			if strings.Contains(r, "-DRWKVCU_TARGET=cuda") && strings.Contains(r, "cmake --build") {
				lib = st
			}
		}
	}
	if lib == nil || !strings.HasPrefix(lib.from, "nvidia/cuda:") || !strings.Contains(lib.from, "-devel") {
		t.Fatalf("no nvcc build of librwkvcu in a CUDA devel stage")
	}
	run, _ := goBuild(t, df)
	if !strings.Contains(run, "CGO_ENABLED=0") || strings.Contains(run, "-tags") {
		t.Errorf("go build %q: want CGO_ENABLED=0 and no build tags (cuda links librwkvcu with cgo; nopurego drops the loader)", run)
	}
	final, cmd := checkRuntimeStage(t, df)
	if !strings.HasPrefix(final.from, "nvidia/cuda:") || !strings.Contains(final.from, "-runtime") {
		t.Errorf("the CUDA image's base %s is not a CUDA runtime image", final.from)
	}
	var libPath string
	for _, e := range final.all("ENV") {
		if v, ok := strings.CutPrefix(e, "RWKVGO_CUDA_LIB="); ok {
			libPath = v
		}
	}
	if libPath == "" {
		t.Fatal("no ENV RWKVGO_CUDA_LIB")
	}
	copied := slices.ContainsFunc(final.all("COPY"), func(c string) bool {
		f := strings.Fields(c)
		return f[0] == "--from="+lib.name && strings.HasSuffix(f[1], "librwkvcu.so") && f[len(f)-1] == libPath
	})
	if !copied {
		t.Errorf("RWKVGO_CUDA_LIB=%s is not librwkvcu.so copied from stage %s", libPath, lib.name)
	}
	if serveArgs(t, cmd)["backend"] != "cuda" {
		t.Errorf("the CUDA image's CMD does not select --backend cuda: %v", cmd)
	}
}

// TestDockerignore: the build context leaves out git metadata and build
// outputs.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	for _, want := range []string{".git", "bin", "build"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
