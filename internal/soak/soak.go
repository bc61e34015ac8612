// Package soak runs a random mix of database/sql operations (queries read
// whole or in part, statements, transactions committed and rolled back,
// sql.Conns, prepared statements, and operations whose context ends midway)
// from many goroutines against one *sql.DB, and checks every answer. The
// soak test and the reliability suite both run it, on sqlpool and on raw
// database/sql, with or without faults injected under it.
package soak

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Dialect holds the SQL that differs between servers.
type Dialect struct {
	// Param returns the placeholder for the i-th argument (from 1).
	Param func(i int) string
	// Sleep is a statement that takes about 20ms.
	Sleep string
	// Series selects the integers 1..n for an n given as argument 1.
	Series string
	// BigInt casts the expression e to a 64-bit integer (a format with one %s).
	BigInt string
}

// Postgres is the dialect of PostgreSQL.
var Postgres = Dialect{
	Param:  func(i int) string { return fmt.Sprintf("$%d", i) },
	Sleep:  "SELECT pg_sleep(0.02)",
	Series: "SELECT generate_series(1, $1::int)",
	BigInt: "%s::bigint",
}

// MySQL is the dialect of MySQL and MariaDB.
var MySQL = Dialect{
	Param: func(int) string { return "?" },
	Sleep: "SELECT SLEEP(0.02)",
	Series: "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ?) " +
		"SELECT x FROM s",
	BigInt: "CAST(%s AS SIGNED)",
}

// Op is one kind of operation of the mix.
type Op int

const (
	OpQuery      Op = iota // a query whose rows are read to the end
	OpQueryPart            // a query whose rows are closed after the first
	OpExec                 // an UPDATE
	OpTxCommit             // a transaction of an UPDATE and a read, committed
	OpTxRollback           // a transaction of an UPDATE, rolled back
	OpConn                 // two statements on one sql.Conn
	OpStmt                 // a shared prepared statement
	OpCancelWait           // a slow statement whose deadline passes while it runs, or before
	OpCancelRows           // rows whose context is canceled while they are read
	OpCancelTx             // a transaction whose context is canceled before Commit
	numOps
)

var opNames = [numOps]string{"query", "query-part", "exec", "tx-commit", "tx-rollback",
	"conn", "stmt", "cancel-wait", "cancel-rows", "cancel-tx"}

func (o Op) String() string { return opNames[o] }

// Config is a soak run.
type Config struct {
	Goroutines int
	Duration   time.Duration
	Dialect    Dialect
	// Table is the name of the table the run creates (and drops at the end),
	// unique to the run.
	Table string
	// Seed makes the mix reproducible; 0 picks one.
	Seed uint64
	// OpTimeout bounds each operation that is not meant to be canceled
	// (default 30s): under faults, an operation that would hang counts as an
	// error instead of stopping the run.
	OpTimeout time.Duration
}

// Result is what a run saw.
type Result struct {
	Seed uint64
	Ops  [numOps]int64 // completed operations, by kind, failed ones included
	// Errors counts operations that failed for a reason other than their
	// own context ending on purpose, and answers that were wrong.
	Errors int64
	// Canceled counts operations that ended with their context, as meant.
	Canceled    int64
	FirstErrors []string // the first few distinct unexpected errors
}

// Total is the number of operations run.
func (r *Result) Total() int64 {
	var n int64
	for _, c := range r.Ops {
		n += c
	}
	return n
}

const rowsInTable = 64

// Setup creates cfg.Table with its rows; Teardown drops it.
func Setup(ctx context.Context, db *sql.DB, cfg Config) error {
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+cfg.Table); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+cfg.Table+" (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)"); err != nil {
		return err
	}
	for id := range rowsInTable {
		q := fmt.Sprintf("INSERT INTO %s (id, n) VALUES (%s, 0)", cfg.Table, cfg.Dialect.Param(1))
		if _, err := db.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// Teardown drops cfg.Table.
func Teardown(ctx context.Context, db *sql.DB, cfg Config) error {
	_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+cfg.Table)
	return err
}

// Run runs the mix until cfg.Duration has passed or ctx ends. The table
// must exist (Setup).
func Run(ctx context.Context, db *sql.DB, cfg Config) (*Result, error) {
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 30 * time.Second
	}
	p := cfg.Dialect.Param
	r := &runner{
		db:  db,
		cfg: cfg,
		res: &Result{Seed: cfg.Seed},
		sql: queries{
			echo:   fmt.Sprintf("SELECT n, "+cfg.Dialect.BigInt+" FROM %s WHERE id = %s", p(1), cfg.Table, p(2)),
			update: fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = %s", cfg.Table, p(1)),
			read:   fmt.Sprintf("SELECT n FROM %s WHERE id = %s", cfg.Table, p(1)),
		},
	}
	stmt, err := db.PrepareContext(ctx, r.sql.echo)
	if err != nil {
		return nil, fmt.Errorf("soak: prepare: %w", err)
	}
	defer stmt.Close()
	r.stmt = stmt

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for g := range cfg.Goroutines {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(g)))
		wg.Go(func() {
			for ctx.Err() == nil {
				op := Op(rng.IntN(int(numOps)))
				r.run(ctx, op, rng)
			}
		})
	}
	wg.Wait()
	return r.res, nil
}

type queries struct{ echo, update, read string }

type runner struct {
	db   *sql.DB
	stmt *sql.Stmt
	cfg  Config
	sql  queries

	mu  sync.Mutex
	res *Result
}

func (r *runner) run(ctx context.Context, op Op, rng *rand.Rand) {
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.OpTimeout)
	defer cancel()
	var err error
	canceled := false
	switch op {
	case OpQuery:
		err = r.series(opCtx, 1+rng.IntN(50), -1, nil)
	case OpQueryPart:
		err = r.series(opCtx, 100, 1, nil)
	case OpExec:
		err = r.exec(opCtx, r.db, rng)
	case OpTxCommit:
		err = r.tx(opCtx, rng, true)
	case OpTxRollback:
		err = r.tx(opCtx, rng, false)
	case OpConn:
		err = r.conn(opCtx, rng)
	case OpStmt:
		err = r.echo(opCtx, r.stmt.QueryRowContext, rng)
	case OpCancelWait:
		c, cancel := context.WithTimeout(opCtx, time.Duration(rng.IntN(30))*time.Millisecond)
		_, err = r.db.ExecContext(c, r.cfg.Dialect.Sleep)
		canceled = c.Err() != nil
		cancel()
	case OpCancelRows:
		c, cancel := context.WithCancel(opCtx)
		err = r.series(c, 100000, 1+rng.IntN(5), cancel)
		canceled = c.Err() != nil
		cancel()
	case OpCancelTx:
		err = r.cancelTx(opCtx, rng)
		canceled = err != nil && (errors.Is(err, sql.ErrTxDone) || errors.Is(err, context.Canceled))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Ops[op]++
	switch {
	case err == nil:
	case canceled:
		r.res.Canceled++
	default:
		r.res.Errors++
		msg := fmt.Sprintf("%s: %v", op, err)
		if len(r.res.FirstErrors) < 5 && !slices.Contains(r.res.FirstErrors, msg) {
			r.res.FirstErrors = append(r.res.FirstErrors, msg)
		}
	}
}

// series selects 1..n and checks each value; with stopAfter >= 0 it stops
// after that many rows, calling cancel first if given.
func (r *runner) series(ctx context.Context, n, stopAfter int, cancel context.CancelFunc) error {
	rows, err := r.db.QueryContext(ctx, r.cfg.Dialect.Series, n)
	if err != nil {
		return err
	}
	defer rows.Close()
	want := 1
	for rows.Next() {
		if want > stopAfter && stopAfter >= 0 {
			if cancel == nil {
				return rows.Close()
			}
			cancel()
		}
		var got int
		if err := rows.Scan(&got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("row %d of the series is %d: answers mixed up", want, got)
		}
		want++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if cancel == nil && want != n+1 {
		return fmt.Errorf("series of %d ended after %d rows", n, want-1)
	}
	return nil
}

type rowQuerier func(ctx context.Context, args ...any) *sql.Row

// echo runs the prepared echo statement (its id and a random token) and
// checks that the token comes back: an answer meant for another operation
// would not have it.
func (r *runner) echo(ctx context.Context, q rowQuerier, rng *rand.Rand) error {
	token := rng.Int64N(1 << 40)
	var n, got int64
	if err := q(ctx, token, rng.IntN(rowsInTable)).Scan(&n, &got); err != nil {
		return err
	}
	if got != token {
		return fmt.Errorf("echoed %d, sent %d: answers mixed up", got, token)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (r *runner) exec(ctx context.Context, e execer, rng *rand.Rand) error {
	res, err := e.ExecContext(ctx, r.sql.update, rng.IntN(rowsInTable))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("UPDATE of one row affected %d rows (%v)", n, err)
	}
	return nil
}

func (r *runner) tx(ctx context.Context, rng *rand.Rand, commit bool) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	id := rng.IntN(rowsInTable)
	var before, after int64
	// FOR UPDATE: no other transaction changes the row until this one ends.
	if err := tx.QueryRowContext(ctx, r.sql.read+" FOR UPDATE", id).Scan(&before); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, r.sql.update, id); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.QueryRowContext(ctx, r.sql.read, id).Scan(&after); err != nil {
		tx.Rollback()
		return err
	}
	if after != before+1 {
		tx.Rollback()
		return fmt.Errorf("a transaction's UPDATE is not visible to it: %d then %d", before, after)
	}
	if commit {
		return tx.Commit()
	}
	return tx.Rollback()
}

func (r *runner) conn(ctx context.Context, rng *rand.Rand) error {
	c, err := r.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := r.echo(ctx, func(ctx context.Context, args ...any) *sql.Row {
		return c.QueryRowContext(ctx, r.sql.echo, args...)
	}, rng); err != nil {
		return err
	}
	return r.exec(ctx, c, rng)
}

// cancelTx begins a transaction, runs an UPDATE, cancels the context and
// commits: database/sql has rolled the transaction back, and Commit says so.
func (r *runner) cancelTx(ctx context.Context, rng *rand.Rand) error {
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	tx, err := r.db.BeginTx(c, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(c, r.sql.update, rng.IntN(rowsInTable)); err != nil {
		tx.Rollback()
		return err
	}
	cancel()
	if err := tx.Commit(); err == nil {
		return errors.New("Commit after the transaction's context was canceled succeeded")
	} else {
		return err
	}
}
