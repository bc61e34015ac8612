package sqlpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"github.com/sqlpool/sqlpool/internal/redact"
	"github.com/sqlpool/sqlpool/leakdetect"
	"github.com/sqlpool/sqlpool/pool"
	"github.com/sqlpool/sqlpool/internal/tracing"
)

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

var (
	poolErrAcquireTimeout = pool.ErrAcquireTimeout
	poolErrUnavailable    = pool.ErrUnavailable
	poolErrClosed         = pool.ErrClosed
)

// poolState is one pool of physical connections and what it needs to make
// them. Connectors share one only when asked to (pool_share, pool_name).
type poolState struct {
	name      string
	innerName string
	kind      driverKind
	scoped    bool // the database lives in its connection (kind.connScoped): each logical connection pins a physical one
	resets    bool // sessions are reset before they serve a logical connection that must not see them (session.go)
	// PostgreSQL with resets on: statements are watched for SQL's PREPARE
	// (notePrepare), and pool_init_sql holds one (initPrepares).
	watchPrepare, initPrepares bool
	cfg                        config
	inner                      driver.Connector
	pool                       *pool.Pool[*pconn]
	leak                       *leakdetect.Detector // nil: leak detection is off
	tel                        *tracing.Telemetry   // nil: pool_tracing=false
	// resolveSystem: the first dial asks a MySQL-protocol server whether it is MariaDB.
	resolveSystem atomic.Bool
	secrets       []string // passwords in the inner DSN, scrubbed from dial errors
	initSQL       []string // pool_init_sql as the Execs that run it (initBatches)
	// The server's bound on each connection's statement cache (MySQL's
	// max_prepared_stmt_count shared out), plus one; 0 while unknown.
	stmtLimit     atomic.Int64
	stmtLimitOnce sync.Once
	resetCount    atomic.Int64

	key      string // registry key; "" for a pool of one connector's own
	identity string // driver name and DSN of a shared pool, which every sharer must have
	refs     int    // open Connectors of a shared pool; guarded by registry.mu

	// For Snapshot (snapshot.go).
	target  dbtarget.Target // the database, as the DSN names it; no user or password
	opened  uint64          // order of opening, for Stats and Snapshots; guarded by openPools.mu
	connSeq atomic.Uint64   // numbers physical connections while leak detection is off
	hist    history         // the last minutes of the gauges, once RecordHistory was called
}

var poolSeq atomic.Int64

// poolOrigin is what a pool knows of its database before it dials.
type poolOrigin struct {
	innerName string          // the inner driver's name; for Wrap, the type of its driver
	kind      driverKind      // what the inner driver is
	scoped    bool            // the database lives in its connection
	target    dbtarget.Target // the database, as the DSN names it
	secrets   []string        // the passwords in the inner DSN, set before the first dial (pool_min_conns dials at once)
}

func newPoolState(o poolOrigin, inner driver.Connector, cfg config) (*poolState, error) {
	ps := &poolState{
		innerName: o.innerName, kind: o.kind, scoped: o.scoped, resets: resetsSessions(&cfg, o), cfg: cfg, inner: inner,
		name: cfg.name, secrets: o.secrets, target: o.target,
	}
	if ps.name == "" {
		ps.name = fmt.Sprintf("%s#%d", o.innerName, poolSeq.Add(1))
	}
	ps.initSQL = initBatches(o.kind, cfg.initSQL)
	ps.watchPrepare = ps.resets && o.kind.postgres()
	ps.initPrepares = ps.watchPrepare && slices.ContainsFunc(cfg.initSQL, mayPrepare)
	if err := ps.newTelemetry(o.target); err != nil {
		return nil, fmt.Errorf("sqlpool: OpenTelemetry: %w", err)
	}
	// Before the pool, whose first dials (pool_min_conns) track their
	// connections with it.
	if err := ps.newDetector(); err != nil {
		return nil, err
	}
	p, err := pool.New(pool.Config[*pconn]{
		Name:              ps.name,
		Constructor:       ps.dial,
		Permanent:         func(err error) bool { return permanentDialError(ps.kind, err) },
		Destructor:        (*pconn).close,
		Check:             ps.ping,
		MaxSize:           cfg.maxConns,
		MinSize:           cfg.minConns,
		MinIdle:           cfg.minIdleConns,
		MaxLifetime:       cfg.maxConnLifetime,
		MaxLifetimeJitter: cfg.lifetimeJitter(),
		MaxIdleTime:       cfg.maxConnIdleTime,
		HealthCheckPeriod: cfg.healthCheckPeriod,
		AcquireTimeout:    cfg.acquireTimeout,
		CheckIdleAfter:    cfg.pingIdleAfter,
		CheckTimeout:      cfg.pingTimeout,
		// A dial that takes longer than anyone would wait for it is useless.
		ConstructTimeout: cfg.acquireTimeout,
		FIFO:             cfg.reuseFIFO,
	})
	if err != nil {
		if ps.leak != nil {
			ps.leak.Close()
		}
		ps.tel.Close()
		return nil, fmt.Errorf("sqlpool: %w", err)
	}
	ps.pool = p
	openPools.add(ps)
	if err := ps.observePool(); err != nil {
		ps.close()
		return nil, fmt.Errorf("sqlpool: OpenTelemetry: %w", err)
	}
	return ps, nil
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
		ps.dialed(ctx, ic, sp.Elapsed())
		sp.End(ctx, nil)
	}
	if err := ps.initSession(ctx, ic); err != nil {
		ic.Close()
		return nil, redact.Error(err, ps.secrets)
	}
	pc := newPconn(ic, ps)
	pc.sqlPrepared = ps.initPrepares
	if n := ps.stmtCacheSize(ctx, ic); n > 0 {
		pc.stmts = newStmtCache(n)
	}
	if ps.leak != nil {
		ps.leak.Track(&pc.leak, pc.reclaim)
		pc.id = pc.leak.ID() // the number leak reports show
	} else {
		pc.id = ps.connSeq.Add(1)
	}
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
		return ps.resetSession(ctx, pc)
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

func (ps *poolState) close() {
	openPools.remove(ps)
	ps.pool.Close()
	if ps.leak != nil {
		ps.leak.Close()
	}
	ps.tel.Close()
}

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

	// With leak detection on: the current borrow, and the resource it is
	// held as (set at each bind; the leak detector reclaims through it).
	leak leakdetect.Borrow
	res  *pool.Resource[*pconn]

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
	if pc.ps.leak != nil {
		pc.ps.leak.Untrack(&pc.leak)
	}
	if pc.stmts != nil {
		pc.stmts.closeAll()
	}
	pc.inner.Close()
}

// Connector is a driver.Connector on a sqlpool pool, for sql.OpenDB. Close it
// (DB.Close does) to drop its share of the pool.
type Connector struct {
	ps        *poolState
	drv       driver.Driver
	closeOnce sync.Once
}

// NewConnector returns a connector on a new pool for dsn, which has the same
// form as for sql.Open("sqlpool", dsn). Options apply before the DSN's pool_*
// parameters. Use it with sql.OpenDB; DB.Close closes the pool.
func NewConnector(dsn string, opts ...Option) (*Connector, error) {
	d := &Driver{name: DriverName, opts: opts}
	spec, err := d.parse(dsn)
	if err != nil {
		return nil, err
	}
	spec.cfg.share = false // a pool of its own, always
	ps, err := spec.open()
	if err != nil {
		return nil, err
	}
	return &Connector{ps: ps, drv: d}, nil
}

// Wrap returns a connector on a new pool of connections made by inner, for
// drivers configured in code (pgx's stdlib.GetConnector, mysql.NewConnector).
// Use it with sql.OpenDB; DB.Close closes the pool.
func Wrap(inner driver.Connector, opts ...Option) (*Connector, error) {
	if inner == nil {
		return nil, errors.New("sqlpool: Wrap needs an inner connector")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := kindOf(inner.Driver())
	cfg.forDriver(k)
	name := fmt.Sprintf("%T", inner.Driver())
	ps, err := newPoolState(poolOrigin{innerName: name, kind: k, target: dbtarget.Target{System: k.system()}}, inner, cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{ps: ps, drv: &Driver{name: DriverName}}, nil
}

// Connect returns a logical connection. It does not dial: the connection
// borrows a physical one from the pool on its first operation.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	sc := c.newConn()
	if sc.ps.leak != nil {
		// database/sql hands a new connection out without ResetSession.
		sc.noteHandout()
	}
	return sc, nil
}

func (c *Connector) newConn() *conn {
	return &conn{ps: c.ps, ctr: c, guarded: c.ps.leak != nil && c.ps.cfg.leakReclaim}
}

// Driver returns the sqlpool driver.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Close drops this connector's share of its pool; the last share closes the
// pool, closing idle physical connections at once and the others when they
// are released. It is idempotent and does not wait for connections in use.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		ps := c.ps
		if ps.key == "" {
			ps.close()
			return
		}
		registry.mu.Lock()
		ps.refs--
		last := ps.refs == 0
		if last {
			delete(registry.pools, ps.key)
		}
		registry.mu.Unlock()
		if last {
			ps.close()
		}
	})
	return nil
}

// Stat returns a snapshot of the connector's pool.
func (c *Connector) Stat() Stat { return c.ps.stat() }

// Stat is a snapshot of a sqlpool pool: its name and the pool package's
// gauges and counters.
type Stat struct {
	Name string
	pool.Stat

	// Leaks counts the connections reported as held longer than
	// pool_leak_threshold (each once). Those reclaimed are counted in
	// Destroyed, as pool.ReasonReclaimed.
	Leaks int64

	// Resets counts the sessions reset by a statement before they served
	// a logical connection that must not see their state
	// (pool_reset_session). Those replaced by a new connection instead are
	// counted in Destroyed, as pool.ReasonRetired.
	Resets int64
}

func (ps *poolState) stat() Stat {
	s := Stat{Name: ps.name, Stat: ps.pool.Stat(), Resets: ps.resetCount.Load()}
	if ps.leak != nil {
		s.Leaks = ps.leak.Leaks()
	}
	return s
}

// DBStat returns a snapshot of the pool under db. It takes a logical
// connection from db for a moment (which dials nothing) and fails if db is
// not a sqlpool database.
func DBStat(ctx context.Context, db *sql.DB) (Stat, error) {
	ps, err := dbPool(ctx, db, "DBStat")
	if err != nil {
		return Stat{}, err
	}
	return ps.stat(), nil
}

// Stats returns a snapshot of every sqlpool pool of the process that is still
// open, whether opened through sql.Open, NewConnector or Wrap, ordered by
// name, for dashboards and diagnostics. Snapshots says more.
func Stats() []Stat {
	states := openPools.list()
	out := make([]Stat, 0, len(states))
	for _, ps := range states {
		out = append(out, ps.stat())
	}
	return out
}
