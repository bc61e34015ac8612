package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// prePingQueries is how many queries run after the kill.
const prePingQueries = 100

// prePing kills idle PostgreSQL backends under a sqlpool pool and under a raw
// database/sql pool, then runs queries on both and counts the failures.
func prePing(ctx context.Context, w io.Writer, t target) error {
	pingAfter := durationParam(t.params, "pool_ping_idle_after", time.Second)
	wait := pingAfter + 250*time.Millisecond
	section(w, fmt.Sprintf("6. Pre-ping: the server kills idle connections (pg_terminate_backend), %v later %d queries", fmtDur(wait), prePingQueries))

	// The admin connection is raw. It kills only the backends each side
	// names as its own (pg_backend_pid), so never itself.
	admin, err := sql.Open(t.driver, t.rawDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1)

	// A second pool on the same database, with the DSN's pool settings but
	// no lifetime: with the demo's short lifetime the connections would be
	// retired by age before pre-ping got to see them.
	var poolKV []string
	for _, k := range slices.Sorted(maps.Keys(t.params)) {
		if k != "pool_max_conn_lifetime" && k != "pool_max_conn_lifetime_jitter" {
			poolKV = append(poolKV, k, t.params[k])
		}
	}
	db, err := sql.Open(sqlpool.DriverName, t.driver+":"+withParams(t.rawDSN, append(poolKV, "pool_max_conn_lifetime", "0")...))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxIdleConns(0)
	st, err := sqlpool.DBStat(ctx, db)
	if err != nil {
		return err
	}

	// The raw driver, as database/sql alone would run it.
	raw, err := sql.Open(t.driver, t.rawDSN)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxIdleConns(2)

	sides := []*killSide{
		{name: "sqlpool", db: db, warm: min(st.MaxSize, 4), pool: true},
		{name: "raw " + t.driver, db: raw, warm: 2},
	}
	// Two rounds, each killing both sides' idle backends at once: queries
	// through db.QueryRowContext, which database/sql retries on
	// driver.ErrBadConn, then through a sql.Conn each, which it does not
	// (session-bound code: SET, advisory locks, temporary tables).
	tw := table(w)
	fmt.Fprintf(tw, "\tkilled\tqueries\tfailed\treplaced by pre-ping\n")
	var (
		notes     []string
		rawFailed [2]int // by round
	)
	for round, viaConn := range []bool{false, true} {
		if err := killRound(ctx, admin, sides, viaConn, wait); err != nil {
			return err
		}
		how := "db.QueryRow"
		if viaConn {
			how = "sql.Conn"
		}
		for _, sd := range sides {
			replaced := "-"
			if sd.pool {
				replaced = fmt.Sprint(sd.replaced)
			} else {
				rawFailed[round] = sd.failed
			}
			fmt.Fprintf(tw, "%s, %s\t%d\t%d\t%d\t%s\n", sd.name, how, sd.killed, prePingQueries, sd.failed, replaced)
			if sd.firstErr != nil {
				notes = append(notes, fmt.Sprintf("%s, %s, first error: %v", sd.name, how, sqlpool.RedactError(sd.firstErr, t.dsn)))
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "sqlpool: a second pool on the DSN with pool_max_conn_lifetime=0, so age cannot retire them first;\n")
	fmt.Fprintf(w, "idle %v > pool_ping_idle_after=%v: each was pinged before hand-out and replaced\n", fmtDur(wait), pingAfter)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	switch {
	case rawFailed[0] == 0 && rawFailed[1] > 0:
		fmt.Fprintf(w, "raw %s: the driver returned driver.ErrBadConn, which database/sql retries on another connection\n", t.driver)
		fmt.Fprintln(w, "for db.QueryRow, but not for a query on a sql.Conn, which is bound to the dead connection")
	case rawFailed[0] == 0 && rawFailed[1] == 0 && t.driver != "postgres":
		// pgx's stdlib.Conn.ResetSession pings a connection idle for more
		// than a second, and database/sql calls it before reusing one.
		fmt.Fprintf(w, "raw %s: no failures either: pgx's ResetSession pings a connection idle > 1s before reuse\n", t.driver)
	}
	return ctx.Err()
}

// killSide is one database of a kill round and what the round did to it.
type killSide struct {
	name string
	db   *sql.DB
	warm int  // idle connections to make before the kill
	pool bool // a sqlpool database

	killed, failed int
	replaced       int64 // connections that failed pre-ping (sqlpool only)
	firstErr       error
}

// killRound makes each side's warm connections and puts them back idle, has
// admin terminate their backends, all sides at once, waits, and runs
// prePingQueries queries on each side one after another: each on db itself,
// or each on a sql.Conn of its own if viaConn.
func killRound(ctx context.Context, admin *sql.DB, sides []*killSide, viaConn bool, wait time.Duration) error {
	before := make([]sqlpool.Stat, len(sides))
	pids := make([]string, len(sides))
	for i, sd := range sides {
		sd.killed, sd.failed, sd.replaced, sd.firstErr = 0, 0, 0, nil
		var err error
		if pids[i], err = holdConns(ctx, sd.db, sd.warm); err != nil {
			return err
		}
		if sd.pool {
			s, err := sqlpool.DBStat(ctx, sd.db)
			if err != nil {
				return err
			}
			before[i] = s
		}
	}
	for i, sd := range sides {
		err := admin.QueryRowContext(ctx, `
			SELECT count(*) FROM (
				SELECT pg_terminate_backend(pid) AS killed
				FROM pg_stat_activity
				WHERE pid = ANY(string_to_array($1, ',')::int[]) AND state = 'idle'
			) k WHERE killed`, pids[i]).Scan(&sd.killed)
		if err != nil {
			return fmt.Errorf("terminating the idle backends: %w", err)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
	}
	for i, sd := range sides {
		for range prePingQueries {
			err := selectOne(ctx, sd.db, viaConn)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				sd.failed++
				if sd.firstErr == nil {
					sd.firstErr = err
				}
			}
		}
		if sd.pool {
			s, err := sqlpool.DBStat(ctx, sd.db)
			if err != nil {
				return err
			}
			sd.replaced = s.DestroyedCount(pool.ReasonCheck) - before[i].DestroyedCount(pool.ReasonCheck)
		}
	}
	return nil
}

// selectOne runs SELECT 1 on db, or on a sql.Conn of its own if viaConn.
func selectOne(ctx context.Context, db *sql.DB, viaConn bool) error {
	var v int
	if !viaConn {
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&v)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.QueryRowContext(ctx, "SELECT 1").Scan(&v)
}

// holdConns takes n connections from db at once, asks each for its server
// process ID, so each has its own server session, and gives them all back.
// It returns the IDs, comma-separated.
func holdConns(ctx context.Context, db *sql.DB, n int) (string, error) {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	pids := make([]string, 0, n)
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return "", err
		}
		conns = append(conns, c)
		var pid string
		if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()::text").Scan(&pid); err != nil {
			return "", err
		}
		pids = append(pids, pid)
	}
	return strings.Join(pids, ","), nil
}
