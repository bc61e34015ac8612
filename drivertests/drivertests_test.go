package drivertests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMySQLSuiteThroughSqlpool(t *testing.T) { checkSuite(t, MySQLSuite, mysqlServer()) }

func TestLibPQSuiteThroughSqlpool(t *testing.T) { checkSuite(t, LibPQSuite, postgresServer()) }

// defaultRunTimeout bounds one run of a suite (the test binary's -timeout);
// SQLPOOL_DRIVERTESTS_TIMEOUT overrides it.
const defaultRunTimeout = 4 * time.Minute

// sqlpoolSource returns the absolute path of the sqlpool source the
// redirected suites build against: SQLPOOL_SRC, or the repository root this
// module lives in.
func sqlpoolSource(t *testing.T) string {
	src := os.Getenv("SQLPOOL_SRC")
	if src == "" {
		src = ".." // go test runs in the package directory, drivertests/
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// workDir returns the directory the suite's copies are made in: a fresh one
// under SQLPOOL_DRIVERTESTS_WORK, kept afterwards, if that is set; a
// temporary one removed at the end otherwise.
func workDir(t *testing.T, name string) string {
	base := os.Getenv("SQLPOOL_DRIVERTESTS_WORK")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("work directory (kept): %s", dir)
	return dir
}

// runTimeout returns the -timeout of one suite run: the default, or less
// when this test binary's own deadline comes sooner.
func runTimeout(t *testing.T) time.Duration {
	d := defaultRunTimeout
	if s := os.Getenv("SQLPOOL_DRIVERTESTS_TIMEOUT"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("SQLPOOL_DRIVERTESTS_TIMEOUT: %v", err)
		}
	}
	if deadline, ok := t.Deadline(); ok {
		// Leave time for the build and for the report.
		if left := time.Until(deadline) - 45*time.Second; left < d {
			d = left
		}
	}
	if d <= 0 {
		t.Fatal("no time left for a suite run before this test binary's deadline: give go test a larger -timeout")
	}
	return d
}

func checkSuite(t *testing.T, s Suite, srv Server) {
	if testing.Short() {
		t.Skip("-short: the driver suites take a while")
	}
	ctx := t.Context()
	if err := srv.Reachable(); err != nil {
		msg := fmt.Sprintf("%s is not reachable at %s (%v): %s", srv.What, srv.Addr, err, srv.Hint)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (with CI=true this fails)")
	}
	if err := srv.Setup(ctx); err != nil { // now, to fail early
		t.Fatalf("preparing %s for the %s suite: %v", srv.What, s.Name, err)
	}

	src := sqlpoolSource(t)
	version, err := requiredVersion(ctx, src, s.Module)
	if err != nil {
		t.Fatal(err)
	}
	work := workDir(t, s.Name)
	modDir, err := download(ctx, s.Module, version, work)
	if err != nil {
		t.Fatal(err)
	}
	rawDir, viaDir := filepath.Join(work, "raw"), filepath.Join(work, "sqlpool")
	for _, d := range []string{rawDir, viaDir} {
		if err := copyTree(modDir, d); err != nil {
			t.Fatalf("copying %s: %v", modDir, err)
		}
	}
	rep, err := redirect(viaDir, s.Helpers)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() == 0 {
		t.Fatalf("%s@%s: no sql.Open or sql.OpenDB found to redirect", s.Module, version)
	}
	goBefore, goAfter, raised, err := requireSqlpool(ctx, viaDir, src)
	if err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s suite: %s@%s, sqlpool from %s\n", s.Name, s.Module, version, src)
	fmt.Fprintf(&b, "redirected %d references to sql.Open/sql.OpenDB in %s; added %s\n",
		rep.Total(), formatCounts(rep.Files), strings.Join(rep.Added, ", "))
	if goBefore != goAfter {
		fmt.Fprintf(&b, "the redirected copy's go directive is %s (sqlpool's), the raw copy's %s\n", goAfter, goBefore)
	}
	if len(raised) > 0 {
		fmt.Fprintf(&b, "sqlpool's requirements raise the redirected copy's dependencies: %s\n", strings.Join(raised, ", "))
	}
	if len(s.Skip) > 0 {
		fmt.Fprintf(&b, "both runs: -skip %s (%s)\n", skipPattern(s.Skip), s.SkipReason)
	}

	runs := map[string]*Run{}
	for _, r := range []struct{ name, dir string }{{"raw", rawDir}, {"sqlpool", viaDir}} {
		timeout := runTimeout(t)
		run, died, err := runResumable(ctx, r.dir, srv.Env, s.Skip, timeout, filepath.Join(work, r.name), srv.Setup)
		if err != nil {
			t.Fatalf("%s run of the %s suite: %v", r.name, s.Name, err)
		}
		for _, d := range died {
			what := "ended early, in no test in particular"
			if len(d.Tests) > 0 {
				how := d.Panic
				if how == "" {
					how = "it exited without a panic: os.Exit, log.Fatal"
				}
				what = fmt.Sprintf("ended early in %s (%s)", strings.Join(d.Tests, ", "), how)
			}
			fmt.Fprintf(&b, "%s run: the test binary %s; resumed without the tests that had finished\n", r.name, what)
		}
		runs[r.name] = run
	}
	raw, via := runs["raw"], runs["sqlpool"]
	cmp := compare(raw.Results, via.Results, s.Allowed)
	unexpected := cmp.Unexpected()

	fmt.Fprintf(&b, "raw:             %s (%v)\n", raw.Results.Counts(), raw.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "through sqlpool: %s (%v)\n", via.Results.Counts(), via.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "%d tests pass raw but not through sqlpool (%d allowed, %d not)\n",
		len(cmp.Differences), len(cmp.Differences)-len(unexpected), len(unexpected))
	// Tests that did not run, or not to their end, through sqlpool (the
	// binary ended early, a timeout most often): one line for them all.
	var unfinished []string
	for _, d := range cmp.Differences {
		tag := "NOT ALLOWED"
		if d.Allowed != nil {
			tag = "allowed: " + d.Allowed.Reason
		} else if d.Outcome == Missing || d.Outcome == Incomplete {
			unfinished = append(unfinished, d.Test)
			continue
		}
		fmt.Fprintf(&b, "  %s: %s through sqlpool [%s]\n", d.Test, d.Outcome, tag)
		if d.Allowed == nil {
			for _, l := range keyOutput(d.Output, 12) {
				fmt.Fprintf(&b, "      %s\n", strings.TrimSpace(l))
			}
		}
	}
	if len(unfinished) > 0 {
		fmt.Fprintf(&b, "  %d more did not run or did not finish through sqlpool, the test binary having ended early (see above; a timeout: SQLPOOL_DRIVERTESTS_TIMEOUT): %s\n",
			len(unfinished), abbreviate(unfinished, 20))
	}
	for _, a := range cmp.Stale {
		fmt.Fprintf(&b, "allowed difference %s no longer differs (raw %s, through sqlpool %s): remove it from the list\n",
			a.Test, raw.Results.Outcome(a.Test), via.Results.Outcome(a.Test))
	}
	if len(cmp.OnlySqlpool) > 0 {
		fmt.Fprintf(&b, "pass through sqlpool, not raw: %s\n", strings.Join(cmp.OnlySqlpool, ", "))
	}
	t.Log("\n" + b.String())
	t.Logf("drivertests %s: raw %s; through sqlpool %s; %d pass raw only (%d not allowed)",
		s.Name, raw.Results.Counts(), via.Results.Counts(), len(cmp.Differences), len(unexpected))

	if len(unexpected) > 0 {
		names := make([]string, len(unexpected))
		for i, d := range unexpected {
			names[i] = d.Test
		}
		t.Errorf("%d tests of the %s suite pass raw but not through sqlpool, and are not allowed differences: %s",
			len(unexpected), s.Name, abbreviate(names, 60))
	}
}

// abbreviate joins the first n names, and says how many more there are.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, … and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func formatCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
