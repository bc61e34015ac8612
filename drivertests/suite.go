package drivertests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// sqlpoolModule is the module path of the code under test.
const sqlpoolModule = "github.com/sqlpool/sqlpool"

// Suite is one driver's own package test suite, taken from its published
// module at the version sqlpool's go.mod requires.
type Suite struct {
	Name   string // short name, for messages: "mysql", "libpq"
	Module string // module path; its root package is the one tested
	// Helpers are directories of the module (relative to its root) whose
	// non-test files exist only for the tests (lib/pq's internal/pqtest,
	// whose DB helper is where most of its tests open their sql.DB). They
	// are rewritten like the test files.
	Helpers []string
	// Skip are top-level tests left out of both runs (-skip), SkipReason
	// says why.
	Skip       []string
	SkipReason string
	// Allowed are the tests that may pass raw and not through sqlpool.
	Allowed []Allowed
}

// goCmd returns a go command for dir with env added to the environment.
func goCmd(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	// GOWORK=off: the copies are modules of their own, whatever go.work
	// an enclosing directory might hold.
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// runGo runs a go command and returns its stdout, or an error with its
// stderr.
func runGo(ctx context.Context, dir string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := goCmd(ctx, dir, nil, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// requiredVersion returns the version of module that the go.mod of the
// sqlpool source at src requires.
func requiredVersion(ctx context.Context, src, module string) (string, error) {
	out, err := runGo(ctx, src, "mod", "edit", "-json", filepath.Join(src, "go.mod"))
	if err != nil {
		return "", err
	}
	var mf struct {
		Module  struct{ Path string }
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(out, &mf); err != nil {
		return "", fmt.Errorf("go mod edit -json %s/go.mod: %w", src, err)
	}
	if mf.Module.Path != sqlpoolModule {
		return "", fmt.Errorf("%s/go.mod is module %q, not %s: set SQLPOOL_SRC to sqlpool's source", src, mf.Module.Path, sqlpoolModule)
	}
	for _, r := range mf.Require {
		if r.Path == module {
			return r.Version, nil
		}
	}
	return "", fmt.Errorf("%s/go.mod does not require %s", src, module)
}

// download fetches module@version into the module cache (through the module
// proxy, unless it is there already) and returns its directory there.
func download(ctx context.Context, module, version, scratch string) (string, error) {
	// Outside any module, so that no go.mod is consulted or changed.
	out, err := runGo(ctx, scratch, "mod", "download", "-json", module+"@"+version)
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr == nil && m.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, m.Error)
	}
	if err != nil {
		return "", err
	}
	if m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s gave no directory", module, version)
	}
	return m.Dir, nil
}

// copyTree copies the directory src to dst, which must not exist. Files in
// the module cache are read-only; the copies are writable (0644, or 0755 for
// executables), so that they can be edited and removed.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			return os.WriteFile(target, data, mode)
		default:
			return nil // module zips hold only directories and regular files
		}
	})
}

// RedirectReport says what redirect changed.
type RedirectReport struct {
	Files map[string]int // rewritten file (relative path) → references replaced
	Added []string       // the files defining sqlpoolOpen and sqlpoolOpenDB
}

func (r RedirectReport) Total() int {
	n := 0
	for _, c := range r.Files {
		n += c
	}
	return n
}

// redirect rewrites, in the module copy at root, the test files of the root
// package and the Go files of the helper directories, so that every
// sql.Open and sql.OpenDB goes through sqlpool, and adds to each rewritten
// package the file that defines the replacements.
func redirect(root string, helpers []string) (RedirectReport, error) {
	rep := RedirectReport{Files: map[string]int{}}
	type target struct {
		dir  string
		test bool // the root package's _test.go files, or a helper's non-test files
	}
	targets := []target{{root, true}}
	for _, h := range helpers {
		targets = append(targets, target{filepath.Join(root, h), false})
	}
	for _, tg := range targets {
		entries, err := os.ReadDir(tg.dir)
		if err != nil {
			return rep, err
		}
		// The packages in the directory that got a rewrite: pq and pq_test
		// (the external test package) each need the definitions.
		rewritten := map[string]bool{}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") != tg.test {
				continue
			}
			path := filepath.Join(tg.dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				return rep, err
			}
			res, err := rewriteFile(path, src)
			if err != nil {
				return rep, err
			}
			if res.Count == 0 {
				continue
			}
			if err := os.WriteFile(path, res.Src, 0o644); err != nil {
				return rep, err
			}
			rel, _ := filepath.Rel(root, path)
			rep.Files[rel] = res.Count
			rewritten[res.Package] = true
		}
		for _, pkg := range sortedKeys(rewritten) {
			name := "zz_sqlpool_redirect"
			if strings.HasSuffix(pkg, "_test") {
				name += "_x"
			}
			if tg.test {
				name += "_test"
			}
			path := filepath.Join(tg.dir, name+".go")
			if _, err := os.Stat(path); err == nil {
				return rep, fmt.Errorf("%s exists already", path)
			}
			if err := os.WriteFile(path, redirectSource(pkg), 0o644); err != nil {
				return rep, err
			}
			rel, _ := filepath.Rel(root, path)
			rep.Added = append(rep.Added, rel)
		}
	}
	return rep, nil
}

// modInfo is what the harness reads of a go.mod.
type modInfo struct {
	Go      string
	Require []struct{ Path, Version string }
}

func readMod(ctx context.Context, dir string) (modInfo, error) {
	var mf modInfo
	out, err := runGo(ctx, dir, "mod", "edit", "-json")
	if err != nil {
		return mf, err
	}
	err = json.Unmarshal(out, &mf)
	return mf, err
}

// requireSqlpool makes the module copy at dir require sqlpool, replaced by
// the source at src, and resolves its dependencies (go mod tidy, which may
// fetch sqlpool's through the module proxy). It returns what changed besides:
// the go directive (sqlpool's go version raises the copy's) and the
// versions of the driver's own dependencies that sqlpool's requirements
// raised ("module v1 => v2"), which then differ between the two runs.
func requireSqlpool(ctx context.Context, dir, src string) (goBefore, goAfter string, raised []string, err error) {
	before, err := readMod(ctx, dir)
	if err != nil {
		return "", "", nil, err
	}
	if _, err = runGo(ctx, dir, "mod", "edit",
		"-require="+sqlpoolModule+"@v0.0.0",
		"-replace="+sqlpoolModule+"="+src); err != nil {
		return "", "", nil, err
	}
	if _, err = runGo(ctx, dir, "mod", "tidy"); err != nil {
		return "", "", nil, err
	}
	after, err := readMod(ctx, dir)
	if err != nil {
		return "", "", nil, err
	}
	now := map[string]string{}
	for _, r := range after.Require {
		now[r.Path] = r.Version
	}
	for _, r := range before.Require {
		if v, ok := now[r.Path]; ok && v != r.Version {
			raised = append(raised, fmt.Sprintf("%s %s => %s", r.Path, r.Version, v))
		}
	}
	return before.Go, after.Go, raised, nil
}

// Run is one `go test -json` run of a suite.
type Run struct {
	Results *Results
	Elapsed time.Duration
	Stderr  string
	Err     error // the go command's exit error (a failing test fails it too)
}

// runSuite runs `go test -json -count=1 .` in dir with env added, the test
// binary's -timeout set to timeout (so a hang is reported with the test that
// hung), and the whole command, build included, bounded a little longer. The
// JSON stream goes to jsonPath too, for a look afterwards.
func runSuite(ctx context.Context, dir string, env []string, skip []string, timeout time.Duration, jsonPath string) (*Run, error) {
	// -vet=off: the redirected copy's go directive is raised to sqlpool's,
	// and vet's checks follow the language version (Go 1.26's printf check
	// rejects a line of lib/pq's tests that its own go 1.21 accepts); vet is
	// no part of the suites' verdicts, so both runs leave it out.
	args := []string{"test", "-json", "-count=1", "-vet=off", "-timeout=" + timeout.String()}
	if len(skip) > 0 {
		args = append(args, "-skip="+skipPattern(skip))
	}
	args = append(args, ".")
	ctx, cancel := context.WithTimeout(ctx, timeout+3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := goCmd(ctx, dir, env, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	run := &Run{Elapsed: time.Since(start), Stderr: stderr.String(), Err: err}
	if ctx.Err() != nil {
		return run, fmt.Errorf("go %s in %s: killed after %v: %w", strings.Join(args, " "), dir, run.Elapsed.Round(time.Second), ctx.Err())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return run, fmt.Errorf("go %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	if jsonPath != "" {
		if werr := os.WriteFile(jsonPath, stdout.Bytes(), 0o644); werr != nil {
			return run, werr
		}
	}
	res, perr := parseResults(&stdout)
	if perr != nil {
		return run, perr
	}
	run.Results = res
	if len(res.Order) == 0 {
		return run, fmt.Errorf("go %s in %s ran no test (exit: %v):\n%s\n%s", strings.Join(args, " "), dir, err,
			strings.Join(res.PackageOutput, "\n"), run.Stderr)
	}
	return run, nil
}

// skipPattern returns the -skip pattern that matches exactly the top-level
// tests named.
func skipPattern(tests []string) string {
	q := make([]string, len(tests))
	for i, t := range tests {
		q[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// maxAttempts bounds how often a run is resumed after its test binary died.
const maxAttempts = 8

// Died is a test binary that ended early, and the test it ended in.
type Died struct {
	Attempt int
	Tests   []string // the tests it died in
	Panic   string   // the panic's first line, "" if it exited without one
}

// runResumable runs a suite like runSuite and, when the test binary dies
// before its end (a test panics, which ends the whole binary, or the run
// times out), runs it again, with the top-level tests already finished
// skipped, until every test has a result, within one timeout for all. A
// test that panicked is a failure; one that was running when the binary
// timed out too (it is not run again). The others that had started and not
// finished (paused parallel tests, say) are run again. Without this, one
// panicking test (a type assertion on the driver's connection that a
// wrapper fails, say) would hide the outcome of every test after it.
func runResumable(ctx context.Context, dir string, env []string, skip []string, timeout time.Duration, jsonBase string, before func(context.Context) error) (*Run, []Died, error) {
	deadline := time.Now().Add(timeout)
	merged := &Results{Outcomes: map[string]Outcome{}, Output: map[string][]string{}}
	total := &Run{Results: merged}
	var died []Died
	done := map[string]bool{}
	for attempt := 1; ; attempt++ {
		jsonPath := jsonBase + ".json"
		if attempt > 1 {
			jsonPath = fmt.Sprintf("%s.%d.json", jsonBase, attempt)
		}
		skipNow := append(slices.Clone(skip), sortedKeys(done)...)
		if err := before(ctx); err != nil {
			return total, died, fmt.Errorf("preparing the server: %w", err)
		}
		run, err := runSuite(ctx, dir, env, skipNow, time.Until(deadline), jsonPath)
		if run != nil {
			total.Elapsed += run.Elapsed
			total.Stderr += run.Stderr
			total.Err = run.Err
		}
		if err != nil {
			if attempt > 1 && run != nil && run.Results != nil && len(run.Results.Order) == 0 {
				break // everything left was skipped: nothing more to run
			}
			return total, died, err
		}
		r := run.Results
		// A binary that ran to its end leaves no test unfinished. One that
		// died leaves the test it died in (and its parents, and paused
		// parallel tests) without a result: that test is a failure, and is
		// not run again; the others are.
		diedNow := r.PackageAction == "" || slices.Contains(slices.Collect(maps.Values(r.Outcomes)), Incomplete)
		blamed := map[string]bool{}
		var culprits []string
		culpritPanic := ""
		if diedNow {
			culprits, culpritPanic = r.culprits()
			for _, c := range culprits {
				for name := c; ; {
					blamed[name] = true
					i := strings.LastIndex(name, "/")
					if i < 0 {
						break
					}
					name = name[:i]
				}
			}
		}
		progress := false
		for _, name := range r.Order {
			o := r.Outcomes[name]
			if _, seen := merged.Outcomes[name]; !seen {
				merged.Order = append(merged.Order, name)
			}
			merged.Output[name] = append(merged.Output[name], r.Output[name]...)
			if o == Incomplete && blamed[name] {
				o = Fail
				merged.Output[name] = append(merged.Output[name], "(the test binary ended while this test ran)")
			}
			if o != Incomplete || merged.Outcomes[name] == "" {
				merged.Outcomes[name] = o
			}
			if o != Incomplete && !strings.Contains(name, "/") && !done[name] {
				done[name], progress = true, true
			}
		}
		if attempt > 1 {
			merged.PackageOutput = append(merged.PackageOutput, fmt.Sprintf("--- resumed run %d ---", attempt))
		}
		merged.PackageOutput = append(merged.PackageOutput, r.PackageOutput...)
		merged.PackageAction = r.PackageAction
		if !diedNow {
			break
		}
		died = append(died, Died{Attempt: attempt, Tests: culprits, Panic: culpritPanic})
		if !progress || attempt >= maxAttempts || time.Until(deadline) < 10*time.Second {
			break
		}
	}
	return total, died, nil
}
