package sqlpool

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// BindingViolations returns how many times, since the test binary started,
// a physical connection was bound to a logical connection while bound to
// another, or unbound by one it was not bound to.
func BindingViolations() int64 { return bindingViolations.Load() }

// Every test of this package checks the invariant that no physical
// connection is ever bound to two logical connections at once (see
// checkBindings): the soak and cancellation tests assert it themselves, and
// the test binary fails if any test broke it. Benchmarks run without the
// check, as applications do.
func TestMain(m *testing.M) {
	flag.Parse()
	checkBindings = flag.Lookup("test.bench").Value.String() == ""
	code := m.Run()
	if n := BindingViolations(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d times a physical connection was bound to two logical connections at once\n", n)
		code = 1
	}
	os.Exit(code)
}
