// Command codemetrics measures the shape of this module's Go code, so that a
// restructuring can report before/after figures. Run it from the module root:
//
//	go run ./scripts/codemetrics             # files of the root package and their dependencies
//	go run ./scripts/codemetrics -v          # the same, listing every file-to-file edge
//	go run ./scripts/codemetrics -pkg ./pool # the same for another package directory
//	go run ./scripts/codemetrics -exports    # exported identifiers per public package
//	go run ./scripts/codemetrics -tests      # tests and assertion sites per package
//	go run ./scripts/codemetrics -all        # all three sections
//
// Files: each non-test .go file of the package with its line count, the
// package-level names it declares (types, funcs, vars, consts; not "_" or
// init), the methods it declares, and its fan-out/fan-in in the file graph.
//
// Dependencies: file A depends on file B (A != B) when an identifier used in A
// (go/types Info.Uses, which also holds the selected name of every x.f
// selector: fields and methods, promoted ones included) denotes an object of
// the package declared in B. It prints the ordered edges and how many
// unordered pairs depend on each other both ways.
//
// Exports: for every package of the module except main packages and those
// under internal/, cmd/ and examples/: exported package-level names, exported
// methods of exported named types (an exported interface's explicit methods
// included), and exported fields of exported struct types.
//
// Tests: across every package of the module, the Test, Fuzz and Benchmark
// functions (name and signature as `go test` requires), the examples with an
// output comment (they run) and without, and the call sites of Error, Errorf,
// Fatal and Fatalf whose method go/types resolves to package testing (on
// *testing.T, *testing.B, *testing.F, testing.TB, or a type embedding them),
// whatever the receiver variable is called.
//
// Types come from `go list -deps -test -export` (it compiles, it runs no
// tests) read with go/importer's "gc" importer: the standard library only.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// listPkg is the part of `go list -json` this program reads.
type listPkg struct {
	Dir, ImportPath, Name, ForTest, Export string
	GoFiles, CgoFiles                      []string
	TestGoFiles, XTestGoFiles              []string
	ImportMap                              map[string]string
	Module                                 *struct {
		Path string
		Main bool
	}
}

var (
	byPath  = map[string]*listPkg{} // every listed package and test variant
	modPkgs []*listPkg              // the main module's packages, plain variants
	modPath string
)

func main() {
	pkgDir := flag.String("pkg", ".", "package `directory` for the files and dependencies section")
	verbose := flag.Bool("v", false, "list the file-to-file edges")
	exports := flag.Bool("exports", false, "print exported identifiers per package")
	tests := flag.Bool("tests", false, "print tests and assertion sites per package")
	all := flag.Bool("all", false, "print all sections")
	flag.Parse()
	load()
	if *all || (!*exports && !*tests) {
		filesSection(*pkgDir, *verbose)
	}
	if *all || *exports {
		exportsSection()
	}
	if *all || *tests {
		testsSection()
	}
}

// load runs go list over the module in the current directory.
func load() {
	cmd := exec.Command("go", "list", "-e", "-deps", "-test", "-export",
		"-json=Dir,ImportPath,Name,ForTest,Export,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,ImportMap,Module", "./...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if len(out) == 0 {
		fatalf("go list: %v", err)
	}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		p := new(listPkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			fatalf("go list output: %v", err)
		}
		byPath[p.ImportPath] = p
		if p.Module != nil && p.Module.Main && p.ForTest == "" && !strings.HasSuffix(p.ImportPath, ".test") {
			modPkgs = append(modPkgs, p)
			modPath = p.Module.Path
		}
	}
	sort.Slice(modPkgs, func(i, j int) bool { return modPkgs[i].ImportPath < modPkgs[j].ImportPath })
}

// check parses and type-checks files, resolving imports through the import
// map of the package variant named variant (test variants differ).
func check(variant string, dir string, names []string) (*token.FileSet, []*ast.File, *types.Package, *types.Info) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			fatalf("%v", err)
		}
		files = append(files, f)
	}
	importMap := map[string]string{}
	if p := byPath[variant]; p != nil {
		importMap = p.ImportMap
	}
	lookup := func(path string) (io.ReadCloser, error) {
		if mapped, ok := importMap[path]; ok {
			path = mapped
		}
		p := byPath[path]
		if p == nil || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	}
	var nerr int
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", lookup),
		Error: func(err error) {
			if nerr++; nerr == 1 {
				fmt.Fprintf(os.Stderr, "codemetrics: %s: %v\n", variant, err)
			}
		},
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
	pkg, _ := conf.Check(variant, fset, files, info)
	if nerr > 1 {
		fmt.Fprintf(os.Stderr, "codemetrics: %s: %d type errors in all; the figures may be short\n", variant, nerr)
	}
	return fset, files, pkg, info
}

func filesSection(dir string, verbose bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		fatalf("%v", err)
	}
	var p *listPkg
	for _, q := range modPkgs {
		if q.Dir == abs {
			p = q
		}
	}
	if p == nil {
		fatalf("no package of the module in %s", dir)
	}
	if len(p.CgoFiles) > 0 {
		fmt.Fprintf(os.Stderr, "codemetrics: cgo files left out: %v\n", p.CgoFiles)
	}
	fset, files, pkg, info := check(p.ImportPath, p.Dir, p.GoFiles)

	type edge struct{ from, to string }
	edges := map[edge]int{}             // uses per ordered pair
	names := map[edge]map[string]bool{} // what is used, per ordered pair
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to {
			e := edge{from, to}
			edges[e]++
			if names[e] == nil {
				names[e] = map[string]bool{}
			}
			names[e][obj.Name()] = true
		}
	}
	out, in := map[string]int{}, map[string]int{}
	twoWay := 0
	for e := range edges {
		out[e.from]++
		in[e.to]++
		if _, ok := edges[edge{e.to, e.from}]; ok && e.from < e.to {
			twoWay++
		}
	}

	fmt.Printf("== files of %s (%s)\n", p.ImportPath, dir)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "file\tlines\tnames\tmethods\tdeps out\tdeps in\t")
	var tl, tn, tm int
	for _, f := range files {
		name := filepath.Base(fset.Position(f.Pos()).Filename)
		lines := countLines(filepath.Join(p.Dir, name))
		names, methods := topLevel(f)
		tl, tn, tm = tl+lines, tn+names, tm+methods
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t\n", name, lines, names, methods, out[name], in[name])
	}
	fmt.Fprintf(w, "total (%d files)\t%d\t%d\t%d\t\t\t\n", len(files), tl, tn, tm)
	w.Flush()
	fmt.Printf("edges (ordered pairs of files, A uses what B declares): %d\n", len(edges))
	fmt.Printf("two-way pairs (A uses B and B uses A): %d\n", twoWay)
	if verbose {
		var list []edge
		for e := range edges {
			list = append(list, e)
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].from != list[j].from {
				return list[i].from < list[j].from
			}
			return list[i].to < list[j].to
		})
		for _, e := range list {
			mark := ""
			if _, ok := edges[edge{e.to, e.from}]; ok {
				var used []string
				for n := range names[e] {
					used = append(used, n)
				}
				sort.Strings(used)
				mark = "  (two-way: " + strings.Join(used, " ") + ")"
			}
			fmt.Printf("  %s -> %s  %d uses%s\n", e.from, e.to, edges[e], mark)
		}
	}
	fmt.Println()
}

// topLevel counts a file's package-level names and its methods.
func topLevel(f *ast.File) (names, methods int) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil {
				methods++
			} else if d.Name.Name != "init" && d.Name.Name != "_" {
				names++
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names++
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							names++
						}
					}
				}
			}
		}
	}
	return names, methods
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// public reports whether a package is part of the module's public API.
func public(p *listPkg) bool {
	rel := strings.TrimPrefix(p.ImportPath, modPath)
	return p.Name != "main" && !strings.Contains(rel+"/", "/internal/") &&
		!strings.HasPrefix(rel, "/cmd/") && !strings.HasPrefix(rel, "/examples/")
}

func exportsSection() {
	fmt.Println("== exported identifiers per package")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "package\ttypes\tfuncs\tvars\tconsts\ttop-level\tmethods\tfields\ttotal\t")
	var sum [8]int
	for _, p := range modPkgs {
		if !public(p) {
			continue
		}
		_, _, pkg, _ := check(p.ImportPath, p.Dir, p.GoFiles)
		var c [8]int // types, funcs, vars, consts, top-level, methods, fields, total
		scope := pkg.Scope()
		for _, name := range scope.Names() {
			obj := scope.Lookup(name)
			if !obj.Exported() {
				continue
			}
			switch obj := obj.(type) {
			case *types.TypeName:
				c[0]++
				named, ok := obj.Type().(*types.Named)
				if obj.IsAlias() || !ok {
					continue
				}
				for i := 0; i < named.NumMethods(); i++ {
					if named.Method(i).Exported() {
						c[5]++
					}
				}
				switch u := named.Underlying().(type) {
				case *types.Struct:
					for i := 0; i < u.NumFields(); i++ {
						if u.Field(i).Exported() {
							c[6]++
						}
					}
				case *types.Interface:
					for i := 0; i < u.NumExplicitMethods(); i++ {
						if u.ExplicitMethod(i).Exported() {
							c[5]++
						}
					}
				}
			case *types.Func:
				c[1]++
			case *types.Var:
				c[2]++
			case *types.Const:
				c[3]++
			}
		}
		c[4] = c[0] + c[1] + c[2] + c[3]
		c[7] = c[4] + c[5] + c[6]
		fmt.Fprintf(w, "%s\t", p.ImportPath)
		for i, n := range c {
			sum[i] += n
			fmt.Fprintf(w, "%d\t", n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "total\t")
	for _, n := range sum {
		fmt.Fprintf(w, "%d\t", n)
	}
	fmt.Fprintln(w)
	w.Flush()
	fmt.Println()
}

type testCounts struct {
	files, tests, fuzz, benchmarks, examplesRun, examplesNoOutput int
	assert                                                        map[string]int
}

var assertNames = []string{"Error", "Errorf", "Fatal", "Fatalf"}

func (c *testCounts) add(d testCounts) {
	c.files += d.files
	c.tests += d.tests
	c.fuzz += d.fuzz
	c.benchmarks += d.benchmarks
	c.examplesRun += d.examplesRun
	c.examplesNoOutput += d.examplesNoOutput
	for k, v := range d.assert {
		c.assert[k] += v
	}
}

func testsSection() {
	fmt.Println("== tests and assertion sites (calls of testing's Error, Errorf, Fatal, Fatalf)")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "package\ttest files\tTest\tFuzz\tBenchmark\tExample run\tExample no output\tError\tErrorf\tFatal\tFatalf\tassertions\t")
	total := testCounts{assert: map[string]int{}}
	for _, p := range modPkgs {
		c := testCounts{assert: map[string]int{}}
		if len(p.TestGoFiles) > 0 {
			files := append(append([]string{}, p.GoFiles...), p.TestGoFiles...)
			c.add(countTests(check(p.ImportPath+" ["+p.ImportPath+".test]", p.Dir, files)))
		}
		if len(p.XTestGoFiles) > 0 {
			c.add(countTests(check(p.ImportPath+"_test ["+p.ImportPath+".test]", p.Dir, p.XTestGoFiles)))
		}
		if c.files > 0 {
			printCounts(w, p.ImportPath, c)
			total.add(c)
		}
	}
	printCounts(w, "total", total)
	w.Flush()
	fmt.Println()
}

func printCounts(w io.Writer, name string, c testCounts) {
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t", name, c.files, c.tests, c.fuzz, c.benchmarks, c.examplesRun, c.examplesNoOutput)
	sum := 0
	for _, n := range assertNames {
		sum += c.assert[n]
		fmt.Fprintf(w, "%d\t", c.assert[n])
	}
	fmt.Fprintf(w, "%d\t\n", sum)
}

func countTests(fset *token.FileSet, files []*ast.File, _ *types.Package, info *types.Info) testCounts {
	c := testCounts{assert: map[string]int{}}
	var testFiles []*ast.File
	for _, f := range files {
		if strings.HasSuffix(fset.Position(f.Pos()).Filename, "_test.go") {
			testFiles = append(testFiles, f)
		}
	}
	c.files += len(testFiles)
	for _, ex := range doc.Examples(testFiles...) {
		if ex.Output != "" || ex.EmptyOutput {
			c.examplesRun++
		} else {
			c.examplesNoOutput++
		}
	}
	for _, f := range testFiles {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				switch {
				case isTest(fn, "Test", "T", info):
					c.tests++
				case isTest(fn, "Fuzz", "F", info):
					c.fuzz++
				case isTest(fn, "Benchmark", "B", info):
					c.benchmarks++
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
			if !ok {
				return true
			}
			fn, ok := info.Uses[sel.Sel].(*types.Func)
			if ok && fn.Pkg() != nil && fn.Pkg().Path() == "testing" {
				for _, name := range assertNames {
					if fn.Name() == name {
						c.assert[name]++
					}
				}
			}
			return true
		})
	}
	return c
}

// isTest reports whether fn is func PrefixXxx(x *testing.Param), as go test
// requires: the prefix alone, or followed by a character that is not lower case.
func isTest(fn *ast.FuncDecl, prefix, param string, info *types.Info) bool {
	name := fn.Name.Name
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(name[len(prefix):]); len(name) > len(prefix) && unicode.IsLower(r) {
		return false
	}
	obj, ok := info.Defs[fn.Name].(*types.Func)
	if !ok {
		return false
	}
	sig := obj.Type().(*types.Signature)
	if sig.Params().Len() != 1 || sig.Results().Len() != 0 || sig.TypeParams().Len() != 0 {
		return false
	}
	ptr, ok := sig.Params().At(0).Type().(*types.Pointer)
	if !ok {
		return false
	}
	named, ok := ptr.Elem().(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == "testing" && named.Obj().Name() == param
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "codemetrics: "+format+"\n", args...)
	os.Exit(1)
}
