package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/leakdetect"
)

// demoLeakThreshold is the pool_leak_threshold of the leak section: short
// enough to wait for, long enough that no query of a healthy run reaches it.
const demoLeakThreshold = time.Second

// leakDemo opens its own pool on t's database with leak detection after
// demoLeakThreshold and a logger that writes to w, leaks the rows of one
// query (leakRows), and prints what sqlpool says: the warning once the
// threshold has passed, the report the OnLeak hook gets, and the info line
// when the rows are finally closed.
func leakDemo(ctx context.Context, w io.Writer, t target) error {
	section(w, fmt.Sprintf("5. Leak detection: rows never closed, pool_leak_threshold=%v", demoLeakThreshold))
	// Its own pool, from the inner DSN: whatever --dsn says about leak
	// detection, this section shows it on.
	dsn := t.driver + ":" + withParams(t.rawDSN, "pool_leak_threshold", demoLeakThreshold.String(), "pool_name", "demo-leaks")
	out := &lockedWriter{w: w}
	reports := make(chan leakdetect.Report, 1)
	ctr, err := sqlpool.NewConnector(dsn,
		sqlpool.WithLogger(slog.New(slog.NewTextHandler(out, nil))),
		sqlpool.WithOnLeak(func(r leakdetect.Report) {
			select {
			case reports <- r:
			default: // the demo leaks once; any other report is in the log
			}
		}),
	)
	if err != nil {
		return err
	}
	db := sql.OpenDB(ctr)
	defer db.Close()

	fmt.Fprintf(out, "sql.Open(%q, %q)\n", sqlpool.DriverName, sqlpool.RedactDSN(dsn))
	fmt.Fprintf(out, "leakRows runs %s and does not close its rows; after %v the log says:\n", t.query, demoLeakThreshold)
	rows, err := leakRows(ctx, db, t)
	if err != nil {
		return err
	}
	var r leakdetect.Report
	select {
	case r = <-reports:
	case <-time.After(demoLeakThreshold + 30*time.Second):
		rows.Close()
		return fmt.Errorf("no leak report %v after the threshold", 30*time.Second)
	case <-ctx.Done():
		rows.Close()
		return ctx.Err()
	}

	fmt.Fprintln(out, "and the OnLeak hook gets the same report as a value:")
	tw := table(out)
	fmt.Fprintf(tw, "  acquired at\t%s\n", r.AcquiredAt)
	fmt.Fprintf(tw, "  open\t%s\n", r.Open)
	fmt.Fprintf(tw, "  held for\t%s\n", fmtDur(r.HeldFor))
	fmt.Fprintf(tw, "  statement\t%s\n", r.Statement)
	for i, f := range r.Stack {
		label := ""
		if i == 0 {
			label = "stack"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", label, f)
	}
	tw.Flush()
	s, err := sqlpool.DBStat(ctx, db)
	if err != nil {
		rows.Close()
		return err
	}
	fmt.Fprintf(out, "Stat().Leaks = %d\n", s.Leaks)

	fmt.Fprintf(out, "the rows are closed %s after the query; the log says:\n", fmtDur(time.Since(r.Since)))
	return rows.Close()
}

// leakRows is the application's bug the leak section shows: it returns rows
// its caller never closes in time. The leak report names the QueryContext
// line.
func leakRows(ctx context.Context, db *sql.DB, t target) (*sql.Rows, error) {
	var args []any
	if t.queryArgs != nil {
		args = t.queryArgs(0)
	}
	return db.QueryContext(ctx, t.query, args...)
}

// lockedWriter serializes the writes of the demo and of the pool's logger,
// which writes from the leak detector's goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
