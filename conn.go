package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/pool"
)

// The logical connection claims every optional interface for which
// database/sql has a neutral answer (driver.ErrSkip, nil, true), and forwards
// to the inner connection when it has the interface.
var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.Execer             = (*conn)(nil) //nolint:staticcheck // for callers through sql.Conn.Raw
	_ driver.Queryer            = (*conn)(nil) //nolint:staticcheck // for callers through sql.Conn.Raw
)

// conn is a logical connection: what database/sql keeps in its free list.
// It holds no physical connection while database/sql does not use it; it
// binds one from the pool on its first operation and gives it back when
// database/sql takes the connection back (IsValid) or closes it.
//
// database/sql serializes every call on a driver connection (driverConn's
// lock), so conn needs no lock of its own.
type conn struct {
	ps  *poolState
	ctr *Connector

	res  *pool.Resource[*pconn] // bound physical connection; nil when unbound
	pc   *pconn                 // res.Value(), when bound
	last *pool.Resource[*pconn] // the one bound last, preferred at the next bind

	// A database that lives in its connection (ps.scoped) keeps its
	// physical connection for the logical connection's whole life: pinned
	// holds it between hand-outs, and lost says it failed (errScopedLost).
	pinned *pool.Resource[*pconn]
	lost   bool

	sessions sessions // the physical sessions used since their last reset (session.go)

	broken        bool         // an operation on the binding failed at the connection level
	inTx          bool         // a transaction is open on the binding
	argsUnchecked bool         // CheckNamedValue accepted arguments unconverted; convert them on use
	epoch         uint64       // counts binds; statements prepared without the cache live for one
	bindStmts     []*ownedStmt // statements prepared in this binding with the cache off
	closed        bool
	ownsConnector bool // made by Driver.Open: Close closes the connector too

	spareRows  rows // reused by wrapRows
	spareInUse bool // spareRows wraps open rows

	lk  connLeak // leak detection's part (leak.go)
	tel connTel  // telemetry's part (telemetry.go)
}

// bind returns the bound physical connection, acquiring one if the logical
// connection holds none. The acquire honours ctx and pool_acquire_timeout;
// the pool pre-pings a connection that sat idle. The inner connection's
// session is reset before reuse, as database/sql would; a reset that reports
// driver.ErrBadConn destroys it and another is taken.
func (c *conn) bind(ctx context.Context) (*pconn, error) {
	if c.pc != nil {
		if !c.enter() {
			return nil, ErrReclaimed
		}
		return c.pc, nil
	}
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if c.lost {
		return nil, errScopedLost
	}
	for {
		res, err := c.acquire(ctx)
		if err != nil {
			c.argsUnchecked = false
			return nil, err
		}
		pc := res.Value()
		if pc.used {
			// database/sql ignores errors from ResetSession other than
			// ErrBadConn; so do we.
			if pc.resetter != nil {
				if err := pc.resetter.ResetSession(ctx); errors.Is(err, driver.ErrBadConn) {
					if c.lose(res); c.lost {
						return nil, errScopedLost
					}
					continue
				}
			}
		}
		if c.ps.resets {
			if pc.mustReset(c) {
				if err := c.ps.resetBound(ctx, pc); err != nil {
					if errors.Is(err, pool.ErrRetire) {
						res.Retire()
					} else {
						res.Destroy()
					}
					c.last = nil
					continue
				}
			}
			c.sessions.use(c.ctr, res, pc)
		}
		if checkBindings {
			pc.claim(c)
		}
		pc.used = true
		c.res, c.pc, c.last = res, pc, res
		c.broken, c.inTx = false, false
		c.epoch++
		if c.lk.on() { // the stack is captured only then
			// The leak detector reclaims through pc.res; it reads it only
			// after Begin, which orders this write before its read.
			pc.res = res
			c.enter() // a borrow that has not begun cannot be reclaimed
			pc.borrow.Begin(res.AcquiredAt(), c.lk.acquireStack())
		}
		return pc, nil
	}
}

// acquire takes the physical connection for a bind: the pinned one of a
// connection-scoped database, else one from the pool, preferring the one
// bound last. The acquire honours ctx and pool_acquire_timeout; an acquire
// timeout names who holds the connections, with leak detection on.
func (c *conn) acquire(ctx context.Context) (*pool.Resource[*pconn], error) {
	if res := c.pinned; res != nil {
		c.pinned = nil
		return res, nil
	}
	res, err := c.ps.pool.AcquirePreferred(ctx, c.last)
	if err != nil && errors.Is(err, ErrAcquireTimeout) {
		err = withHolders(c.ps.leaks, err)
	}
	return res, err
}

// lose destroys a physical connection that turned out broken at bind.
// A connection-scoped database is lost with it.
func (c *conn) lose(res *pool.Resource[*pconn]) {
	res.Destroy()
	c.last = nil
	if c.ps.scoped {
		c.lost = true
		c.ps.logger().Warn("sqlpool: the connection of an in-memory database failed; its data is lost", "pool", c.ps.name)
	}
}

// bindSpan is bind for an operation with span sp, which notes how long the
// operation waited for the physical connection.
func (c *conn) bindSpan(ctx context.Context, sp *tracing.Span) (*pconn, error) {
	if c.pc != nil || !sp.Active() {
		return c.bind(ctx)
	}
	start := time.Now()
	pc, err := c.bind(ctx)
	if err == nil {
		sp.Waited(ctx, time.Since(start))
	}
	return pc, err
}

// unbind gives the physical connection back to the pool, or destroys it
// when its state is unknown: broken, released inside a transaction, or
// reported invalid by the inner driver.
func (c *conn) unbind() {
	c.argsUnchecked = false
	c.lk.handout = handoutNone
	asked := c.tel.done()
	res := c.res
	if res == nil {
		return
	}
	pc := c.pc
	c.tel.used(asked, res.AcquiredAt())
	reclaimed := !c.enter() // never without leak detection
	pc.borrow.End()
	if reclaimed {
		// The leak detector destroyed the physical connection (maybe
		// still is): touch nothing of it.
		clear(c.bindStmts)
		c.bindStmts = c.bindStmts[:0]
		c.res, c.pc, c.last = nil, nil, nil
		c.broken, c.inTx = false, false
		c.lost = c.ps.scoped // its database went with the connection
		return
	}
	c.exit()
	for _, s := range c.bindStmts {
		s.close()
	}
	c.bindStmts = c.bindStmts[:0]
	// A transaction left open makes the session's state unknown; but a
	// connection-scoped database's session is the database, kept as the
	// raw driver would keep it.
	destroy := c.broken || pc.invalid() || c.inTx && !c.ps.scoped
	if checkBindings {
		pc.unclaim(c)
	}
	c.res, c.pc = nil, nil
	c.broken, c.inTx = false, false
	switch {
	case destroy:
		c.lose(res)
	case c.ps.scoped:
		c.pinned = res
	default:
		res.Release()
		if pc.dirty.Load() {
			// A logical connection that used the session was closed while
			// this one held it: reset it now, not at the next hand-out.
			c.ps.pool.Recheck(res)
		}
	}
}

// enter brackets a call into the bound physical connection, so a leaked
// one is never reclaimed mid-call (leak.go); false if it was reclaimed.
func (c *conn) enter() bool { return c.lk.enter(&c.pc.borrow) }

// exit ends what enter began.
func (c *conn) exit() { c.lk.exit(&c.pc.borrow) }

// noteErr inspects an operation's error. A connection-level failure (the
// inner driver says driver.ErrBadConn, or its Validator says the connection
// is gone, or the server said it is read-only or ending the session: see
// evicts) marks the binding broken, so the physical connection is destroyed
// rather than reused, and makes the pool ping every idle connection before
// its next use: when the server went away or was demoted, the others are
// likely gone too. The error reaches the application as it is. A failure
// caused by the caller's context only breaks this connection.
func (c *conn) noteErr(ctx context.Context, err error) error {
	if err == nil || err == driver.ErrSkip || c.pc == nil {
		return err
	}
	if errors.Is(err, driver.ErrBadConn) || c.pc.invalid() || !c.ps.scoped && evicts(err, c.ps.evict) {
		c.broken = true
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			c.ps.pool.SuspectIdle()
		}
		return err
	}
	c.noteInterrupted(ctx)
	return err
}

// noteInterrupted marks the binding broken when ctx ended while an operation
// on it ran and the inner driver cannot tell whether the connection came
// through (it is no driver.Validator): the operation may have been cut off
// mid-protocol, with an answer still on its way, and a connection in an
// unknown state is destroyed, not handed to the next caller. database/sql
// would reuse it. A driver that is a Validator (lib/pq, go-sql-driver/mysql)
// marks itself invalid when an interruption broke it; pgx closes itself.
func (c *conn) noteInterrupted(ctx context.Context) {
	// A connection-scoped database is never given up for this: the
	// connection is the database, and SQLite, in process, has no protocol
	// to fall out of step with.
	if ctx.Err() != nil && c.pc.validator == nil && !c.ps.scoped {
		c.broken = true
	}
}

// plainRows reports whether a query's rows may go to database/sql as the
// inner driver returned them, unwrapped: nothing (leak detection, a span, an
// interruption to notice at Close; see noteInterrupted) needs to see them.
func (c *conn) plainRows(ctx context.Context, pc *pconn, sp *tracing.Span) bool {
	return !c.lk.on() && !sp.Active() && (ctx.Done() == nil || pc.validator != nil)
}

// args converts arguments that CheckNamedValue accepted unconverted, now
// that the inner connection is known and will run the statement itself.
func (c *conn) args(pc *pconn, args []driver.NamedValue) ([]driver.NamedValue, error) {
	if !c.argsUnchecked {
		return args, nil
	}
	c.argsUnchecked = false
	return convertArgs(pc.checker, nil, -1, args)
}

// CheckNamedValue accepts the value as it is; ExecContext and QueryContext
// convert the arguments as database/sql would have for the inner connection
// (its NamedValueChecker, else the default conversion). database/sql calls
// it for an Exec or Query on the connection, without a context and often
// while no physical connection is bound. And only the operation knows
// whether database/sql converts for the connection at all: for an inner
// connection without Execer (Queryer) it prepares a statement instead and
// converts for the statement only, with the statement's NamedValueChecker
// and ColumnConverter, which may accept what the connection's would refuse.
func (c *conn) CheckNamedValue(*driver.NamedValue) error {
	c.argsUnchecked = true
	return nil
}

// ExecContext forwards to the inner ExecerContext (or Execer), or returns
// driver.ErrSkip so database/sql prepares the statement instead.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, sp := c.tel.start(ctx, tracing.OpExec, query, len(args))
	pc, err := c.bindSpan(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer c.exit()
	if pc.execer == nil && pc.legacyExecer == nil {
		// database/sql converts the arguments for the statement it prepares.
		c.argsUnchecked = false
		c.tel.skipped(sp, query)
		return nil, driver.ErrSkip
	}
	if args, err = c.args(pc, args); err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	pc.borrow.Statement(query)
	pc.notePrepare(query)
	var res driver.Result
	if pc.execer != nil {
		res, err = pc.execer.ExecContext(ctx, sp.Comment(query), args)
	} else {
		res, err = execLegacy(ctx, pc.legacyExecer, sp.Comment(query), args)
	}
	if err == driver.ErrSkip {
		c.tel.skipped(sp, query)
		return nil, err
	}
	err = c.noteErr(ctx, err)
	sp.End(ctx, err)
	return res, err
}

// Exec is ExecContext without a context, for code that reaches the logical
// connection through sql.Conn.Raw and calls the legacy driver.Execer
// (go-sql-driver/mysql's tests do). database/sql itself calls ExecContext.
func (c *conn) Exec(query string, args []driver.Value) (driver.Result, error) { //nolint:staticcheck // legacy callers
	return c.ExecContext(context.Background(), query, valuesToNamed(args))
}

// Query is QueryContext without a context, as Exec is ExecContext.
func (c *conn) Query(query string, args []driver.Value) (driver.Rows, error) { //nolint:staticcheck // legacy callers
	return c.QueryContext(context.Background(), query, valuesToNamed(args))
}

// QueryContext forwards to the inner QueryerContext (or Queryer), or returns
// driver.ErrSkip so database/sql prepares the statement instead. The inner
// rows are returned as they are unless something must see them (plainRows,
// rows.go); either way database/sql keeps the connection, and so
// the binding, until they are closed.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, sp := c.tel.start(ctx, tracing.OpQuery, query, len(args))
	pc, err := c.bindSpan(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer c.exit()
	if pc.queryer == nil && pc.legacyQueryer == nil {
		// database/sql converts the arguments for the statement it prepares.
		c.argsUnchecked = false
		c.tel.skipped(sp, query)
		return nil, driver.ErrSkip
	}
	if args, err = c.args(pc, args); err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	pc.notePrepare(query)
	var rows driver.Rows
	if pc.queryer != nil {
		rows, err = pc.queryer.QueryContext(ctx, sp.Comment(query), args)
	} else {
		rows, err = queryLegacy(ctx, pc.legacyQueryer, sp.Comment(query), args)
	}
	if err == driver.ErrSkip {
		c.tel.skipped(sp, query)
		return nil, err
	}
	if err != nil {
		err = c.noteErr(ctx, err)
		sp.End(ctx, err)
		return nil, err
	}
	if c.plainRows(ctx, pc, &sp) {
		return rows, nil
	}
	return c.wrapRows(ctx, pc, rows, query, sp, nil), nil
}

// PrepareContext prepares query on the bound physical connection and returns
// a statement that survives re-binding: it keeps the text and prepares it
// again, lazily, on whatever physical connection it runs on.
//
// After an Exec or Query answered with driver.ErrSkip, database/sql
// prepares the same text here: that preparation, the statement's one
// execution and its close belong to the Exec's (Query's) span, and get no
// span of their own.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	fallback, isFallback := c.tel.takeSkip(query)
	sp := fallback
	if !isFallback {
		ctx, sp = c.tel.start(ctx, tracing.OpPrepare, query, 0)
	}
	pc, err := c.bindSpan(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer c.exit()
	pc.borrow.Statement(query)
	s := newStmt(c, query)
	si, err := s.inner(ctx, pc)
	if err != nil {
		err = c.noteErr(ctx, err)
		sp.End(ctx, err)
		return nil, err
	}
	s.learn(pc, si)
	if isFallback {
		s.fallback = fallback
	} else {
		sp.End(ctx, nil)
	}
	return s, nil
}

// Prepare is PrepareContext without a context.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// BeginTx begins a transaction on the bound physical connection, through
// the inner ConnBeginTx or, without it, as database/sql does: Begin for
// default options, an error otherwise.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	txCtx := ctx // the parent of Commit's and Rollback's spans
	ctx, sp := c.tel.start(ctx, tracing.OpBegin, "", 0)
	pc, err := c.bindSpan(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer c.exit()
	var itx driver.Tx
	if bt, ok := pc.inner.(driver.ConnBeginTx); ok {
		itx, err = bt.BeginTx(ctx, opts)
	} else {
		itx, err = beginLegacy(ctx, pc.inner, opts)
	}
	if err != nil {
		err = c.noteErr(ctx, err)
		sp.End(ctx, err)
		return nil, err
	}
	sp.End(ctx, nil)
	c.inTx = true
	pc.borrow.Tx(c.lk.opStack(0))
	return &tx{c: c, inner: itx, ctx: txCtx}, nil
}

// Begin is BeginTx with default options.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// Ping binds a physical connection (so it reports whether the pool can
// supply one) and pings it if the inner driver is a Pinger.
func (c *conn) Ping(ctx context.Context) error {
	ctx, sp := c.tel.start(ctx, tracing.OpPing, "", 0)
	pc, err := c.bindSpan(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return err
	}
	defer c.exit()
	if p, ok := pc.inner.(driver.Pinger); ok {
		err = c.noteErr(ctx, p.Ping(ctx))
	}
	sp.End(ctx, err)
	return err
}

// ResetSession is called by database/sql before it reuses the connection.
// The logical connection is unbound by then (IsValid unbound it), and the
// inner session is reset at the next bind instead. With leak detection on,
// it notes where the application took the connection.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	c.lk.handedOut()
	return nil
}

// IsValid is called by database/sql when it takes the connection back. It
// gives the physical connection back to the pool; the logical one stays
// valid until it is closed.
func (c *conn) IsValid() bool {
	c.unbind()
	return !c.closed && !c.lost
}

// Close gives back any bound physical connection. It never closes a physical
// connection that works, the pool owns those; but every session the logical
// connection used is reset before anyone uses it again (session.go), and a
// connection-scoped database's connection, its database, is closed with it.
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.unbind()
	c.closed = true
	if res := c.pinned; res != nil {
		c.pinned = nil
		res.Retire()
	}
	c.sessions.forget(c.ps.pool)
	if c.ownsConnector {
		return c.ctr.Close()
	}
	return nil
}

// Unwrap returns the inner driver's connection behind a connection given to
// the callback of sql.Conn.Raw, binding a physical connection if the logical
// one holds none yet (bounded by pool_acquire_timeout). A value that is not a
// sqlpool connection is returned as is when it is a driver.Conn, so the same
// code works with and without sqlpool. The inner connection belongs to the
// sql.Conn: use it only inside the Raw callback.
//
//	err := sqlConn.Raw(func(dc any) error {
//		inner, err := sqlpool.Unwrap(dc)
//		if err != nil {
//			return err
//		}
//		pgxConn := inner.(*stdlib.Conn).Conn()
//		...
//	})
func Unwrap(driverConn any) (driver.Conn, error) {
	return UnwrapContext(context.Background(), driverConn)
}

// UnwrapContext is Unwrap with a context bounding the wait for a physical
// connection.
func UnwrapContext(ctx context.Context, driverConn any) (driver.Conn, error) {
	switch c := driverConn.(type) {
	case *conn:
		pc, err := c.bind(ctx)
		if err != nil {
			return nil, err
		}
		return pc.inner, nil
	case driver.Conn:
		return c, nil
	}
	return nil, errors.New("sqlpool: Unwrap: not a driver connection")
}

// wrapRows records that statement opened inner and returns the wrapper,
// reusing the connection's spare one when it is free: most connections
// have one result open at a time, and a query should not allocate for it.
// Not inlined, so the frames opStack skips are known.
//
//go:noinline
func (c *conn) wrapRows(ctx context.Context, pc *pconn, inner driver.Rows, statement string, sp tracing.Span, cs *cachedStmt) driver.Rows {
	pc.borrow.Rows(c.lk.opStack(1), statement)
	r := &c.spareRows
	if c.spareInUse {
		r = new(rows)
	}
	c.spareInUse = c.spareInUse || r == &c.spareRows
	*r = rows{c: c, pc: pc, inner: inner, ctx: ctx, sr: spanRows{span: sp}, cs: cs}
	if cs != nil {
		cs.open++
	}
	return r
}
