package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sqlpool/sqlpool/internal/sqltext"
	"github.com/sqlpool/sqlpool/pool"
)

// This file keeps the session contract: an application must not be able to
// tell from its sessions that sqlpool is there.
//
// database/sql's connections are sessions: state one of them makes
// (temporary tables, SET, advisory locks, LISTEN, PREPARE, cursors WITH
// HOLD) lives as long as that connection, and dies when database/sql closes
// it; another sql.DB never sees it. sqlpool's logical connections borrow
// physical ones, so a physical session outlives the logical connection that
// made its state, and would carry that state to the next one. So sqlpool
// records, for each logical connection, the physical sessions it used (in
// their current generation), and once database/sql closes it, each of
// those sessions is reset before anyone uses it again: at once in the
// background if it is idle (which also releases what the server holds for
// it, an advisory lock say, as the end of a raw session would), else at the
// next hand-out. In a pool shared by several sql.DBs, a session is also
// reset before it passes from one sql.DB to another. The reset is the
// database's own (PostgreSQL: DISCARD ALL, PgBouncer's server_reset_query),
// or a new connection where the database has none; a reset that is due when
// a validation ping is due replaces the ping.
//
// A bind that began before database/sql closed the other logical connection
// may still see its state until it ends: nothing can reset a session while
// it is in use.

// sessions are the physical sessions a logical connection used since their
// last reset, each in the generation it used it: those to reset once
// database/sql closes the logical connection.
type sessions []touch

// touch is one physical session a logical connection used, in the
// generation it used it.
type touch struct {
	res *pool.Resource[*pconn]
	pc  *pconn
	gen uint64
}

// use records that a logical connection of ctr uses pc's session now.
func (ss *sessions) use(ctr *Connector, res *pool.Resource[*pconn], pc *pconn) {
	pc.owner = ctr
	gen := pc.gen.Load()
	for i := range *ss {
		if t := &(*ss)[i]; t.pc == pc {
			t.gen, t.res = gen, res
			return
		}
	}
	// Forget the sessions reset since: they hold nothing of this
	// connection's.
	*ss = slices.DeleteFunc(*ss, func(t touch) bool { return t.pc.gen.Load() != t.gen })
	*ss = append(*ss, touch{res: res, pc: pc, gen: gen})
}

// forget is called when database/sql closes the logical connection: every
// session it used that has not been reset since must be, before anyone
// uses it again. An idle one is reset now, in the background (p.Recheck).
func (ss *sessions) forget(p *pool.Pool[*pconn]) {
	for _, t := range *ss {
		if t.pc.gen.Load() == t.gen {
			t.pc.dirty.Store(true)
			p.Recheck(t.res)
		}
	}
	clear(*ss)
	*ss = (*ss)[:0]
}

// mustReset reports whether pc's session must be reset before c uses it:
// a logical connection that used it was closed, or it holds another
// sql.DB's state (a shared pool).
func (pc *pconn) mustReset(c *conn) bool {
	return pc.dirty.Load() || (pc.owner != nil && pc.owner != c.ctr)
}

// errNoReset says a session cannot be reset by a statement: its connection
// is retired (destroyed, not counted as broken) and another one used.
var errNoReset = fmt.Errorf("sqlpool: this database has no statement that resets a session; a new connection replaces it: %w", pool.ErrRetire)

// resetSession resets pc's session, as if it had just connected: with
// pool_reset_query, else the database's own reset; then runs the session
// setup (pool_init_sql, WithAfterConnect) again, since the reset undid it.
// It is called by the holder of pc, or by the pool's check of an idle pc
// (the reset proves the connection works, as the ping would). It fails with
// errNoReset where the database has no reset statement.
func (ps *poolState) resetSession(ctx context.Context, pc *pconn) error {
	// Whatever used the session before now is reset by this call; a mark
	// made while it runs (by a logical connection closing that used the
	// session before it) only costs one more reset.
	pc.dirty.Store(false)
	pc.gen.Add(1)
	pc.owner = nil
	var err error
	switch {
	case ps.cfg.resetQuery != "":
		// The query may deallocate prepared statements: close the cached
		// ones first, while they still exist, and clear pgx's after.
		if pc.stmts != nil {
			pc.stmts.closeAll()
		}
		err = ps.execBounded(ctx, pc, ps.cfg.resetQuery)
		if err == nil && ps.kind == kindPgx {
			err = pgxForgetStatements(ctx, pc.inner)
		}
	case ps.kind.postgres():
		err = ps.resetPostgres(ctx, pc)
	default:
		return errNoReset
	}
	if err != nil {
		return fmt.Errorf("sqlpool: resetting the session: %w", err)
	}
	ps.resetCount.Add(1)
	if err := ps.initSession(ctx, pc.inner); err != nil {
		return err
	}
	pc.sqlPrepared = pc.sqlPrepared || ps.initPrepares
	return nil
}

// pgKeepStatements resets a PostgreSQL session as DISCARD ALL does, but
// for DEALLOCATE ALL and DISCARD PLANS, in one round trip: it keeps the
// statements prepared through the protocol, which are not the
// application's state but the drivers' and sqlpool's statement caches
// (pgx's, of every query with arguments by default, and sqlpool's, of
// database/sql's Stmts), so that those stay valid and need no preparing
// again.
const pgKeepStatements = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; " +
	"SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES"

// resetPostgres resets pc's PostgreSQL session in one round trip. With
// DISCARD ALL, what PgBouncer's session mode runs, when the session may
// hold statements the application prepared with SQL's PREPARE (its text
// went through sqlpool: sqlPrepared), which must go, or when nothing would
// be lost (lib/pq with sqlpool's statement cache empty: lib/pq caches
// nothing itself); the statement caches of sqlpool and pgx are then
// forgotten on the client, or each statement would fail once with
// "prepared statement does not exist". Otherwise with pgKeepStatements.
func (ps *poolState) resetPostgres(ctx context.Context, pc *pconn) error {
	cached := pc.stmts != nil && pc.stmts.lru.Len() > 0
	if !pc.sqlPrepared && (cached || ps.kind == kindPgx) {
		return ps.execBounded(ctx, pc, pgKeepStatements)
	}
	if err := ps.execBounded(ctx, pc, "DISCARD ALL"); err != nil {
		return err
	}
	pc.sqlPrepared = false
	// Forget the cached statements without closing them: each close would
	// be a round trip for a statement the server no longer has.
	if cached {
		pc.stmts.forget()
	}
	if ps.kind == kindPgx {
		return pgxForgetStatements(ctx, pc.inner)
	}
	return nil
}

// mayPrepare reports whether the statement text q may create a statement
// prepared with SQL (PREPARE, or dynamic SQL that says PREPARE, as in a DO
// block's EXECUTE 'PREPARE ...'). A function whose own body prepares one is
// not seen (see the README's limitations).
func mayPrepare(q string) bool {
	const w = "prepare"
	for i := 0; i+len(w) <= len(q); i++ {
		if q[i]|0x20 == 'p' && strings.EqualFold(q[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// notePrepare records that pc's session runs q (see mayPrepare), on
// PostgreSQL pools that reset sessions.
func (pc *pconn) notePrepare(q string) {
	if pc.ps.watchPrepare && !pc.sqlPrepared && mayPrepare(q) {
		pc.sqlPrepared = true
	}
}

// resetBound is resetSession for the holder of pc, at bind: bounded by
// pool_ping_timeout, as the ping it stands for would be.
func (ps *poolState) resetBound(ctx context.Context, pc *pconn) error {
	if t := ps.cfg.pingTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	return ps.resetSession(ctx, pc)
}

// initBatches returns the statements of pool_init_sql as the Execs that
// run them: all in one for PostgreSQL (the simple query protocol takes
// several) and SQLite (go-sqlite3 runs every statement of an Exec); one
// per statement elsewhere (go-sql-driver/mysql takes several only with
// multiStatements=true).
func initBatches(k driverKind, stmts []string) []string {
	if len(stmts) == 0 {
		return nil
	}
	if k.postgres() || k == kindSQLite {
		return []string{strings.Join(stmts, ";\n")}
	}
	var out []string
	for _, s := range stmts {
		out = append(out, sqltext.Split(s, sqltext.Options{DoubleQuotedStrings: k.doubleQuotedStrings()})...)
	}
	return out
}

// initSession runs the session setup on a new session: pool_init_sql,
// then WithAfterConnect.
func (ps *poolState) initSession(ctx context.Context, ic driver.Conn) error {
	for _, q := range ps.initSQL {
		if err := execDirect(ctx, ic, q); err != nil {
			return fmt.Errorf("sqlpool: pool_init_sql: %w", err)
		}
	}
	if f := ps.cfg.afterConnect; f != nil {
		if err := f(ctx, ic); err != nil {
			return fmt.Errorf("sqlpool: WithAfterConnect: %w", err)
		}
	}
	return nil
}

// errScopedLost is the error of every operation on a logical connection
// whose database lived in its physical connection (SQLite :memory:) once
// that connection failed: the data is gone, and database/sql must not
// quietly hand the application a new, empty database in its place.
var errScopedLost = errors.New("sqlpool: the connection that held this in-memory database failed, and the database with it; open a new one")
