package sqlpool

import (
	"container/list"
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/sqlpool/sqlpool/internal/leak"
	"github.com/sqlpool/sqlpool/internal/redact"
	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/pool"
)

// The physical connection: the inner driver's connection and what sqlpool
// keeps with it: its dial, its validation ping, its close, and its cache of
// prepared statements. Everything here runs for the pool (dial, check,
// destroy), or for the one logical connection bound to the physical one.

// pconn is a physical connection: the inner driver's connection and what
// sqlpool keeps with it. Its fields are used only by the logical connection
// it is bound to, or by the pool when it is idle or being destroyed.
type pconn struct {
	inner driver.Conn
	ps    *poolState
	id    uint64     // numbers the pool's physical connections from 1 (Snapshot); set before the pool has it
	stmts *stmtCache // nil when pool_stmt_cache_size=0
	used  bool       // bound before: call the driver's ResetSession at the next bind

	// The session (session.go). dirty and gen are read by logical
	// connections that used the session and are closing; owner only by the
	// holder.
	dirty       atomic.Bool   // a logical connection that used the session was closed: reset it before its next use
	gen         atomic.Uint64 // counts the session's resets: a use of it is of one generation
	owner       *Connector    // whose logical connections used the session since its last reset; nil if none
	sqlPrepared bool          // PostgreSQL: a statement that may PREPARE ran since the last reset (mayPrepare)

	// pinging is set when a ping overran its deadline and was given up
	// while the driver still ran it: it receives the ping's result once the
	// driver returns, and only then may the connection be closed.
	pinging <-chan outcome[struct{}]

	// Leak detection's record of the current borrow (a no-op when leak
	// detection is off), and the resource it is held as (set at each bind;
	// the leak detector reclaims through it).
	borrow leak.Borrow
	res    *pool.Resource[*pconn]

	shell atomic.Pointer[conn] // the logical connection bound to it, while checkBindings

	// The inner connection's optional interfaces used on every operation,
	// asserted once: a connection's type does not change. nil where it
	// lacks the interface.
	execer        driver.ExecerContext
	queryer       driver.QueryerContext
	legacyExecer  driver.Execer  //nolint:staticcheck // legacy drivers
	legacyQueryer driver.Queryer //nolint:staticcheck // legacy drivers
	checker       driver.NamedValueChecker
	resetter      driver.SessionResetter
	validator     driver.Validator
}

func newPconn(ic driver.Conn, ps *poolState) *pconn {
	pc := &pconn{inner: ic, ps: ps}
	pc.execer, _ = ic.(driver.ExecerContext)
	pc.queryer, _ = ic.(driver.QueryerContext)
	pc.legacyExecer, _ = ic.(driver.Execer)   //nolint:staticcheck // legacy drivers
	pc.legacyQueryer, _ = ic.(driver.Queryer) //nolint:staticcheck // legacy drivers
	pc.checker, _ = ic.(driver.NamedValueChecker)
	pc.resetter, _ = ic.(driver.SessionResetter)
	pc.validator, _ = ic.(driver.Validator)
	return pc
}

// invalid reports whether the inner driver says the connection is gone.
func (pc *pconn) invalid() bool { return pc.validator != nil && !pc.validator.IsValid() }

func (pc *pconn) close() {
	if pc.pinging != nil {
		// A ping that overran its deadline still holds the connection.
		done := pc.pinging
		pc.pinging = nil
		go func() {
			<-done
			pc.close()
		}()
		return
	}
	pc.ps.leaks.Untrack(&pc.borrow)
	if pc.stmts != nil {
		pc.stmts.closeAll()
	}
	pc.inner.Close()
}

// checkBindings, set by this package's tests, makes bind and unbind check
// an invariant the pool rests on: a physical connection is bound to at most
// one logical connection at a time. Each violation is counted.
var (
	checkBindings     bool
	bindingViolations atomic.Int64
)

// claim records c as pc's logical connection, counting a violation if pc
// has another.
func (pc *pconn) claim(c *conn) {
	if !pc.shell.CompareAndSwap(nil, c) {
		bindingViolations.Add(1)
	}
}

// unclaim undoes claim, counting a violation if pc is not c's.
func (pc *pconn) unclaim(c *conn) {
	if !pc.shell.CompareAndSwap(c, nil) {
		bindingViolations.Add(1)
	}
}

// dial is the pool's Constructor: one physical connection.
func (ps *poolState) dial(ctx context.Context) (*pconn, error) {
	var sp tracing.Span
	if ps.tel.Active() {
		ctx, sp = ps.tel.Start(ctx, tracing.OpConnect, "", false)
	}
	ic, err := ps.connect(ctx)
	if err != nil {
		// Some drivers quote their DSN when they fail to connect; this error
		// reaches applications and logs as the pool's last dial error.
		err = redact.Error(err, ps.secrets)
		sp.End(ctx, err)
		return nil, err
	}
	if sp.Active() {
		dialed(ctx, ps.tel, &ps.resolveSystem, ic, sp.Elapsed())
		sp.End(ctx, nil)
	}
	if err := ps.initSession(ctx, ic); err != nil {
		ic.Close()
		return nil, redact.Error(err, ps.secrets)
	}
	if ps.cfg.requireWritable {
		if err, late := ps.checkWritable(ctx, ic); err != nil {
			if late != nil {
				go func() { <-late; ic.Close() }()
			} else {
				ic.Close()
			}
			return nil, redact.Error(err, ps.secrets)
		}
	}
	pc := newPconn(ic, ps)
	pc.sqlPrepared = ps.initPrepares
	if n := ps.stmtCacheSize(ctx, ic); n > 0 {
		pc.stmts = newStmtCache(n)
	}
	pc.id = ps.connSeq.Add(1)
	ps.leaks.Track(&pc.borrow, pc.id, pc.reclaim)
	return pc, nil
}

// connect is the inner connector's Connect, held to ctx's deadline (the
// pool's, pool_acquire_timeout) even by a driver that ignores it during its
// handshake (lib/pq): to a server whose network went silent, the attempt
// would otherwise hold a slot of the pool until the kernel gives up. A
// connection that arrives after the deadline is closed.
func (ps *poolState) connect(ctx context.Context) (driver.Conn, error) {
	r, late := bounded(ctx, ps.inner.Connect)
	if late != nil {
		go func() {
			// Only a connection that came with no error: lib/pq returns a
			// typed nil connection with its errors.
			if r := <-late; r.err == nil && r.v != nil {
				r.v.Close()
			}
		}()
		return nil, fmt.Errorf("sqlpool: connecting: %w", r.err)
	}
	return r.v, r.err
}

// outcome is what a call returned.
type outcome[T any] struct {
	v   T
	err error
}

// mapOutcome is late as a channel of outcome[struct{}], which pconn.pinging
// holds, for a bounded call of another type.
func mapOutcome[T any](late <-chan outcome[T]) <-chan outcome[struct{}] {
	ch := make(chan outcome[struct{}], 1)
	go func() {
		r := <-late
		ch <- outcome[struct{}]{err: r.err}
	}()
	return ch
}

// bounded runs f, and returns when f does or when ctx ends, whichever is
// first, even if f ignores ctx. When ctx ended first, the outcome holds
// ctx's cause, and late receives f's own outcome once f returns (whatever
// f holds must wait for it); otherwise late is nil. Without a deadline or
// cancellation, f runs on the caller's goroutine.
func bounded[T any](ctx context.Context, f func(context.Context) (T, error)) (outcome[T], <-chan outcome[T]) {
	if ctx.Done() == nil {
		v, err := f(ctx)
		return outcome[T]{v, err}, nil
	}
	ch := make(chan outcome[T], 1)
	go func() {
		v, err := f(ctx)
		ch <- outcome[T]{v, err}
	}()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return outcome[T]{err: context.Cause(ctx)}, ch
	}
}

// ping is the pool's Check: the inner driver's own verdict first
// (driver.Validator), then driver.Pinger, then the validation query.
func (ps *poolState) ping(ctx context.Context, pc *pconn) error {
	if pc.validator != nil && !pc.validator.IsValid() {
		return driver.ErrBadConn
	}
	if pc.dirty.Load() {
		// The session must be reset before its next hand-out: the reset is a
		// round trip that proves the connection works, as the ping would.
		if err := ps.resetSession(ctx, pc); err != nil || !ps.cfg.requireWritable {
			return err
		}
	}
	if ps.cfg.requireWritable {
		// The question is a round trip too, in place of the ping.
		err, late := ps.checkWritable(ctx, pc.inner)
		if late != nil {
			pc.pinging = mapOutcome(late)
		}
		return err
	}
	var f func(context.Context) error
	if p, ok := pc.inner.(driver.Pinger); ok {
		f = p.Ping
	} else if q := ps.cfg.validationQuery; q != "" {
		f = func(ctx context.Context) error { return execDirect(ctx, pc.inner, q) }
	} else {
		return nil
	}
	// The deadline holds even for a driver that ignores it: lib/pq's Ping
	// does, and on a connection whose network went silent (no FIN, no RST)
	// it would wait for the kernel to give up, many minutes, with the
	// application's query behind it. At the deadline the connection is
	// given up (the pool destroys it); close waits for the driver to let go.
	r, late := bounded(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	if late != nil {
		pc.pinging = late
		return fmt.Errorf("sqlpool: ping: %w", r.err)
	}
	return r.err
}

// execBounded runs q on pc within ctx even if the driver ignores ctx (see
// bounded): a connection whose statement overran is given up, and its close
// waits for the driver.
func (ps *poolState) execBounded(ctx context.Context, pc *pconn, q string) error {
	r, late := bounded(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, execDirect(ctx, pc.inner, q)
	})
	if late != nil {
		pc.pinging = late
	}
	return r.err
}

// stmtCacheSize returns how many prepared statements a new physical
// connection ic may keep: pool_stmt_cache_size, bounded on MySQL and
// MariaDB by the server's max_prepared_stmt_count, a limit over all its
// sessions (16,382 by default), of which the pool takes at most half over
// pool_max_conns connections. The limit is read once per pool, on its
// first dial.
func (ps *poolState) stmtCacheSize(ctx context.Context, ic driver.Conn) int {
	n := ps.cfg.stmtCacheSize
	if n == 0 || ps.kind != kindMySQL {
		return n
	}
	ps.stmtLimitOnce.Do(func() {
		v, err := queryValue(ctx, ic, "SELECT @@GLOBAL.max_prepared_stmt_count")
		limit, perr := strconv.Atoi(v)
		if err != nil || perr != nil || limit < 0 {
			return // unknown: keep the setting
		}
		ps.stmtLimit.Store(int64(limit/2/ps.cfg.maxConns) + 1)
	})
	if l := ps.stmtLimit.Load(); l > 0 {
		n = min(n, int(l-1))
	}
	return n
}

// stmtCache is a physical connection's bounded cache of prepared statements
// by query text, least recently used evicted first. It is used only by the
// logical connection bound to its physical connection.
//
// It holds at most size statements, plus any whose rows are still open,
// which it must not close: however many statements one hand-out (a
// transaction, a sql.Conn) prepares, the server keeps no more than that.
type stmtCache struct {
	size  int
	lru   list.List // of *cachedStmt, most recently used first
	byKey map[string]*list.Element
}

type cachedStmt struct {
	query   string
	si      driver.Stmt
	open    int  // rows of si not closed yet (rows.cs): si is not evicted while there are any
	dropped bool // out of the cache (drop) while rows were open: the last rows' Close closes si
}

func newStmtCache(size int) *stmtCache {
	return &stmtCache{size: size, byKey: make(map[string]*list.Element)}
}

// get returns the entry of query, preparing it if the cache has none.
func (sc *stmtCache) get(ctx context.Context, pc *pconn, query string) (*cachedStmt, error) {
	if e, ok := sc.byKey[query]; ok {
		sc.lru.MoveToFront(e)
		return e.Value.(*cachedStmt), nil
	}
	si, err := prepareInner(ctx, pc.inner, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, si: si}
	e := sc.lru.PushFront(cs)
	sc.byKey[query] = e
	sc.evict(e)
	return cs, nil
}

// evict closes least recently used statements beyond the size, but not
// keep, the one being handed out, nor any with rows open: closing its
// statement would end them (go-sqlite3 ends them early, without an error).
func (sc *stmtCache) evict(keep *list.Element) {
	for e := sc.lru.Back(); e != nil && e != keep && sc.lru.Len() > sc.size; {
		prev := e.Prev()
		if cs := e.Value.(*cachedStmt); cs.open == 0 {
			sc.lru.Remove(e)
			delete(sc.byKey, cs.query)
			cs.si.Close()
		}
		e = prev
	}
}

// drop takes cs out of the cache after an execution of it failed: the
// failure may be the statement's own (PostgreSQL's "cached plan must not
// change result type" after a schema change fails every later execution of
// it), and preparing the text again costs one round trip. cs is closed now,
// or by the Close of its last open rows.
func (sc *stmtCache) drop(cs *cachedStmt) {
	e, ok := sc.byKey[cs.query]
	if !ok || e.Value != cs {
		return
	}
	sc.lru.Remove(e)
	delete(sc.byKey, cs.query)
	if cs.open == 0 {
		cs.si.Close()
	} else {
		cs.dropped = true
	}
}

// forget empties the cache without closing its statements: after a
// session reset that deallocated them on the server (DISCARD ALL).
func (sc *stmtCache) forget() {
	sc.lru.Init()
	clear(sc.byKey)
}

func (sc *stmtCache) closeAll() {
	for e := sc.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).si.Close()
	}
	sc.lru.Init()
	clear(sc.byKey)
}

// reclaim takes the physical connection back from the application that
// leaked it: the leak detector calls it, at most once, while no call is in
// progress on it (the application's next one fails with ErrReclaimed).
func (pc *pconn) reclaim() { pc.res.DestroyReclaimed() }
