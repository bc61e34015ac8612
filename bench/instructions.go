package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// Instruction counts: valgrind's callgrind counts the CPU instructions a
// query costs, which do not drift with the load of a shared machine the way
// nanoseconds do. Workload 1's goal (sqlpool within 5% of raw) is finer
// than this machine's timing noise, so the suite counts instructions too.

// InstructionCounter counts instructions per query of BenchmarkSQLiteSelect1's
// peers in a test binary of this package.
type InstructionCounter struct {
	bin string
	N   int // queries per count; the figure is (Ir(2N) - Ir(N)) / N
}

// NewInstructionCounter builds the test binary of the package in dir (the
// bench module's root). It fails if valgrind is not installed.
func NewInstructionCounter(dir string) (*InstructionCounter, error) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return nil, fmt.Errorf("valgrind is not installed (apt-get install valgrind): %w", err)
	}
	tmp, err := os.MkdirTemp("", "sqlpool-bench-ir-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "bench.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go test -c: %w\n%s", err, out)
	}
	return &InstructionCounter{bin: bin, N: 20000}, nil
}

// Close removes the test binary.
func (c *InstructionCounter) Close() { os.RemoveAll(filepath.Dir(c.bin)) }

var collected = regexp.MustCompile(`Collected : (\d+)`)

// ir returns the instructions of running peer's serial SELECT 1 n times.
// Go's asynchronous preemption signals can trip an assertion in callgrind,
// so they are off, and a run that still dies is retried; the garbage
// collector is off, since it runs at times that differ from run to run.
func (c *InstructionCounter) ir(peer string, n int) (int64, error) {
	var last error
	for range 3 {
		cmd := exec.Command("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
			c.bin, "-test.run", "^$", "-test.bench", "^BenchmarkSQLiteSelect1$/^peer="+peer+"$",
			"-test.benchtime", fmt.Sprintf("%dx", n))
		cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1", "GOGC=off", "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		if m := collected.FindSubmatch(out); err == nil && m != nil {
			return strconv.ParseInt(string(m[1]), 10, 64)
		}
		last = fmt.Errorf("valgrind on %s: %v", peer, err)
	}
	return 0, last
}

// PerQuery returns the instructions one serial SELECT 1 costs through peer
// (a Micro's ID).
func (c *InstructionCounter) PerQuery(peer string) (int64, error) {
	a, err := c.ir(peer, c.N)
	if err != nil {
		return 0, err
	}
	b, err := c.ir(peer, 2*c.N)
	if err != nil {
		return 0, err
	}
	return (b - a) / int64(c.N), nil
}
