package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/leakdetect"
)

const (
	// livePool names the pool of section 7.
	livePool = "demo-live"
	// liveLeakThreshold is its pool_leak_threshold: the connection leaked
	// on purpose is a leak suspect this long after it was taken.
	liveLeakThreshold = 2 * time.Second
	// liveWave is the period over which the live load rises and falls.
	liveWave = 40 * time.Second
	// liveAcquireTimeout is its pool_acquire_timeout: an application that
	// fails fast. At the load's peaks the pool is too small, some acquires
	// time out, and the sizing advice says by how much.
	liveAcquireTimeout = 50 * time.Millisecond
)

// serve runs section 8: a pool of its own on t's database under a live load
// whose intensity rises and falls, with one connection leaked by leakRows,
// until ctx ends; the dashboard at url shows it all. It returns nil when ctx
// ends: being interrupted is how it stops.
func serve(ctx context.Context, w io.Writer, o options, t target, url string) error {
	section(w, fmt.Sprintf("8. Dashboard: %s, live until interrupted (Ctrl-C)", url))
	dsn := t.driver + ":" + withParams(t.rawDSN,
		"pool_name", livePool,
		"pool_max_conns", "8",
		"pool_acquire_timeout", liveAcquireTimeout.String(),
		"pool_leak_threshold", liveLeakThreshold.String(),
		"pool_max_conn_lifetime", "1m",
		"pool_max_conn_lifetime_jitter", "15s")
	out := &lockedWriter{w: w}
	leaked := make(chan leakdetect.Report, 1)
	ctr, err := sqlpool.NewConnector(dsn,
		// The report is printed below, in one line; the stack is on the page.
		sqlpool.WithLogger(slog.New(slog.DiscardHandler)),
		sqlpool.WithOnLeak(func(r leakdetect.Report) {
			select {
			case leaked <- r:
			default:
			}
		}),
	)
	if err != nil {
		return err
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	fmt.Fprintf(out, "sql.Open(%q, %q)\n", sqlpool.DriverName, sqlpool.RedactDSN(dsn))

	rows, err := leakRows(ctx, db, t)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintf(out, "leakRows runs %s and keeps its rows open; %d workers run transactions that hold a connection 5-65ms, more of them, then fewer, every %v;\n",
		t.query, o.workers, liveWave)
	fmt.Fprintf(out, "at the peaks 8 connections are too few: acquires wait, some time out at %v, the pool's alerts fire and the dashboard shows the advice\n", liveAcquireTimeout)

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopLoad()
		wg.Wait()
	}()
	liveLoad(loadCtx, &wg, db, t, o.workers)

	select {
	case r := <-leaked:
		fmt.Fprintf(out, "leak suspect: the connection taken at %s has been held for %v; the dashboard shows its stack\n", r.AcquiredAt, liveLeakThreshold)
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

// liveLoad starts workers goroutines on wg that run liveWork until ctx ends.
// How many of them work at a time follows a wave: nearly all at the start
// and every liveWave, a few half-way.
func liveLoad(ctx context.Context, wg *sync.WaitGroup, db *sql.DB, t target, workers int) {
	start := time.Now()
	for i := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for ctx.Err() == nil {
				phase := 2 * math.Pi * time.Since(start).Seconds() / liveWave.Seconds()
				active := float64(workers) * (0.5 + 0.45*math.Cos(phase))
				pause := 100 * time.Millisecond
				if float64(i) < active {
					liveWork(ctx, db, t, i, time.Duration(5+rng.IntN(60))*time.Millisecond)
					pause = time.Duration(rng.IntN(20)) * time.Millisecond
				}
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		})
	}
}

// liveWork is one unit of the live load: a transaction that runs t's query
// and holds its connection for hold, as an application does its own work
// between two statements. Errors are the load's business, not the demo's.
func liveWork(ctx context.Context, db *sql.DB, t target, n int, hold time.Duration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var args []any
	if t.queryArgs != nil {
		args = t.queryArgs(n)
	}
	var v any
	if err := tx.QueryRowContext(ctx, t.query, args...).Scan(&v); err != nil {
		return err
	}
	select {
	case <-time.After(hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	return tx.Commit()
}
