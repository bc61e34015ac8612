package sqlpool_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/leakdetect"
	"github.com/sqlpool/sqlpool/pool"
)

// leakBackend is a database the leak tests run on.
type leakBackend struct {
	name  string
	inner string
	// dsn returns the inner DSN (pool_* parameters are appended) and, for
	// PostgreSQL, the application_name that finds the test's backends.
	dsn func(t *testing.T) (dsn, app string)
}

func leakBackends() []leakBackend {
	pg := func(inner string) leakBackend {
		return leakBackend{name: inner, inner: inner, dsn: func(t *testing.T) (string, string) {
			app := testdb.AppName(t)
			return testdb.WithParams(testdb.PostgresURL(t), "application_name", app), app
		}}
	}
	return []leakBackend{
		pg("postgres"),
		pg("pgx"),
		{name: "sqlite3", inner: "sqlite3", dsn: func(t *testing.T) (string, string) {
			return "file:" + filepath.Join(t.TempDir(), "leak.db") + "?_busy_timeout=5000", ""
		}},
	}
}

// leakLog collects what leak detection says: reports from the OnLeak hook
// and the text of the log lines.
type leakLog struct {
	reports chan leakdetect.Report
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (l *leakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *leakLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// next waits for the next report.
func (l *leakLog) next(t *testing.T) leakdetect.Report {
	t.Helper()
	select {
	case r := <-l.reports:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no leak report within 20s")
		return leakdetect.Report{}
	}
}

// lines returns the log lines that contain s.
func (l *leakLog) lines(s string) []string {
	var out []string
	for line := range strings.Lines(l.String()) {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// openLeakDB opens a sqlpool DB on b with leak detection after threshold,
// reporting to the returned leakLog. params are more pool_* settings.
func openLeakDB(t *testing.T, b leakBackend, threshold time.Duration, params ...string) (*sql.DB, *leakLog, string) {
	t.Helper()
	inner, app := b.dsn(t)
	sep := "?"
	if strings.Contains(inner, "?") {
		sep = "&"
	}
	dsn := b.inner + ":" + inner + sep + "pool_leak_threshold=" + threshold.String() + "&pool_name=" + strings.ReplaceAll(t.Name(), "/", "_")
	for i := 0; i+1 < len(params); i += 2 {
		dsn += "&" + params[i] + "=" + params[i+1]
	}
	l := &leakLog{reports: make(chan leakdetect.Report, 16)}
	ctr, err := sqlpool.NewConnector(dsn,
		sqlpool.WithLogger(slog.New(slog.NewTextHandler(l, nil))),
		sqlpool.WithOnLeak(func(r leakdetect.Report) { l.reports <- r }),
	)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db, l, app
}

// nextLine returns "file:line" of the line after its caller's: the call a
// leak report should name.
func nextLine() string {
	_, file, line, _ := runtime.Caller(1)
	return file + ":" + strconv.Itoa(line+1)
}

// checkReport checks the fields every leak report must get right.
func checkReport(t *testing.T, l *leakLog, r leakdetect.Report, open, acquiredAt string) {
	t.Helper()
	if r.Open != open {
		t.Errorf("Open = %q, want %q", r.Open, open)
	}
	if r.AcquiredAt != acquiredAt {
		t.Errorf("AcquiredAt = %q, want %q (stack: %v)", r.AcquiredAt, acquiredAt, r.Stack)
	}
	if r.HeldFor <= 0 || r.Since.IsZero() || len(r.Stack) == 0 {
		t.Errorf("report lacks its timing or stack: %+v", r)
	}
	var warn []string
	for _, line := range l.lines("level=WARN") {
		if strings.Contains(line, fmt.Sprintf(" conn=%d borrow=%d ", r.Conn, r.Borrow)) && strings.Contains(line, "acquired_at="+acquiredAt) {
			warn = append(warn, line)
		}
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "open="+open) {
		t.Errorf("want one WARN line for borrow %d naming %s, got %q\nlog:\n%s", r.Borrow, acquiredAt, warn, l.String())
	}
}

// checkReturned checks that a reported borrow's return was logged.
func checkReturned(t *testing.T, l *leakLog, r leakdetect.Report) {
	t.Helper()
	for _, line := range l.lines("leaked connection returned") {
		if strings.Contains(line, "level=INFO") && strings.Contains(line, "acquired_at="+r.AcquiredAt) &&
			strings.Contains(line, fmt.Sprintf(" conn=%d borrow=%d ", r.Conn, r.Borrow)) {
			return
		}
	}
	t.Errorf("no INFO line for the return of borrow %d acquired at %s\nlog:\n%s", r.Borrow, r.AcquiredAt, l.String())
}

func TestLeakUnclosedRowsAreReportedWithTheQueryLineThenReturned(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, _ := openLeakDB(t, b, 100*time.Millisecond)
			ctx := context.Background()

			at := nextLine()
			rows, err := db.QueryContext(ctx, "SELECT 1 AS one WHERE 'hunter2' <> 'x'")
			if err != nil {
				t.Fatal(err)
			}
			r := l.next(t)
			checkReport(t, l, r, "rows", at)
			if r.RowsAt != at {
				t.Errorf("RowsAt = %q, want %q", r.RowsAt, at)
			}
			if want := "SELECT ? AS one WHERE ? <> ?"; r.Statement != want {
				t.Errorf("Statement = %q, want %q", r.Statement, want)
			}
			if strings.Contains(l.String(), "hunter2") {
				t.Errorf("the log shows a literal of the statement:\n%s", l.String())
			}
			if got := stat(t, db).Leaks; got != 1 {
				t.Errorf("Stat().Leaks = %d, want 1", got)
			}

			// The rows still work, and closing them returns the connection.
			if !rows.Next() {
				t.Fatalf("rows.Next = false: %v", rows.Err())
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			checkReturned(t, l, r)
		})
	}
}

func TestLeakUnfinishedTxIsReportedWithTheBeginTxLine(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, _ := openLeakDB(t, b, 100*time.Millisecond)
			ctx := context.Background()

			at := nextLine()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			r := l.next(t)
			checkReport(t, l, r, "tx", at)
			if r.TxAt != at {
				t.Errorf("TxAt = %q, want %q", r.TxAt, at)
			}
			if r.Statement != "SELECT ?" {
				t.Errorf("Statement = %q, want the last one run, sanitized", r.Statement)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			checkReturned(t, l, r)
		})
	}
}

func TestLeakRowsLeftOpenInATxNameBothLines(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, _ := openLeakDB(t, b, 100*time.Millisecond)
			ctx := context.Background()

			txAt := nextLine()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			rowsAt := nextLine()
			rows, err := tx.QueryContext(ctx, "SELECT 2")
			if err != nil {
				t.Fatal(err)
			}
			r := l.next(t)
			checkReport(t, l, r, "tx+rows", txAt)
			if r.TxAt != txAt || r.RowsAt != rowsAt {
				t.Errorf("TxAt, RowsAt = %q, %q; want %q, %q", r.TxAt, r.RowsAt, txAt, rowsAt)
			}
			rows.Close()
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			checkReturned(t, l, r)
		})
	}
}

func TestLeakUnclosedConnIsReportedWithTheConnLine(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, _ := openLeakDB(t, b, 100*time.Millisecond)
			ctx := context.Background()
			// Once with a fresh logical connection (database/sql calls
			// Connect), once with one from its free list (ResetSession).
			for round := range 2 {
				at := nextLine()
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.ExecContext(ctx, "SELECT 1"); err != nil {
					t.Fatal(err)
				}
				var one int
				if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
					t.Fatal(err)
				}
				r := l.next(t)
				checkReport(t, l, r, "conn", at)
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				checkReturned(t, l, r)
				if got := stat(t, db).Leaks; got != int64(round+1) {
					t.Errorf("Stat().Leaks = %d, want %d", got, round+1)
				}
			}
		})
	}
}

// A hold shorter than the threshold is never reported; neither are
// connections that database/sql keeps in its free list, nor those it opens
// in the background or keeps statements on. Only the witness leak, which
// lasts past the threshold, is.
func TestLeakNoReportForShortHoldsOrConnectionsDatabaseSQLKeepsIdle(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			const threshold = 400 * time.Millisecond
			db, l, _ := openLeakDB(t, b, threshold)
			ctx := context.Background()
			db.SetMaxIdleConns(8)

			// Fill database/sql's free list with logical connections that
			// have each held a physical one, and keep a prepared statement
			// (database/sql keeps it on those connections).
			var conns []*sql.Conn
			for range 4 {
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.PingContext(ctx); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				c.Close()
			}
			st, err := db.PrepareContext(ctx, "SELECT 3")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.ExecContext(ctx); err != nil {
				t.Fatal(err)
			}
			// A sql.Conn taken and not used holds no physical connection.
			unused, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer unused.Close()

			witnessAt := nextLine()
			witness, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer witness.Rollback()
			if _, err := witness.ExecContext(ctx, "SELECT 4"); err != nil {
				t.Fatal(err)
			}

			// The legitimate hold: rows open for half the threshold, while
			// the scan (every threshold/4) looks at them.
			rows, err := db.QueryContext(ctx, "SELECT 5")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(threshold / 2) // the application's work, not a wait for a condition
			for rows.Next() {
			}
			rows.Close()

			// Reports come in scan order: anything reported before the
			// witness would come first.
			r := l.next(t)
			if r.AcquiredAt != witnessAt {
				t.Fatalf("first report is of %s (%s), want only the witness at %s", r.AcquiredAt, r.Open, witnessAt)
			}
			if got := stat(t, db).Leaks; got != 1 {
				t.Errorf("Stat().Leaks = %d, want 1", got)
			}
			snap, err := sqlpool.DBSnapshot(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if sus := leakSuspects(snap); len(sus) != 1 || sus[0].AcquiredAt != witnessAt {
				t.Errorf("the snapshot's suspects = %+v, want only the witness", sus)
			}
			if n := len(l.lines("level=WARN")); n != 1 {
				t.Errorf("%d WARN lines, want 1:\n%s", n, l.String())
			}
		})
	}
}

func TestLeakReclaimFreesTheBackendAndTheSlotAndFailsTheLeakedHandle(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, app := openLeakDB(t, b, 150*time.Millisecond, "pool_leak_reclaim", "true", "pool_max_conns", "1")
			ctx := context.Background()

			at := nextLine()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			if app != "" {
				if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
					t.Fatal(err)
				}
			} else if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			r := l.next(t)
			checkReport(t, l, r, "tx", at)

			testdb.WaitFor(t, "the pool to reclaim the connection", func() bool {
				return stat(t, db).DestroyedCount(pool.ReasonReclaimed) == 1
			})
			if app != "" {
				admin := testdb.Admin(t)
				testdb.WaitFor(t, "the leaked backend to leave pg_stat_activity", func() bool {
					return !slices.Contains(testdb.Backends(t, admin, app), pid)
				})
			}
			s := stat(t, db)
			if s.Total != 0 || s.InUse != 0 || s.Leaks != 1 {
				t.Errorf("after reclaim: Total %d, InUse %d, Leaks %d; want 0, 0, 1", s.Total, s.InUse, s.Leaks)
			}

			// The slot is free: with pool_max_conns=1 this query needs it.
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var n int
			if err := db.QueryRowContext(qctx, "SELECT 7").Scan(&n); err != nil || n != 7 {
				t.Fatalf("query after reclaim: %d, %v", n, err)
			}

			// The leaked handle fails with a clear error, every time.
			_, err = tx.ExecContext(ctx, "SELECT 1")
			if !errors.Is(err, sqlpool.ErrReclaimed) {
				t.Fatalf("Exec on the leaked tx: %v, want ErrReclaimed", err)
			}
			if !strings.Contains(err.Error(), "pool_leak_threshold") {
				t.Errorf("error %q does not say why", err)
			}
			if err := tx.Rollback(); !errors.Is(err, sqlpool.ErrReclaimed) {
				t.Errorf("Rollback of the leaked tx: %v, want ErrReclaimed", err)
			}
			checkReturned(t, l, r)
			if got := l.lines("reclaimed=true"); len(got) != 2 {
				t.Errorf("want the report and the return to say reclaimed=true, got %q", got)
			}
			// Nothing else was affected.
			if err := db.QueryRowContext(qctx, "SELECT 8").Scan(&n); err != nil || n != 8 {
				t.Fatalf("query after the leaked handle was closed: %d, %v", n, err)
			}
		})
	}
}

// A query that runs longer than the threshold is reported (it holds the
// connection), but reclaim never cuts a call in progress.
func TestLeakReclaimNeverInterruptsARunningQuery(t *testing.T) {
	b := leakBackends()[0]
	db, l, _ := openLeakDB(t, b, 100*time.Millisecond, "pool_leak_reclaim", "true")
	at := nextLine()
	if _, err := db.ExecContext(context.Background(), "SELECT pg_sleep(0.6)"); err != nil {
		t.Fatalf("a long query failed under reclaim: %v", err)
	}
	r := l.next(t)
	checkReport(t, l, r, "conn", at)
	checkReturned(t, l, r)
	if got := stat(t, db).DestroyedCount(pool.ReasonReclaimed); got != 0 {
		t.Errorf("%d connections reclaimed, want 0", got)
	}
}

func TestLeakReclaimRowsFailOnNextAfterReclaim(t *testing.T) {
	for _, b := range leakBackends() {
		t.Run(b.name, func(t *testing.T) {
			db, l, _ := openLeakDB(t, b, 100*time.Millisecond, "pool_leak_reclaim", "true")
			rows, err := db.QueryContext(context.Background(), "SELECT 1 UNION ALL SELECT 2")
			if err != nil {
				t.Fatal(err)
			}
			l.next(t)
			testdb.WaitFor(t, "the reclaim", func() bool {
				return stat(t, db).DestroyedCount(pool.ReasonReclaimed) == 1
			})
			if rows.Next() {
				t.Fatal("rows.Next = true on reclaimed rows")
			}
			if err := rows.Err(); !errors.Is(err, sqlpool.ErrReclaimed) {
				t.Errorf("rows.Err = %v, want ErrReclaimed", err)
			}
			rows.Close()
			if s := stat(t, db); s.InUse != 0 {
				t.Errorf("InUse = %d after the reclaimed rows closed", s.InUse)
			}
		})
	}
}

func TestLeakDetectionSettingsInTheDSN(t *testing.T) {
	for _, tc := range []struct{ dsn, wantErr string }{
		{"sqlite3::memory:?pool_leak_threshold=0", ""},
		{"sqlite3::memory:?pool_leak_threshold=5m&pool_leak_reclaim=true", ""},
		{"sqlite3::memory:?pool_leak_reclaim=false", ""},
		{"sqlite3::memory:?pool_leak_threshold=0&pool_leak_reclaim=true", "sqlpool: pool_leak_reclaim=true needs leak detection; set pool_leak_threshold > 0 (e.g. pool_leak_threshold=5m) or drop pool_leak_reclaim"},
		{"sqlite3::memory:?pool_leak_reclaim=yes", `sqlpool: pool_leak_reclaim: "yes" is not true or false`},
		{"sqlite3::memory:?pool_leak_reclaim=", "sqlpool: pool_leak_reclaim has no value; write pool_leak_reclaim=true or pool_leak_reclaim=false"},
		{"sqlite3::memory:?pool_leak_threshold=-1s", "sqlpool: pool_leak_threshold must be >= 0 (0 turns it off), got -1s"},
	} {
		db, err := sql.Open("sqlpool", tc.dsn)
		if err == nil {
			db.Close()
		}
		if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && got != tc.wantErr) {
			t.Errorf("sql.Open(%q) = %v, want %q", tc.dsn, err, tc.wantErr)
		}
	}
}

func TestLeakDetectionOffByZeroThresholdReportsNothing(t *testing.T) {
	ctr, err := sqlpool.NewConnector("sqlite3::memory:?pool_leak_threshold=0", sqlpool.WithOnLeak(func(leakdetect.Report) {
		t.Error("a report with leak detection off")
	}))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	rows, err := db.Query("SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if sus := leakSuspects(ctr.Snapshot()); sus != nil {
		t.Errorf("the snapshot's suspects = %v with detection off", sus)
	}
}

// Leak detection walks frame pointers. Go code running in a cgo callback
// (here a go-sqlite3 SQL function implemented in Go) sits above C frames
// whose frame pointers cannot be trusted: the walk must stop at the
// boundary, not crash, and still name the application's line.
func TestLeakDetectionInsideACgoCallback(t *testing.T) {
	db, l, _ := openLeakDB(t, leakBackends()[2], 50*time.Millisecond)

	name := fmt.Sprintf("sqlite3_cgo_callback_%d", time.Now().UnixNano())
	var (
		held   *sql.Rows
		heldAt string
	)
	sql.Register(name, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		return c.RegisterFunc("hold_rows", func() (int64, error) {
			// Called by SQLite's C code, on a cgo callback.
			heldAt = nextLine()
			rows, err := db.Query("SELECT 42")
			held = rows
			return 1, err
		}, false)
	}})
	cb, err := sql.Open(name, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	var one int64
	if err := cb.QueryRow("SELECT hold_rows()").Scan(&one); err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r := l.next(t)
	checkReport(t, l, r, "rows", heldAt)
	// The walk stops where the goroutine stack gives way to C's.
	last := r.Stack[len(r.Stack)-1]
	if !strings.HasPrefix(last.Function, "runtime.cgocallback") {
		t.Logf("stack: %v", r.Stack)
		t.Errorf("last frame %v, want the cgo callback boundary", last)
	}
}

// leakSuspects is what a snapshot shows of the connections held longer than
// the leak threshold: the reports of the suspects, oldest first.
func leakSuspects(snap sqlpool.Snapshot) []leakdetect.Report {
	var out []leakdetect.Report
	for _, c := range snap.Conns {
		if c.Suspect && c.Borrow != nil {
			out = append(out, *c.Borrow)
		}
	}
	return out
}
