package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// goPkg is what abigen reads from the Go package declaring the Backend
// interface (engine/backend).
type goPkg struct {
	name       string // package name, e.g. backend
	importPath string
	ifaces     map[string][]*method // interface name -> methods in declaration order
	enums      map[string][]enumConst
	intTypes   map[string]bool // named types with an integer underlying type
}

type enumConst struct {
	name  string
	value int64
}

// method is one interface method.
type method struct {
	iface   string
	name    string
	params  []gparam
	results []string
}

type gparam struct {
	name string
	typ  string // as written, unqualified (Tensor, []int, float32, ...)
}

// loadGoPkg parses the non-test Go files of dir. Constant values are
// evaluated with go/types; imports are not resolved (only the package's own
// integer constants matter).
func loadGoPkg(dir string) (*goPkg, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if ignored(f) {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	p := &goPkg{name: files[0].Name.Name, ifaces: map[string][]*method{}, enums: map[string][]enumConst{}, intTypes: map[string]bool{}}
	if p.importPath, err = importPath(dir); err != nil {
		return nil, err
	}
	conf := types.Config{Importer: noImports{}, Error: func(error) {}}
	pkg, _ := conf.Check(p.importPath, fset, files, nil) // errors: unresolved imports, irrelevant here
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if tn, ok := obj.(*types.TypeName); ok {
			if b, ok := tn.Type().Underlying().(*types.Basic); ok && b.Info()&types.IsInteger != 0 {
				p.intTypes[name] = true
			}
		}
	}
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok {
			continue
		}
		nt, ok := c.Type().(*types.Named)
		if !ok || nt.Obj().Pkg() != pkg || !p.intTypes[nt.Obj().Name()] {
			continue
		}
		v, exact := constant.Int64Val(c.Val())
		if !exact {
			return nil, fmt.Errorf("%s: constant %s is not an int64", dir, name)
		}
		p.enums[nt.Obj().Name()] = append(p.enums[nt.Obj().Name()], enumConst{name: name, value: v})
	}
	for _, cs := range p.enums {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].value != cs[j].value {
				return cs[i].value < cs[j].value
			}
			return cs[i].name < cs[j].name
		})
	}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					continue
				}
				var ms []*method
				for _, fl := range it.Methods.List {
					ft, ok := fl.Type.(*ast.FuncType)
					if !ok {
						return nil, fmt.Errorf("%s: interface %s embeds %s: abigen needs its methods listed", fset.Position(fl.Pos()), ts.Name.Name, types.ExprString(fl.Type))
					}
					m := &method{iface: ts.Name.Name, name: fl.Names[0].Name}
					for _, pf := range ft.Params.List {
						typ := types.ExprString(pf.Type)
						if len(pf.Names) == 0 {
							return nil, fmt.Errorf("%s: %s.%s: name every parameter", fset.Position(pf.Pos()), ts.Name.Name, m.name)
						}
						for _, n := range pf.Names {
							m.params = append(m.params, gparam{name: n.Name, typ: typ})
						}
					}
					if ft.Results != nil {
						for _, rf := range ft.Results.List {
							for range max(1, len(rf.Names)) {
								m.results = append(m.results, types.ExprString(rf.Type))
							}
						}
					}
					ms = append(ms, m)
				}
				p.ifaces[ts.Name.Name] = ms
			}
		}
	}
	return p, nil
}

// noImports resolves no import: abigen needs only the package's own declarations.
type noImports struct{}

func (noImports) Import(path string) (*types.Package, error) {
	return nil, fmt.Errorf("not resolved")
}

// ignored reports whether a file is excluded from every build (//go:build ignore).
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:build") && strings.Contains(c.Text, "ignore") {
				return true
			}
		}
	}
	return false
}

// importPath derives dir's import path from the enclosing go.mod.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			for _, ln := range strings.Split(string(b), "\n") {
				if f := strings.Fields(ln); len(f) == 2 && f[0] == "module" {
					rel, _ := filepath.Rel(d, abs)
					if rel == "." {
						return f[1], nil
					}
					return f[1] + "/" + filepath.ToSlash(rel), nil
				}
			}
			return "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// handWritten returns the methods declared on receiver type recv in the
// non-test, non-generated Go files of dir: abigen generates only the others.
func handWritten(dir, recv string) (map[string]bool, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if ast.IsGenerated(f) {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			t := fd.Recv.List[0].Type
			if st, ok := t.(*ast.StarExpr); ok {
				t = st.X
			}
			if id, ok := t.(*ast.Ident); ok && id.Name == recv {
				out[fd.Name.Name] = true
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
