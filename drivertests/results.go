package drivertests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Outcome is the final state of one test (or subtest, or example) in a run.
type Outcome string

const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
	// Incomplete: the test started but reported no result, because the test
	// binary exited while it ran (a panic elsewhere, or the run's timeout).
	Incomplete Outcome = "incomplete"
	// Missing: the test never started in this run, though it did in the
	// other (the binary exited before it, or failed to build).
	Missing Outcome = "missing"
)

// testEvent is one line of `go test -json` (cmd/test2json's TestEvent).
type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// Results are the outcomes of one `go test -json` run of one package.
type Results struct {
	Outcomes map[string]Outcome  // by test name, "TestA/sub" for subtests
	Output   map[string][]string // each test's output lines, in order
	Order    []string            // test names in the order they started
	// Paused are the incomplete tests that were paused (t.Parallel,
	// waiting for their turn) when the binary ended, not running.
	Paused map[string]bool
	// PackageAction is the package's own final action ("pass", "fail", or
	// "" when the binary did not report one); PackageOutput its output that
	// belongs to no test (build errors, a panic's trace after the last
	// test, "FAIL" lines).
	PackageAction string
	PackageOutput []string
}

// parseResults reads the JSON events of `go test -json`. Lines that are not
// JSON (there should be none on stdout) go to PackageOutput.
func parseResults(r io.Reader) (*Results, error) {
	res := &Results{Outcomes: map[string]Outcome{}, Output: map[string][]string{}, Paused: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e testEvent
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			res.PackageOutput = append(res.PackageOutput, string(line))
			continue
		}
		if e.Test == "" {
			switch e.Action {
			case "output", "build-output":
				res.PackageOutput = append(res.PackageOutput, strings.TrimRight(e.Output, "\n"))
			case "pass", "fail", "skip":
				res.PackageAction = e.Action
			case "build-fail":
				res.PackageAction = "fail"
			}
			continue
		}
		switch e.Action {
		case "run":
			if _, seen := res.Outcomes[e.Test]; !seen {
				res.Order = append(res.Order, e.Test)
			}
			res.Outcomes[e.Test] = Incomplete
		case "pause":
			res.Paused[e.Test] = true
		case "cont":
			delete(res.Paused, e.Test)
		case "pass":
			res.Outcomes[e.Test] = Pass
			delete(res.Paused, e.Test)
		case "fail":
			res.Outcomes[e.Test] = Fail
			delete(res.Paused, e.Test)
		case "skip":
			res.Outcomes[e.Test] = Skip
			delete(res.Paused, e.Test)
		case "output":
			res.Output[e.Test] = append(res.Output[e.Test], strings.TrimRight(e.Output, "\n"))
		}
	}
	return res, sc.Err()
}

// culprits returns the tests the binary ended in, when it ended before its
// end: those whose output has a panic; without one (os.Exit, log.Fatal),
// the innermost tests that were running, not paused.
func (r *Results) culprits() (tests []string, panicLine string) {
	for _, name := range r.Order {
		for _, l := range r.Output[name] {
			if strings.HasPrefix(l, "panic: ") {
				tests = append(tests, name)
				if panicLine == "" {
					panicLine = l
				}
				break
			}
		}
	}
	if len(tests) > 0 {
		return tests, panicLine
	}
	running := func(name string) bool { return r.Outcomes[name] == Incomplete && !r.Paused[name] }
	for _, name := range r.Order {
		if !running(name) {
			continue
		}
		inner := false
		for _, other := range r.Order {
			if strings.HasPrefix(other, name+"/") && running(other) {
				inner = true
				break
			}
		}
		if !inner {
			tests = append(tests, name)
		}
	}
	return tests, ""
}

// Outcome returns the outcome of test, Missing if it never started.
func (r *Results) Outcome(test string) Outcome {
	if o, ok := r.Outcomes[test]; ok {
		return o
	}
	return Missing
}

// Counts are the numbers of tests per outcome in one run.
type Counts struct {
	Passed, Failed, Skipped, Incomplete int
}

func (r *Results) Counts() Counts {
	var c Counts
	for _, o := range r.Outcomes {
		switch o {
		case Pass:
			c.Passed++
		case Fail:
			c.Failed++
		case Skip:
			c.Skipped++
		case Incomplete:
			c.Incomplete++
		}
	}
	return c
}

func (c Counts) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
	if c.Incomplete > 0 {
		s += fmt.Sprintf(", %d incomplete", c.Incomplete)
	}
	return s
}

// Allowed is a test that may pass raw and not through sqlpool, with the
// reason no wrapper of the driver could do otherwise.
type Allowed struct {
	Test   string
	Reason string
}

// Difference is a test that passed raw and did not pass through sqlpool.
type Difference struct {
	Test    string
	Outcome Outcome  // through sqlpool
	Output  []string // its output through sqlpool
	Allowed *Allowed // the allowed-list entry that covers it, if any
}

// Comparison is a raw run compared test by test with the run through sqlpool.
type Comparison struct {
	Raw, Sqlpool *Results
	Differences  []Difference // passed raw, did not pass through sqlpool
	// Stale are allowed-list entries whose test passes through sqlpool
	// again (or no longer passes raw, or is gone): they can be removed.
	Stale []Allowed
	// OnlySqlpool are the tests that pass through sqlpool and not raw.
	OnlySqlpool []string
}

// compare lists every test that passes raw but not through sqlpool, marking
// those the allowed list covers. An entry covers its test; an ancestor test
// (a parent of subtests) whose every differing descendant is covered is
// covered too, since a parent fails when a subtest does.
func compare(raw, via *Results, allowed []Allowed) *Comparison {
	c := &Comparison{Raw: raw, Sqlpool: via}
	byTest := map[string]*Allowed{}
	for i := range allowed {
		byTest[allowed[i].Test] = &allowed[i]
	}
	differs := map[string]bool{}
	for _, name := range raw.Order {
		if raw.Outcome(name) == Pass && via.Outcome(name) != Pass {
			differs[name] = true
			c.Differences = append(c.Differences, Difference{
				Test: name, Outcome: via.Outcome(name), Output: via.Output[name], Allowed: byTest[name],
			})
		}
	}
	for i := range c.Differences {
		d := &c.Differences[i]
		if d.Allowed != nil {
			continue
		}
		// The differing leaves under d: differing descendants with no
		// differing descendant of their own.
		var leaves []string
		for name := range differs {
			if strings.HasPrefix(name, d.Test+"/") && !hasDifferingDescendant(name, differs) {
				leaves = append(leaves, name)
			}
		}
		if len(leaves) == 0 {
			continue
		}
		sort.Strings(leaves)
		for _, leaf := range leaves {
			if byTest[leaf] == nil {
				d.Allowed = nil
				break
			}
			d.Allowed = byTest[leaf]
		}
	}
	for _, a := range allowed {
		if !differs[a.Test] {
			c.Stale = append(c.Stale, a)
		}
	}
	for _, name := range via.Order {
		if via.Outcome(name) == Pass && raw.Outcome(name) != Pass {
			c.OnlySqlpool = append(c.OnlySqlpool, name)
		}
	}
	return c
}

// hasDifferingDescendant reports whether some subtest of name differs too.
func hasDifferingDescendant(name string, differs map[string]bool) bool {
	for other := range differs {
		if strings.HasPrefix(other, name+"/") {
			return true
		}
	}
	return false
}

// Unexpected returns the differences no allowed entry covers.
func (c *Comparison) Unexpected() []Difference {
	var out []Difference
	for _, d := range c.Differences {
		if d.Allowed == nil {
			out = append(out, d)
		}
	}
	return out
}

// keyOutput returns the lines of a test's output that say what went wrong:
// without the === RUN / --- FAIL framing, at most max lines. Of a panic's
// goroutine dump it keeps the panic line and the first test-file frames.
func keyOutput(lines []string, max int) []string {
	var out []string
	inPanic, frames := false, 0
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- "):
			continue
		case strings.HasPrefix(l, "panic: "):
			inPanic = true
			out = append(out, l)
			if strings.HasPrefix(l, "panic: test timed out") {
				frames = 2 // the dump is of every goroutine: no frame says more
			}
			continue
		case inPanic:
			// Frames are "\t/path/file.go:123 +0x45" lines.
			if frames < 2 && strings.HasPrefix(l, "\t") && strings.Contains(t, "_test.go:") {
				out = append(out, "    at "+strings.Fields(t)[0])
				frames++
			}
			continue
		}
		out = append(out, l)
	}
	if len(out) > max {
		out = append(out[:max:max], fmt.Sprintf("    … %d more lines", len(out)-max))
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
