package sqlpool

import (
	"database/sql/driver"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"github.com/sqlpool/sqlpool/internal/leak"
	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/pool"
)

// One pool: the pool package's pool of physical connections (pconn.go),
// and what the pool needs to make, check and close them, shared by the
// pool's Connectors.

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
	leaks                      *leak.Detector     // nil: leak detection is off (its methods are no-ops then)
	tel                        *tracing.Telemetry // nil: pool_tracing=false
	// resolveSystem: the first dial asks a MySQL-protocol server whether it is MariaDB.
	resolveSystem atomic.Bool
	secrets       []string // passwords in the inner DSN, scrubbed from dial errors
	initSQL       []string // pool_init_sql as the Execs that run it (initBatches)
	// The server's bound on each connection's statement cache (MySQL's
	// max_prepared_stmt_count shared out), plus one; 0 while unknown.
	stmtLimit     atomic.Int64
	stmtLimitOnce sync.Once
	resetCount    atomic.Int64
	// Advice.ServerLimit: how many connections the server accepts from
	// the pool's user (advice.go); 0 while unknown. limitState is
	// limitUnread, limitReading or limitRead.
	serverLimit atomic.Int64
	limitState  atomic.Int32
	alerts      alerts          // the pool's alerts (alerts.go)
	evict       map[string]bool // pool_evict_codes (failover.go)

	key      string // registry key; "" for a pool of one connector's own
	identity string // driver name and DSN of a shared pool, which every sharer must have
	refs     int    // open Connectors of a shared pool; guarded by pools.mu

	// For Snapshot (snapshot.go).
	target  dbtarget.Target // the database, as the DSN names it; no user or password
	opened  uint64          // order of opening, for Snapshots; guarded by pools.mu
	connSeq atomic.Uint64   // numbers the pool's physical connections from 1, as Snapshots and leak reports show them
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
	if cfg.requireWritable && o.kind.readOnlyQuery() == "" {
		return nil, fmt.Errorf("sqlpool: pool_require_writable=true: sqlpool knows how to ask PostgreSQL, MySQL and MariaDB whether they accept writes, not %s; drop pool_require_writable", o.innerName)
	}
	ps.evict = evictSet(cfg.evictCodes)
	ps.initSQL = initBatches(o.kind, cfg.initSQL)
	ps.watchPrepare = ps.resets && o.kind.postgres()
	ps.initPrepares = ps.watchPrepare && slices.ContainsFunc(cfg.initSQL, mayPrepare)
	tel, err := newTelemetry(&cfg, ps.name, o.kind, o.target)
	if err != nil {
		return nil, fmt.Errorf("sqlpool: OpenTelemetry: %w", err)
	}
	ps.tel = tel
	ps.resolveSystem.Store(tel != nil && o.target.System == "mysql")
	// Before the pool, whose first dials (pool_min_conns) track their
	// connections with it.
	if ps.leaks, err = newDetector(&cfg, ps.name, o.kind); err != nil {
		ps.tel.Close()
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
		ps.leaks.Close()
		ps.tel.Close()
		return nil, fmt.Errorf("sqlpool: %w", err)
	}
	ps.pool = p
	if err := observePool(ps.tel, p, ps.leaks, ps.alertGauges); err != nil {
		ps.close()
		return nil, fmt.Errorf("sqlpool: OpenTelemetry: %w", err)
	}
	return ps, nil
}

func (ps *poolState) close() {
	ps.pool.Close()
	ps.leaks.Close()
	ps.tel.Close()
}

// logger returns the pool's logger (WithLogger), or slog's default now.
func (ps *poolState) logger() *slog.Logger {
	if l := ps.cfg.logger; l != nil {
		return l
	}
	return slog.Default()
}

// resetsSessions reports whether a pool resets sessions at all: on by
// default (pool_reset_session), never for a database that lives in its
// connection (its session is the database, pinned to one logical
// connection), and not for sqlmock, whose connections have no session,
// unless a reset query is set.
func resetsSessions(cfg *config, o poolOrigin) bool {
	return cfg.resetSession && !o.scoped && (o.kind != kindSQLMock || cfg.resetQuery != "")
}
