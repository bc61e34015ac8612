// Command sqlpool shows the sqlpool driver at work.
//
//	go run ./cmd/sqlpool demo [--dsn DSN] [--duration 4s] [--workers 32] [--otel] [--dashboard ADDR] [--serve] [--sizing=false]
//
// Without --dsn it needs no server: it runs on an SQLite database file in a
// temporary directory. It opens the database twice, with sqlpool and with the
// raw inner driver, both configured like a typical application that calls
// db.SetMaxIdleConns(0) (a new connection per request), puts both under the
// same load, and prints the queries served against the physical connections
// opened, sqlpool's lifetime rotation and its Stat snapshot. With a
// PostgreSQL --dsn it also kills the pool's idle backends on the server and
// shows pre-ping replacing them before any query sees the failure.
//
// Then it sizes a pool: a pool of 4 connections under a load that keeps 6
// busy (60 requests a second, each holding its connection 100ms), until
// its alerts have fired and sqlpool.Advise calls it undersized; and the
// same load on the size the advice recommends, which the advice calls
// right. --sizing=false skips it (it takes about 15 seconds).
//
// With --otel it also exports sqlpool's OpenTelemetry spans and metrics over
// OTLP/HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318),
// e.g. to Jaeger: see examples/jaeger.
//
// While it runs it serves sqlpool's dashboard (package dashboard) on
// --dashboard (default 127.0.0.1 on a free port) and prints its URL; with
// --serve it then keeps serving it, with a pool under a live load and a
// connection leaked on purpose, and the two pools of the sizing section
// under theirs, until interrupted.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"

	_ "github.com/go-sql-driver/mysql" // the "mysql" driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/lib/pq"              // the "postgres" driver
	_ "github.com/mattn/go-sqlite3"    // the "sqlite3" driver

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/dashboard"
	"github.com/sqlpool/sqlpool/internal/otelsetup"
	"github.com/sqlpool/sqlpool/pool"
)

const usageText = `usage: sqlpool <command> [flags]

commands:
  demo    show the sqlpool pool at work: on embedded SQLite by default,
          or on any database with --dsn; with --otel, exporting
          sqlpool's OpenTelemetry spans and metrics; serving the
          dashboard while it runs, and with --serve until interrupted

flags of demo:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	interrupted := ctx.Err() != nil // before stop, which cancels ctx
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(os.Stderr, "sqlpool:", ue.msg)
		}
		fmt.Fprint(os.Stderr, usage())
		os.Exit(2)
	case interrupted:
		fmt.Fprintln(os.Stderr, "sqlpool: interrupted")
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "sqlpool demo:", err)
		os.Exit(1)
	}
}

// usageError is returned by run for a command line it cannot use; main
// prints the usage and exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// options are the demo's flags.
type options struct {
	dsn      string        // sqlpool DSN; "" means a new SQLite file
	duration time.Duration // length of each load run
	workers  int           // concurrent goroutines in each load run
	otel     bool          // export sqlpool's spans and metrics over OTLP/HTTP
	dash     string        // address of the dashboard's HTTP server; "" means none
	serve    bool          // after the report, serve the dashboard under a live load until interrupted
	sizing   bool          // run the sizing section (about 15s)
}

func demoFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.dsn, "dsn", "", "sqlpool DSN, `<driver>:<inner DSN>` with optional pool_* parameters\n(default: an SQLite file in a temporary directory)")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "how long each load run lasts")
	fs.IntVar(&o.workers, "workers", 32, "goroutines querying concurrently in each load run")
	fs.BoolVar(&o.otel, "otel", false, "export sqlpool's spans and metrics over OTLP/HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT\n(default http://localhost:4318), e.g. to Jaeger: see examples/jaeger")
	fs.StringVar(&o.dash, "dashboard", "127.0.0.1:0", "`address` to serve sqlpool's dashboard on while the demo runs (port 0: a free one); \"\" for none")
	fs.BoolVar(&o.sizing, "sizing", true, "show a pool too small for its load, its alerts and sqlpool's sizing advice, then the load\non the size advised (about 15s); with --serve, both pools stay on the dashboard")
	fs.BoolVar(&o.serve, "serve", false, "after the report, keep serving the dashboard, with a pool under a live load\nand a leaked connection, until interrupted (Ctrl-C)")
	return fs
}

func usage() string {
	var b strings.Builder
	b.WriteString(usageText)
	fs := demoFlags(&options{})
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// run runs the command line args (without the program name), writing its
// report to stdout. It returns a usageError for a bad command line, and
// ctx's error if ctx ends first.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{}
	}
	switch args[0] {
	case "demo":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	var o options
	fs := demoFlags(&o)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage())
			return nil
		}
		return usageError{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("demo takes no arguments, got %q", fs.Args())}
	case o.duration <= 0:
		return usageError{fmt.Sprintf("--duration must be > 0, got %v", o.duration)}
	case o.workers < 1:
		return usageError{fmt.Sprintf("--workers must be >= 1, got %d", o.workers)}
	case o.serve && o.dash == "":
		return usageError{"--serve needs the dashboard: give --dashboard an address"}
	}
	return demo(ctx, o, stdout)
}

// demoLifetime is the pool_max_conn_lifetime the demo uses when the DSN sets
// none: short enough for about four rotations in one load run.
func demoLifetime(run time.Duration) time.Duration {
	return max(run/4, 100*time.Millisecond).Round(10 * time.Millisecond)
}

// target is the database the demo runs against.
type target struct {
	dsn       string            // the sqlpool DSN opened
	driver    string            // the inner driver's name
	rawDSN    string            // the DSN the inner driver gets: dsn's inner DSN without pool_* parameters
	params    map[string]string // dsn's pool_* parameters
	added     []string          // "key=value" of the parameters the demo added to --dsn
	postgres  bool
	query     string // the load query
	queryArgs func(i int) []any
	appName   string // PostgreSQL application_name of the demo's pools; "" otherwise
}

func isPostgresDriver(name string) bool {
	return name == "postgres" || name == "pgx" || name == "pgx/v5"
}

func newTarget(o options, tmpDir string) (target, error) {
	lifetime := demoLifetime(o.duration)
	dsn := o.dsn
	if dsn == "" {
		// SQLite has no statement that resets a session: by default each
		// connection database/sql closes is replaced. The demo's queries
		// leave no session state, so it lets sessions pass on instead.
		dsn = fmt.Sprintf("sqlite3:file:%s?_busy_timeout=5000&_journal_mode=WAL&pool_max_conns=4&pool_max_conn_lifetime=%v&pool_max_conn_lifetime_jitter=%v&pool_reset_session=false",
			filepath.Join(tmpDir, "demo.db"), lifetime, lifetime/5)
	}
	name, _, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		return target{}, usageError{"--dsn: " + strings.TrimPrefix(err.Error(), "sqlpool: ")}
	}
	params, err := sqlpool.PoolParams(dsn)
	if err != nil {
		return target{}, err
	}
	t := target{driver: name, postgres: isPostgresDriver(name), query: "SELECT 1"}
	if o.dsn == "" {
		t.query = "SELECT name FROM demo WHERE id = ?"
		t.queryArgs = func(i int) []any { return []any{i%demoRows + 1} }
	}
	inner := strings.TrimPrefix(dsn, name+":") // pool_* parameters included
	var add []string
	// Without a lifetime of its own, the pool would keep its connections
	// for an hour: give it one the run can show.
	if _, ok := params["pool_max_conn_lifetime"]; !ok {
		add = append(add, "pool_max_conn_lifetime", lifetime.String())
		if _, ok := params["pool_max_conn_lifetime_jitter"]; !ok {
			add = append(add, "pool_max_conn_lifetime_jitter", (lifetime / 5).String())
		}
	}
	if t.postgres {
		t.appName = fmt.Sprintf("sqlpool-demo-%d", os.Getpid())
		if !setsParam(inner, "application_name") {
			add = append(add, "application_name", t.appName)
		}
	}
	for i := 0; i < len(add); i += 2 {
		t.added = append(t.added, add[i]+"="+add[i+1])
	}
	t.dsn = name + ":" + withParams(inner, add...)
	if _, t.rawDSN, err = sqlpool.SplitDSN(t.dsn); err != nil {
		return target{}, err
	}
	if t.params, err = sqlpool.PoolParams(t.dsn); err != nil {
		return target{}, err
	}
	return t, nil
}

const demoRows = 100

func demo(ctx context.Context, o options, w io.Writer) (err error) {
	tmpDir, err := os.MkdirTemp("", "sqlpool-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	t, err := newTarget(o, tmpDir)
	if err != nil {
		return err
	}
	// The raw driver's errors, unlike sqlpool's, may quote the DSN.
	defer func() { err = sqlpool.RedactError(err, t.dsn) }()

	if o.otel {
		stop, serr := startOTel(ctx, o, t, w)
		if serr != nil {
			return serr
		}
		defer func() { err = errors.Join(err, stop()) }() // err: demo's result
	}

	var dashURL string
	if o.dash != "" {
		url, stop, derr := startDashboard(o.dash)
		if derr != nil {
			return derr
		}
		defer stop()
		dashURL = url
	}

	fmt.Fprintf(w, "sqlpool demo: %s, %d workers, %v per load run\n", t.driver, o.workers, o.duration)
	if o.otel {
		fmt.Fprintf(w, "OpenTelemetry: exporting to %s\n", otelsetup.Endpoint())
	}
	if dashURL != "" {
		until := "while the demo runs; --serve keeps it open under a live load"
		if o.serve {
			until = "until interrupted"
		}
		fmt.Fprintf(w, "dashboard: %s (%s)\n", dashURL, until)
	}

	// 1. Open.
	printOpen(w, t)

	raw, err := sql.Open(t.driver, t.rawDSN)
	if err != nil {
		return fmt.Errorf("opening the raw %s database: %w", t.driver, err)
	}
	defer raw.Close()
	db, err := sql.Open(sqlpool.DriverName, t.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	raw.SetMaxIdleConns(0)
	db.SetMaxIdleConns(0)

	if err := raw.PingContext(ctx); err != nil {
		return fmt.Errorf("connecting with the raw %s driver: %w", t.driver, err)
	}
	if o.dsn == "" {
		if err := createDemoTable(ctx, raw); err != nil {
			return err
		}
	}

	// 2. Load.
	section(w, fmt.Sprintf("2. Load: %d workers run %s for %v, on each database", o.workers, t.query, o.duration))
	rawStart := rawOpened(raw.Stats())
	rawRes, err := runLoad(ctx, raw, o, t, false, func() probe { return probe{open: raw.Stats().OpenConnections} })
	if err != nil {
		return err
	}
	rawPhysical := rawOpened(raw.Stats()) - rawStart
	rawLogical := rawPhysical
	raw.Close() // its connections are all closed already; none linger into step 5

	before, err := sqlpool.DBStat(ctx, db)
	if err != nil {
		return err
	}
	poolName := before.Name
	dbStart := rawOpened(db.Stats())
	res, err := runLoad(ctx, db, o, t, true, func() probe { return poolProbe(poolName) })
	if err != nil {
		return err
	}
	logical := rawOpened(db.Stats()) - dbStart
	after, err := sqlpool.DBStat(ctx, db)
	if err != nil {
		return err
	}

	tw := table(w)
	fmt.Fprintf(tw, "\tqueries\terrors\tqueries/s\tdatabase/sql conns\tphysical conns\tpeak physical\n")
	printLoadRow(tw, "raw "+t.driver, rawRes, rawLogical, rawPhysical)
	printLoadRow(tw, "sqlpool", res, logical, after.CreatedCount-before.CreatedCount)
	tw.Flush()
	fmt.Fprintln(w, "database/sql conns: opened by database/sql (db.Stats: open + closed); physical: dialed to the")
	fmt.Fprintln(w, "database (raw: the same; sqlpool: Stat().CreatedCount); peak: most open at once, sampled")
	for _, r := range []struct {
		name string
		res  loadResult
	}{{"raw " + t.driver, rawRes}, {"sqlpool", res}} {
		if r.res.firstErr != nil {
			fmt.Fprintf(w, "first error (%s): %v\n", r.name, sqlpool.RedactError(r.res.firstErr, t.dsn))
		}
	}

	// 3. Lifetime rotation.
	lifetime := durationParam(t.params, "pool_max_conn_lifetime", time.Hour)
	jitter := durationParam(t.params, "pool_max_conn_lifetime_jitter", lifetime/10)
	section(w, fmt.Sprintf("3. Lifetime rotation: pool_max_conn_lifetime=%v, jitter 0-%v, pool_max_conns=%d", lifetime, jitter, after.MaxSize))
	tw = table(w)
	fmt.Fprintf(tw, "t\topen\tcreated\tretired (lifetime)\n")
	for _, s := range res.timeline {
		label := "before"
		if s.at > 0 {
			label = fmtDur(s.at)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", label, s.open, s.created, s.lifetime)
	}
	tw.Flush()
	retired := after.DestroyedCount(pool.ReasonLifetime) - before.DestroyedCount(pool.ReasonLifetime)
	if retired == 0 {
		fmt.Fprintf(w, "no connection reached its lifetime (%v) within the %v run\n", lifetime, o.duration)
	} else {
		fmt.Fprintf(w, "%d retired by lifetime, each replaced by a new connection (created)\n", retired)
	}
	// The connections retired are the ones whose last query came first:
	// those in use until the end are still open.
	if gone := after.CreatedCount - before.CreatedCount - int64(after.Total); gone > 0 && int64(len(res.seen)) > gone {
		lo, hi := time.Duration(1<<63-1), time.Duration(0)
		for _, s := range res.seen[:gone] {
			lo, hi = min(lo, s.last-s.first), max(hi, s.last-s.first)
		}
		if jitter > 0 {
			fmt.Fprintf(w, "each was seen serving queries for %s to %s: lifetime plus its own jitter, so they do not all go at once\n", fmtDur(lo), fmtDur(hi))
		} else {
			fmt.Fprintf(w, "each was seen serving queries for %s to %s: no jitter, so connections made together expire together\n", fmtDur(lo), fmtDur(hi))
		}
	}
	verdict := "the cap held"
	if res.peak > after.MaxSize {
		verdict = "THE CAP WAS EXCEEDED"
	}
	fmt.Fprintf(w, "at most %d physical connections open (sampled) with pool_max_conns=%d: %s\n", res.peak, after.MaxSize, verdict)

	// 4. Stat.
	section(w, "4. sqlpool.DBStat(ctx, db): the pool after the run")
	printStat(w, after)

	// 5. Leak detection.
	if err := leakDemo(ctx, w, t); err != nil {
		return err
	}

	// 6. Pre-ping.
	if !t.postgres {
		section(w, "6. Pre-ping: skipped")
		fmt.Fprintln(w, "killing connections server-side needs PostgreSQL: --dsn 'postgres:postgres://…' or 'pgx:postgres://…'")
		if err := ctx.Err(); err != nil {
			return err
		}
	} else if err := prePing(ctx, w, t); err != nil {
		return err
	}

	// 7. Sizing.
	if o.sizing {
		stop, err := sizingDemo(ctx, w, t, o.serve)
		if err != nil {
			return err
		}
		defer stop()
	}

	// 8. The dashboard, live.
	if o.serve {
		return serve(ctx, w, o, t, dashURL)
	}
	return nil
}

// dashboardPath is where the demo mounts the dashboard.
const dashboardPath = "/debug/sqlpool/"

// startDashboard serves sqlpool's dashboard on addr, at dashboardPath, and
// returns its URL; stop closes the server and waits for it.
func startDashboard(addr string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("serving the dashboard: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(dashboardPath, dashboard.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(dashboardPath, http.StatusFound))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String() + dashboardPath, func() {
		srv.Close()
		<-done
	}, nil
}

// startOTel installs OpenTelemetry SDK providers as the global ones, which
// sqlpool's spans and metrics go to, and starts a span for the demo run.
// stop ends the span and flushes everything to the collector.
//
// The demo's database calls do not carry the span: each query's spans make
// a trace of their own rather than all of them one trace of thousands.
func startOTel(ctx context.Context, o options, t target, w io.Writer) (stop func() error, err error) {
	sdk, err := otelsetup.Start(ctx, "sqlpool-demo")
	if err != nil {
		return nil, err
	}
	_, span := otel.Tracer("github.com/sqlpool/sqlpool/cmd/sqlpool").Start(ctx, "sqlpool demo")
	span.SetAttributes(
		attribute.String("sqlpool.demo.driver", t.driver),
		attribute.Int("sqlpool.demo.workers", o.workers),
		attribute.String("sqlpool.demo.duration", o.duration.String()),
	)
	return func() error {
		span.End()
		// Flush even after an error or an interrupt, within a bounded time.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		r, err := sdk.Shutdown(ctx)
		fmt.Fprintf(w, "OpenTelemetry: %d spans exported to %s", r.SpansExported, otelsetup.Endpoint())
		if n := r.Dropped(); n > 0 {
			fmt.Fprintf(w, "; %d of %d dropped (the batch queue was full or an export failed)", n, r.SpansEnded)
		}
		fmt.Fprintln(w)
		if r.MetricsErr != nil {
			fmt.Fprintf(w, "OpenTelemetry: metrics not exported (%v); a collector that takes traces only wants OTEL_METRICS_EXPORTER=none\n", r.MetricsErr)
		}
		if err != nil {
			return fmt.Errorf("exporting to %s: %w", otelsetup.Endpoint(), err)
		}
		return nil
	}, nil
}

// printOpen prints section 1: how the demo opens t, passwords hidden.
func printOpen(w io.Writer, t target) {
	section(w, "1. Open: the same database through sqlpool and through the raw driver")
	tw := table(w)
	fmt.Fprintf(tw, "sqlpool\tsql.Open(%q, %q)\n", sqlpool.DriverName, sqlpool.RedactDSN(t.dsn))
	fmt.Fprintf(tw, "raw\tsql.Open(%q, %q)\n", t.driver, redactInner(t.driver, t.rawDSN))
	if len(t.added) > 0 {
		fmt.Fprintf(tw, "added\t%s (not in --dsn)\n", strings.Join(t.added, " "))
	}
	fmt.Fprintf(tw, "both\tdb.SetMaxIdleConns(0): database/sql closes every connection it gets back\n")
	if t.params["pool_reset_session"] == "false" {
		fmt.Fprintf(tw, "reset\tpool_reset_session=false: the demo's queries leave no session state, so sessions pass on as in a\n")
		fmt.Fprintf(tw, "\ttransaction pooler; by default each session database/sql closes is reset before reuse\n")
		fmt.Fprintf(tw, "\t(PostgreSQL: DISCARD ALL) or, on SQLite and MySQL, replaced by a new connection\n")
	} else {
		fmt.Fprintf(tw, "reset\teach session database/sql closes is reset before sqlpool hands it out again\n")
		fmt.Fprintf(tw, "\t(PostgreSQL: DISCARD ALL; SQLite, MySQL: replaced): Stat().Resets counts them\n")
	}
	tw.Flush()
}

// createDemoTable makes the small table the SQLite load queries.
func createDemoTable(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE demo (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating the demo table: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := 1; i <= demoRows; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO demo (id, name) VALUES (?, ?)`, i, fmt.Sprintf("row %d", i)); err != nil {
			return fmt.Errorf("filling the demo table: %w", err)
		}
	}
	return tx.Commit()
}

// rawOpened is how many connections database/sql has opened, as far as its
// Stats tell: those open now and those it closed for its limits.
// Connections dropped after a driver.ErrBadConn are not in any counter.
func rawOpened(s sql.DBStats) int64 {
	return int64(s.OpenConnections) + s.MaxIdleClosed + s.MaxIdleTimeClosed + s.MaxLifetimeClosed
}

func printLoadRow(tw io.Writer, name string, r loadResult, logical, physical int64) {
	qps := float64(r.queries) / r.elapsed.Seconds()
	fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%d\t%d\t%d\n", name, r.queries, r.errors, qps, logical, physical, r.peak)
}

func printStat(w io.Writer, s sqlpool.Stat) {
	var avgWait time.Duration
	if s.WaitCount > 0 {
		avgWait = s.WaitDuration / time.Duration(s.WaitCount)
	}
	tw := table(w)
	fmt.Fprintf(tw, "max\t%d\tacquires\t%d\tcreated\t%d\n", s.MaxSize, s.AcquireCount, s.CreatedCount)
	fmt.Fprintf(tw, "total\t%d\twaits\t%d\tcreate errors\t%d\n", s.Total, s.WaitCount, s.CreateErrorCount)
	fmt.Fprintf(tw, "idle\t%d\tavg wait\t%v\tunavailable\t%d\n", s.Idle, avgWait.Round(time.Microsecond), s.UnavailableCount)
	fmt.Fprintf(tw, "in use\t%d\ttimeouts\t%d\tcanceled\t%d\n", s.InUse, s.TimeoutCount, s.CanceledCount)
	fmt.Fprintf(tw, "waiting\t%d\tresets\t%d\n", s.Waiting, s.Resets)
	var reasons []string
	for _, r := range pool.DestroyReasons() {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, s.DestroyedCount(r)))
	}
	fmt.Fprintf(tw, "destroyed\t%s\n", strings.Join(reasons, ", "))
	tw.Flush()
}

func section(w io.Writer, title string) { fmt.Fprintf(w, "\n== %s\n", title) }

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// fmtDur prints d to two decimals of a second ("1.25s").
func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
