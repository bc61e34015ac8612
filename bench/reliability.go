package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/internal/faultproxy"
	"github.com/sqlpool/sqlpool/internal/soak"
)

// Reliability is the reliability suite: a soak load with a fault injected in
// its middle, scenario by scenario, on raw database/sql and on sqlpool with
// the same driver, and the fuzzers run for a set time.
type Reliability struct {
	PostgresURL string
	// LoadTime is how long each fault scenario's load runs; the fault comes
	// at a third of it. SoakTime is the soak's, without faults.
	LoadTime, SoakTime time.Duration
	// FuzzTime is how long each fuzz target runs; 0 skips fuzzing.
	FuzzTime time.Duration
	// Root is the repository's root, where the fuzzers run.
	Root string
	// Only lists the scenarios to run (by Scenario.Key); all when empty.
	Only []string
	Log  *log.Logger
}

// The load of every scenario: soak's mix from this many goroutines over
// this many connections.
const (
	relGoroutines = 16
	relConns      = 8
	relOpTimeout  = 5 * time.Second
)

// A Scenario is a fault injected in the middle of the load.
type Scenario struct {
	Key, Title string
	Faults     string // what is done, for the report
	// Where the load connects: the shared server directly, through a fault
	// proxy to it, or a throwaway server the scenario may restart.
	Via via
	// Inject injects the fault and returns what it did ("37 backends
	// killed"), or "" when Faults says it all, and how many operations it
	// may fail: those that can be in flight on the connections it broke.
	Inject func(ctx context.Context, f *faultEnv) (what string, mayFail int, err error)
}

type via int

const (
	viaDirect via = iota
	viaProxy
	viaTemp
)

// faultEnv is what a fault works with.
type faultEnv struct {
	admin *Admin
	app   string // the application_name of the load's connections
	proxy *faultproxy.Proxy
	temp  *TempPostgres
	load  time.Duration
}

// Scenarios are the suite's fault scenarios, in the order of the report.
func Scenarios() []Scenario {
	const window = 3 * time.Second
	hold := func(ctx context.Context, d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return []Scenario{
		{Key: "soak", Title: "Soak, no faults", Faults: "none", Via: viaDirect},
		{Key: "storm", Title: "pg_terminate_backend storm", Via: viaDirect,
			Faults: "every backend of the load killed, 10 times, 300 ms apart",
			Inject: func(ctx context.Context, f *faultEnv) (string, int, error) {
				killed := 0
				for i := range 10 {
					if i > 0 {
						hold(ctx, 300*time.Millisecond)
					}
					n, err := f.admin.Terminate(ctx, f.app)
					if err != nil {
						return "", 0, err
					}
					killed += n
				}
				return fmt.Sprintf("%d backends killed", killed), killed, nil
			}},
		{Key: "cut", Title: "Every connection cut", Via: viaProxy,
			Faults: "every open connection closed by the network (proxy), once",
			Inject: func(_ context.Context, f *faultEnv) (string, int, error) {
				n := f.proxy.Active()
				f.proxy.CutAll()
				return fmt.Sprintf("%d connections cut", n), relConns, nil
			}},
		{Key: "outage", Title: "Outage of 3 s", Via: viaProxy,
			Faults: "every connection cut and new ones refused for 3 s (proxy), as a restart or failover",
			Inject: func(ctx context.Context, f *faultEnv) (string, int, error) {
				f.proxy.Refuse(true)
				n := f.proxy.Active()
				f.proxy.CutAll()
				hold(ctx, window)
				f.proxy.Refuse(false)
				return fmt.Sprintf("%d connections cut", n), relConns, nil
			}},
		{Key: "blackhole", Title: "Black hole of 3 s", Via: viaProxy,
			Faults: "every connection silent for 3 s, old and new (no FIN, no RST: reads hang), then the old ones reset (proxy)",
			Inject: func(ctx context.Context, f *faultEnv) (string, int, error) {
				f.proxy.BlackHole(true)
				f.proxy.BlackHoleAll()
				n := f.proxy.Active()
				hold(ctx, window)
				f.proxy.BlackHole(false)
				f.proxy.CutAll()
				return fmt.Sprintf("%d connections black-holed", n), relConns, nil
			}},
		{Key: "latency", Title: "Latency of 20 ms for 3 s", Via: viaProxy,
			Faults: "20 ms added each way to every packet for 3 s (proxy)",
			Inject: func(ctx context.Context, f *faultEnv) (string, int, error) {
				f.proxy.Latency(20 * time.Millisecond)
				hold(ctx, window)
				f.proxy.Latency(0)
				return "", 0, nil
			}},
		{Key: "restart", Title: "Server restart", Via: viaTemp,
			Faults: "a throwaway PostgreSQL restarted (pg_ctl restart -m fast)",
			Inject: func(_ context.Context, f *faultEnv) (string, int, error) {
				start := time.Now()
				if err := f.temp.Restart(); err != nil {
					return "", 0, err
				}
				return fmt.Sprintf("restart took %s", fmtDur(time.Since(start))), relConns, nil
			}},
	}
}

// ReliabilityPeers are the configurations each scenario runs on: raw
// database/sql and sqlpool with its defaults, over lib/pq and pgx.
func ReliabilityPeers() []PGPeer {
	return []PGPeer{
		RawPeer("pq"), SQLPoolPeer(PeerSQLPool, "pq"),
		RawPeer("pgx"), SQLPoolPeer(PeerSQLPool, "pgx"),
	}
}

// RelRun is one scenario on one peer.
type RelRun struct {
	Scenario Scenario
	Peer     PGPeer
	Injected string // what the fault did
	MayFail  int    // operations the fault may fail (see Scenario.Inject)
	Result   *soak.Result
	Elapsed  time.Duration
	// Left over once the DB was closed (and given 10 s to settle): the
	// goroutines and file descriptors beyond those before it was opened,
	// and the server backends of its application_name.
	Goroutines, FDs, Backends int
}

// Run runs the scenarios (all, or r.Only) on every peer.
func (r *Reliability) Run(ctx context.Context) ([]RelRun, error) {
	admin, err := OpenAdmin(ctx, r.PostgresURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	var runs []RelRun
	for _, sc := range Scenarios() {
		if len(r.Only) > 0 && !slices.Contains(r.Only, sc.Key) {
			continue
		}
		for _, p := range ReliabilityPeers() {
			r.Log.Printf("reliability: %s on %s (%s)", sc.Key, p.Name, p.Driver)
			run, err := r.runOne(ctx, admin, sc, p)
			if err != nil {
				return nil, fmt.Errorf("%s on %s (%s): %w", sc.Key, p.Name, p.Driver, err)
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

func (r *Reliability) runOne(ctx context.Context, admin *Admin, sc Scenario, p PGPeer) (RelRun, error) {
	env := &faultEnv{admin: admin, load: r.LoadTime}
	u := r.PostgresURL
	switch sc.Via {
	case viaProxy:
		pu, err := url.Parse(u)
		if err != nil {
			return RelRun{}, err
		}
		host := pu.Host
		if pu.Port() == "" {
			host = net.JoinHostPort(pu.Hostname(), "5432")
		}
		px, err := faultproxy.New(host)
		if err != nil {
			return RelRun{}, err
		}
		defer px.Close()
		pu.Host = px.Addr()
		u, env.proxy = pu.String(), px
	case viaTemp:
		temp, err := StartTempPostgres()
		if err != nil {
			return RelRun{}, fmt.Errorf("needs a throwaway PostgreSQL: %w", err)
		}
		defer temp.Stop()
		tadmin, err := OpenAdmin(ctx, temp.URL())
		if err != nil {
			return RelRun{}, err
		}
		defer tadmin.Close()
		u, env.temp, env.admin = temp.URL(), temp, tadmin
	}
	d := r.LoadTime
	if sc.Inject == nil {
		d = r.SoakTime
	}

	goroutines, fds := runtime.NumGoroutine(), openFDs()
	t, app, err := openPeer(ctx, p, u, relConns)
	if err != nil {
		return RelRun{}, err
	}
	env.app = app
	cfg := soak.Config{Goroutines: relGoroutines, Duration: d, Dialect: soak.Postgres,
		Table: "reliability_" + strings.ReplaceAll(app, "-", "_"), OpTimeout: relOpTimeout}
	if err := soak.Setup(ctx, t.DB, cfg); err != nil {
		t.Close()
		return RelRun{}, err
	}
	run := RelRun{Scenario: sc, Peer: p, Injected: sc.Faults}
	injected := make(chan error, 1)
	if sc.Inject != nil {
		go func() {
			timer := time.NewTimer(d / 3)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-ctx.Done():
				injected <- ctx.Err()
				return
			}
			what, mayFail, err := sc.Inject(ctx, env)
			if what != "" {
				run.Injected = what
			}
			run.MayFail = mayFail
			injected <- err
		}()
	} else {
		injected <- nil
	}
	start := time.Now()
	res, err := soak.Run(ctx, t.DB, cfg)
	run.Elapsed = time.Since(start)
	if ierr := <-injected; ierr != nil {
		t.Close()
		return RelRun{}, fmt.Errorf("injecting the fault: %w", ierr)
	}
	if err != nil {
		t.Close()
		return RelRun{}, err
	}
	run.Result = res
	soak.Teardown(ctx, t.DB, cfg)
	t.Close()

	// Let what the DB closed finish closing.
	deadline := time.Now().Add(10 * time.Second)
	for {
		run.Goroutines = max(0, runtime.NumGoroutine()-goroutines)
		run.FDs = max(0, openFDs()-fds)
		n, err := env.admin.Backends(ctx, app)
		if err != nil {
			return RelRun{}, err
		}
		run.Backends = n
		if run.Goroutines+run.FDs+run.Backends == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return run, nil
}

// openFDs counts the process's open file descriptors; -1 where unknown.
func openFDs() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// A FuzzRun is one fuzz target run for a set time.
type FuzzRun struct {
	Package, Target string
	Time            time.Duration
	Execs           string // as the fuzzer printed it
	Interesting     string // new interesting inputs found
	Passed          bool
	Output          string // the last lines, when it failed
}

// FuzzTargets are the fuzz targets the suite runs: package and name.
var FuzzTargets = [][2]string{
	{".", "FuzzParseDSN"},
	{"./internal/sqltext", "FuzzSanitize"},
}

var fuzzProgress = regexp.MustCompile(`execs: (\d+) .*?new interesting: (\d+)`)

// Fuzz runs every fuzz target for r.FuzzTime.
func (r *Reliability) Fuzz(ctx context.Context) []FuzzRun {
	var runs []FuzzRun
	for _, ft := range FuzzTargets {
		r.Log.Printf("fuzzing %s %s for %v", ft[0], ft[1], r.FuzzTime)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+ft[1]+"$", "-fuzztime", r.FuzzTime.String(), ft[0])
		cmd.Dir = r.Root
		out, err := cmd.CombinedOutput()
		fr := FuzzRun{Package: ft[0], Target: ft[1], Time: r.FuzzTime, Passed: err == nil}
		if m := fuzzProgress.FindAllStringSubmatch(string(out), -1); len(m) > 0 {
			last := m[len(m)-1]
			fr.Execs, fr.Interesting = last[1], last[2]
		}
		if !fr.Passed {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			fr.Output = strings.Join(lines[max(0, len(lines)-15):], "\n")
		}
		runs = append(runs, fr)
	}
	return runs
}

// WriteReliability writes docs/reliability.md.
func WriteReliability(w io.Writer, h Header, r *Reliability, runs []RelRun, f *Failover, failover []FailoverRun, fuzz []FuzzRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# sqlpool reliability\n\n")
	fmt.Fprintf(&b, "<!-- Generated by `%s`; do not edit: rerun it. -->\n\n", h.Command)
	fmt.Fprintf(&b, "Written by `%s` on %s in %s. Every figure below comes from this one run.\n\n", h.Command, h.Date.UTC().Format("2006-01-02 15:04 MST"), h.Took.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %s\n", h.Machine)
	for _, v := range h.Versions {
		fmt.Fprintf(&b, "- %s\n", v)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "## Faults under load\n\n")
	fmt.Fprintf(&b, "The load (`internal/soak`): %d goroutines over %d connections run a random mix of queries read whole and in part, UPDATEs, transactions committed and rolled back, `sql.Conn`s, a shared prepared statement, and operations whose context ends on purpose (a deadline during a 20 ms statement, a cancel while rows are read, a cancel before Commit); every answer is checked (an echoed token, a series, a transaction's own write). Each fault scenario's load runs %s, and the fault comes at a third of it; the soak runs %s. Each operation not meant to be canceled has %s. ", relGoroutines, relConns, fmtDur(r.LoadTime), fmtDur(r.SoakTime), fmtDur(relOpTimeout))
	b.WriteString("The same scenario runs on raw `database/sql` (`SetMaxOpenConns` and `SetMaxIdleConns` 8) and on sqlpool with its defaults (`pool_max_conns=8`), over the same driver. Proxy faults go through `internal/faultproxy`, a TCP proxy in front of the shared server; the restart is of a throwaway server started for it.\n\n")
	b.WriteString("**Errors** are operations that failed or answered wrong, other than those whose own context ended as meant (**canceled**). **Left over** is what remained once the `*sql.DB` was closed and given 10 s: goroutines and file descriptors beyond those before it was opened, and server backends of its `application_name`.\n\n")
	b.WriteString("**At most** is how many operations the fault can fail: those in flight on the connections it broke, at most one per connection (8) for one fault, at most one per backend killed for a storm, none for latency or no fault. sqlpool's goal in every scenario is to stay within it and leave nothing over.\n\n")
	b.WriteString("| scenario | driver | sqlpool's errors | at most | met | raw `database/sql`'s errors |\n| --- | --- | --- | --- | --- | --- |\n")
	for i, run := range runs {
		if !isOurs(run.Peer.Name) {
			continue
		}
		raw := "–"
		for _, o := range runs[:i] {
			if o.Scenario.Key == run.Scenario.Key && o.Peer.Driver == run.Peer.Driver && !isOurs(o.Peer.Name) {
				raw = fmt.Sprint(o.Result.Errors)
			}
		}
		met := "yes"
		if run.Result.Errors > int64(run.MayFail) || run.Goroutines+run.FDs+run.Backends > 0 {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s |\n", run.Scenario.Title, run.Peer.Driver, run.Result.Errors, run.MayFail, met, raw)
	}
	b.WriteString("\n### Every run\n\n")
	b.WriteString("| scenario | driver | peer | faults injected | operations (per s) | canceled as meant | errors | first error | left over: goroutines / fds / backends |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range runs {
		res := run.Result
		first := ""
		if len(res.FirstErrors) > 0 {
			first = res.FirstErrors[0]
			if len(first) > 100 {
				first = first[:100] + "…"
			}
			first = "`" + strings.ReplaceAll(first, "|", "\\|") + "`"
		}
		errs := fmt.Sprint(res.Errors)
		if isOurs(run.Peer.Name) {
			errs = "**" + errs + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d (%.0f) | %d | %s | %s | %d / %d / %d |\n",
			run.Scenario.Title, run.Peer.Driver, run.Peer.Name, run.Injected, res.Total(),
			float64(res.Total())/run.Elapsed.Seconds(), res.Canceled, errs, first, run.Goroutines, run.FDs, run.Backends)
	}
	b.WriteString("\n")
	if len(failover) > 0 {
		writeFailover(&b, f, failover)
	}
	if len(fuzz) > 0 {
		b.WriteString("## Fuzzing\n\n`go test -fuzz` on each target for the time given, from its committed seed corpus (`testdata/fuzz`). A target fails on a panic, or on an input whose password shows in an error or a result.\n\n")
		b.WriteString("| package | target | time | executions | new interesting inputs | result |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, f := range fuzz {
			res := "passed"
			if !f.Passed {
				res = "**failed**: see below"
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s |\n", f.Package, f.Target, fmtDur(f.Time), f.Execs, f.Interesting, res)
		}
		for _, f := range fuzz {
			if !f.Passed {
				fmt.Fprintf(&b, "\n`%s` failed:\n\n```\n%s\n```\n", f.Target, f.Output)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
