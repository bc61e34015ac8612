package sqlpool

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/leakdetect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The pool's configuration: config, its defaults, its validation, and the
// Go options that set it. The table of settings (settings.go) reads the
// DSN's pool_* parameters into it.

// config holds a pool's settings. The zero value is not meaningful: start
// from defaultConfig, apply Options, then DSN parameters, then validate.
type config struct {
	name                  string                  // pool_name; "" means derived from the DSN. Set: sql.Opens of the same DSN and name share one pool
	share                 bool                    // pool_share: sql.Opens of the same DSN share one pool
	maxConns              int                     // pool_max_conns, 1..maxPoolConns
	minConns              int                     // pool_min_conns, 0..maxConns
	minIdleConns          int                     // pool_min_idle_conns, 0..maxConns
	maxConnLifetime       time.Duration           // pool_max_conn_lifetime; 0 means unlimited
	maxConnLifetimeJitter time.Duration           // pool_max_conn_lifetime_jitter; 0 means none
	maxConnIdleTime       time.Duration           // pool_max_conn_idle_time; 0 means unlimited
	healthCheckPeriod     time.Duration           // pool_health_check_period; 0 means no background checks
	acquireTimeout        time.Duration           // pool_acquire_timeout; 0 means only the context bounds the wait
	pingIdleAfter         time.Duration           // pool_ping_idle_after; 0 means ping before every hand-out; < 0 (Go only) never
	pingTimeout           time.Duration           // pool_ping_timeout; 0 means no timeout
	validationQuery       string                  // pool_validation_query; "" means use driver.Pinger only
	requireWritable       bool                    // pool_require_writable: every validation also checks that the server accepts writes (failover.go)
	evictCodes            []string                // pool_evict_codes: server error codes, besides evictSQLStates and evictMySQLErrors, that destroy their connection
	leakThreshold         time.Duration           // pool_leak_threshold; 0 means leak detection is off
	leakReclaim           bool                    // pool_leak_reclaim: close a leaked connection's physical connection
	onLeak                func(leakdetect.Report) // Go only; nil means log only
	reuseFIFO             bool                    // pool_reuse=fifo; default lifo
	stmtCacheSize         int                     // pool_stmt_cache_size; 0 means statements live only for one hand-out
	logger                *slog.Logger            // Go only; nil means slog.Default()

	// Alerts (alerts.go).
	alertUtilization float64       // pool_alert_utilization: share of pool_max_conns in use that fires the utilization alert; 0 means off
	alertWait        time.Duration // pool_alert_wait: p99 wait that fires the wait alert; 0 means off
	alertWindow      time.Duration // pool_alert_window: the span every alert reads; 0 turns alerts off
	onAlert          func(Alert)   // Go only; nil means log only

	// Sessions (session.go).
	resetSession bool                                           // pool_reset_session: reset a session before it serves a connection that must not see it
	resetQuery   string                                         // pool_reset_query; "" means the database's own reset (PostgreSQL: DISCARD ALL; others: a new connection)
	initSQL      []string                                       // pool_init_sql: statements run on every new session, in order; nil means none
	afterConnect func(ctx context.Context, c driver.Conn) error // Go only; nil means none; runs after initSQL

	// beforeConnect (Go only) returns the inner DSN each dial uses; nil
	// means the DSN as opened.
	beforeConnect func(ctx context.Context, innerDSN string) (string, error)

	// OpenTelemetry (telemetry.go).
	tracingOff     bool                 // pool_tracing=false: no spans, no metrics
	queryText      QueryText            // pool_trace_query_text
	sqlCommenter   bool                 // pool_sqlcommenter
	tracerProvider trace.TracerProvider // Go only; nil means the global one
	meterProvider  metric.MeterProvider // Go only; nil means the global one

	// set records which settings were given, by an Option or in the DSN,
	// one bit per settingID: where a default depends on others (the
	// jitter on the lifetime, the statement cache on the driver), or an
	// error says the value is the default (pool_max_conns).
	set uint64
}

// Defaults, in one place; settings.go writes them as the README shows them.
const (
	defaultMaxConnLifetime   = time.Hour
	defaultMaxConnIdleTime   = 30 * time.Minute
	defaultHealthCheckPeriod = time.Minute
	defaultAcquireTimeout    = 30 * time.Second
	defaultPingIdleAfter     = time.Second
	defaultPingTimeout       = 5 * time.Second
	defaultStmtCacheSize     = 256

	// defaultLeakThreshold is long enough that a transaction or a sql.Conn
	// held on purpose is rarely reported (HikariCP's users advise a minute
	// or more), and short enough that a leak is named within minutes of the
	// pool starting to run dry. The README justifies it with measurements.
	defaultLeakThreshold = 2 * time.Minute

	// The alerts' defaults are HikariCP's operating advice: alert when
	// utilization stays above 80% or waits pass a threshold; a window of a
	// minute is sustained without hiding an incident for long.
	defaultAlertUtilization = 0.8
	defaultAlertWait        = 250 * time.Millisecond
	defaultAlertWindow      = time.Minute
)

// maxPoolConns bounds pool_max_conns, and so pool_min_conns and
// pool_min_idle_conns, which are all dialed at once when the pool opens: it
// is as many connections as MySQL accepts at most (PostgreSQL's default is
// 100), and a pool told to keep a billion open would run out of memory
// starting them.
const maxPoolConns = 100000

// defaultMaxConns is HikariCP's default, 10, or the number of CPUs where
// there are more (pgxpool's max(4, NumCPU) throttled code that ran on
// database/sql's unlimited default into timeouts: a goroutine holding five
// Rows at once).
func defaultMaxConns() int { return max(10, runtime.NumCPU()) }

func defaultConfig() config {
	return config{
		maxConns:          defaultMaxConns(),
		maxConnLifetime:   defaultMaxConnLifetime,
		maxConnIdleTime:   defaultMaxConnIdleTime,
		healthCheckPeriod: defaultHealthCheckPeriod,
		acquireTimeout:    defaultAcquireTimeout,
		pingIdleAfter:     defaultPingIdleAfter,
		pingTimeout:       defaultPingTimeout,
		stmtCacheSize:     defaultStmtCacheSize,
		leakThreshold:     defaultLeakThreshold,
		resetSession:      true,
		alertUtilization:  defaultAlertUtilization,
		alertWait:         defaultAlertWait,
		alertWindow:       defaultAlertWindow,
	}
}

// lifetimeJitter returns the jitter in force: the explicit one, or a tenth of
// the lifetime, so connections opened together do not all expire together.
func (c *config) lifetimeJitter() time.Duration {
	if c.isSet(sMaxConnLifetimeJitter) {
		return c.maxConnLifetimeJitter
	}
	return c.maxConnLifetime / 10
}

// Option sets a pool setting from Go. Options given to Register or
// NewConnector are applied first; pool_* parameters in the DSN override them.
type Option func(*config)

// forDriver adjusts the defaults that depend on the inner driver.
func (c *config) forDriver(k driverKind) {
	if !c.isSet(sStmtCacheSize) && k.inProcess() {
		c.stmtCacheSize = 0
	}
}

// WithMaxConns sets the hard cap on physical connections (pool_max_conns),
// 1 to 100000. Default max(10, number of CPUs).
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = n; c.mark(sMaxConns) } }

// WithMinConns sets how many physical connections are kept open (pool_min_conns).
// Default 0.
func WithMinConns(n int) Option { return func(c *config) { c.minConns = n } }

// WithMinIdleConns sets how many idle physical connections are kept ready
// (pool_min_idle_conns). Default 0.
func WithMinIdleConns(n int) Option { return func(c *config) { c.minIdleConns = n } }

// WithMaxConnLifetime sets how long a physical connection lives before it is
// replaced (pool_max_conn_lifetime); 0 means forever. Default 1h.
func WithMaxConnLifetime(d time.Duration) Option {
	return func(c *config) { c.maxConnLifetime = d }
}

// WithMaxConnLifetimeJitter sets the random extra 0..d added to each
// connection's lifetime (pool_max_conn_lifetime_jitter); 0 means none.
// Default lifetime ÷ 10.
func WithMaxConnLifetimeJitter(d time.Duration) Option {
	return func(c *config) { c.maxConnLifetimeJitter = d; c.mark(sMaxConnLifetimeJitter) }
}

// WithMaxConnIdleTime sets how long a physical connection may sit idle before
// it is closed, never below the minimum (pool_max_conn_idle_time); 0 means
// forever. Default 30m.
func WithMaxConnIdleTime(d time.Duration) Option {
	return func(c *config) { c.maxConnIdleTime = d }
}

// WithHealthCheckPeriod sets how often idle connections are checked, retired
// and refilled in the background (pool_health_check_period); 0 means never.
// Default 1m.
func WithHealthCheckPeriod(d time.Duration) Option {
	return func(c *config) { c.healthCheckPeriod = d }
}

// WithAcquireTimeout sets how long an operation waits for a physical
// connection (pool_acquire_timeout); 0 means only its context bounds it.
// Default 30s.
func WithAcquireTimeout(d time.Duration) Option {
	return func(c *config) { c.acquireTimeout = d }
}

// WithPingIdleAfter sets how long a connection must have been idle to be
// pinged before hand-out (pool_ping_idle_after); 0 means always, < 0 never.
// Default 1s.
func WithPingIdleAfter(d time.Duration) Option {
	return func(c *config) { c.pingIdleAfter = d }
}

// WithPingTimeout bounds each validation ping (pool_ping_timeout); 0 means no
// bound beyond the operation's context. Default 5s.
func WithPingTimeout(d time.Duration) Option {
	return func(c *config) { c.pingTimeout = d }
}

// WithValidationQuery sets the statement that validates a connection whose
// driver has no driver.Pinger (pool_validation_query), for example "SELECT 1".
// Default none: driver.Pinger only.
func WithValidationQuery(q string) Option { return func(c *config) { c.validationQuery = q } }

// WithRequireWritable makes every validation of a connection also check
// that its server accepts writes (pool_require_writable=true): the pre-ping
// of an idle connection, the keepalive, the check of the whole pool after a
// connection failed, and each new dial. A connection to a read-only server
// (a standby, or a demoted primary after a failover) is closed, not handed
// out, and dials go on, with the pool's backoff, until one reaches a
// writable server. It asks PostgreSQL for pg_is_in_recovery() and
// transaction_read_only, MySQL and MariaDB for @@global.read_only and
// @@global.innodb_read_only, as the ping's one round trip. Default false.
func WithRequireWritable(on bool) Option { return func(c *config) { c.requireWritable = on } }

// WithEvictCodes adds server error codes to those that close the connection
// an operation failed on, and make the pool check the idle ones before
// their next use (pool_evict_codes): PostgreSQL SQLSTATEs (five
// characters) or classes (two), MySQL error numbers. The read-only and
// connection-fatal codes are always evicted ([Failover] in the README lists
// them). Default none.
func WithEvictCodes(codes ...string) Option {
	return func(c *config) { c.evictCodes = slices.Clone(codes) }
}

// WithBeforeConnect sets a function that returns the inner DSN each new
// physical connection dials with, given the DSN the pool was opened with:
// the home of credentials that expire (an IAM authentication token, a
// Vault lease as the password). It runs on the goroutine that dials, with
// the dial's context (bounded by pool_acquire_timeout); an error fails
// that dial, which the pool retries with its backoff. Connections already
// open keep the credentials they dialed with: call Reset to replace them
// at once. It works for every driver that sqlpool opens by name; a
// connector given to Wrap dials as it is configured (pgx's stdlib has
// OptionBeforeConnect for that). Default none.
func WithBeforeConnect(f func(ctx context.Context, innerDSN string) (string, error)) Option {
	return func(c *config) { c.beforeConnect = f }
}

// WithLeakThreshold sets how long an application may hold a connection before
// it is reported as a leak (pool_leak_threshold); 0 turns leak detection off.
// Default 2m.
func WithLeakThreshold(d time.Duration) Option {
	return func(c *config) { c.leakThreshold = d }
}

// WithLeakReclaim makes the pool take back the physical connection of a
// reported leak (pool_leak_reclaim=true): it is closed and its slot freed,
// and the application's next use of the leaked handle fails with
// ErrReclaimed. Default false: leaks are only reported.
func WithLeakReclaim(reclaim bool) Option {
	return func(c *config) { c.leakReclaim = reclaim }
}

// WithOnLeak sets a function that receives each leak report, besides the log
// line. It runs on the pool's leak-scanning goroutine and should return
// quickly. Default none.
func WithOnLeak(f func(leakdetect.Report)) Option {
	return func(c *config) { c.onLeak = f }
}

// WithAlertUtilization sets the share of pool_max_conns in use, 0 to 1,
// whose mean over pool_alert_window fires the utilization alert
// (pool_alert_utilization); 0 turns that alert off. Default 0.8.
func WithAlertUtilization(share float64) Option {
	return func(c *config) { c.alertUtilization = share }
}

// WithAlertWait sets the p99 wait for a connection, over pool_alert_window,
// that fires the wait alert (pool_alert_wait); 0 turns that alert off.
// Default 250ms.
func WithAlertWait(d time.Duration) Option {
	return func(c *config) { c.alertWait = d }
}

// WithAlertWindow sets the span of history every alert reads, and the
// least time between two changes of one alert (pool_alert_window); 0 turns
// the pool's alerts off. Default 1m.
func WithAlertWindow(d time.Duration) Option {
	return func(c *config) { c.alertWindow = d }
}

// WithOnAlert sets a function that receives each alert as it fires and as
// it clears, besides the log line. It runs on the goroutine that samples
// the pools and should return quickly. Default none.
func WithOnAlert(f func(Alert)) Option {
	return func(c *config) { c.onAlert = f }
}

// WithName names the pool in errors, logs and metrics (pool_name). Through
// sql.Open, every sql.DB opened with the same DSN and the same explicit
// name shares one pool; a second DSN under a name in use fails to open.
// Default driver name and a number.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithShare makes every sql.Open of the same driver name and DSN share one
// pool, closed with the last of their sql.DBs (pool_share=true). Default
// false: each sql.DB has a pool of its own, as with every other pool, so
// that components the application keeps apart stay apart (a leak in one
// cannot starve another). A database that lives in its connection (SQLite
// :memory:) is never shared. It applies to sql.Open and Driver.OpenConnector;
// NewConnector and Wrap always make a pool of their own.
func WithShare(share bool) Option { return func(c *config) { c.share = share } }

// WithResetSession turns the session reset on (the default) or off
// (pool_reset_session). On, a physical connection's session is reset
// before it serves a logical connection that must not see it: once
// database/sql closed the logical connection that used it, or, in a shared
// pool, for another sql.DB. Off, sessions carry their state (temporary
// tables, SET, advisory locks, LISTEN, prepared statements, held cursors)
// to whoever gets the physical connection next, as in a pooler's
// transaction mode. Default true.
func WithResetSession(on bool) Option { return func(c *config) { c.resetSession = on } }

// WithResetQuery sets the statements that reset a session
// (pool_reset_query), instead of the database's own reset: on PostgreSQL
// DISCARD ALL, elsewhere a new connection, since MySQL's and SQLite's
// sessions have no statement that clears all their state. It runs as one
// Exec without arguments. Default none.
func WithResetQuery(q string) Option { return func(c *config) { c.resetQuery = q } }

// WithInitSQL sets statements run, in order, on every new session: after
// each dial and after each session reset (pool_init_sql, where several are
// separated by ";"). It is the home of session settings that must hold on
// every connection (SET search_path, SET statement_timeout, PRAGMA
// foreign_keys = ON), since the pool replaces connections and resets
// sessions. A statement that fails fails the dial. Default none.
func WithInitSQL(stmts ...string) Option {
	return func(c *config) { c.initSQL = slices.Clone(stmts) }
}

// WithAfterConnect sets a function called with the inner driver's
// connection on every new session, after the statements of WithInitSQL:
// after each dial and after each session reset. An error fails the dial
// (or the reset, which destroys the connection). It runs on the goroutine
// that dials or resets, with a context bounded by pool_acquire_timeout (a
// dial) or pool_ping_timeout (a reset). Default none.
func WithAfterConnect(f func(ctx context.Context, c driver.Conn) error) Option {
	return func(c *config) { c.afterConnect = f }
}

// WithFIFOReuse hands out the least recently used idle connection first
// (pool_reuse=fifo) instead of the most recently used (lifo, the default).
// Default lifo.
func WithFIFOReuse(fifo bool) Option { return func(c *config) { c.reuseFIFO = fifo } }

// WithStmtCacheSize bounds the prepared statements kept per physical
// connection (pool_stmt_cache_size); 0 means a statement is prepared again on
// each hand-out and closed when the hand-out ends. Default 256, 0 for SQLite.
func WithStmtCacheSize(n int) Option {
	return func(c *config) { c.stmtCacheSize = n; c.mark(sStmtCacheSize) }
}

// WithLogger sets the logger for the pool's reports (leaks, and leaked
// connections returning). Default slog.Default(), read when a report is made.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTracing turns sqlpool's OpenTelemetry spans and metrics on (the
// default) or off entirely (pool_tracing). Default true.
func WithTracing(on bool) Option { return func(c *config) { c.tracingOff = !on } }

// WithTracerProvider makes the pool's spans with tp instead of the global
// tracer provider. Default the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider makes the pool's metrics with mp instead of the global
// meter provider. Default the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// QueryText says what db.query.text shows on spans (pool_trace_query_text).
type QueryText uint8

// What db.query.text shows.
const (
	// QueryTextAuto, the default, shows statements with arguments as they
	// are (their literals are the application's, not data) and others
	// with their literals replaced by "?".
	QueryTextAuto QueryText = iota
	// QueryTextSanitized replaces literals by "?" in every statement.
	QueryTextSanitized
	// QueryTextOff shows no statement text.
	QueryTextOff
)

var queryTextNames = [...]string{"auto", "sanitized", "off"}

// String returns the name pool_trace_query_text takes: "auto",
// "sanitized" or "off".
func (q QueryText) String() string {
	if int(q) < len(queryTextNames) {
		return queryTextNames[q]
	}
	return "QueryText(" + strconv.Itoa(int(q)) + ")"
}

// tracing is q as package tracing has it.
func (q QueryText) tracing() tracing.QueryText {
	switch q {
	case QueryTextSanitized:
		return tracing.QueryTextSanitized
	case QueryTextOff:
		return tracing.QueryTextOff
	}
	return tracing.QueryTextAuto
}

// WithQueryText says what db.query.text shows on spans
// (pool_trace_query_text). Default auto.
func WithQueryText(q QueryText) Option { return func(c *config) { c.queryText = q } }

// WithSQLCommenter appends the span's traceparent to Exec and Query
// statements as a comment (pool_sqlcommenter), so the database's own logs
// can be joined to the trace. Prepared statements do not get it.
// Default false.
func WithSQLCommenter(on bool) Option { return func(c *config) { c.sqlCommenter = on } }

// settingID indexes settings; config.set records which were given.
type settingID uint8

const (
	sMaxConns settingID = iota
	sMinConns
	sMinIdleConns
	sMaxConnLifetime
	sMaxConnLifetimeJitter
	sMaxConnIdleTime
	sHealthCheckPeriod
	sAcquireTimeout
	sPingIdleAfter
	sPingTimeout
	sValidationQuery
	sRequireWritable
	sEvictCodes
	sReuse
	sStmtCacheSize
	sLeakThreshold
	sLeakReclaim
	sOnLeak
	sLogger
	sAlertUtilization
	sAlertWait
	sAlertWindow
	sOnAlert
	sName
	sShare
	sResetSession
	sResetQuery
	sInitSQL
	sAfterConnect
	sBeforeConnect
	sTracing
	sQueryText
	sSQLCommenter
	sTracerProvider
	sMeterProvider
	numSettings
)

// mark records that the setting id was given, by an option or in the DSN.
func (c *config) mark(id settingID) { c.set |= 1 << id }

// isSet reports whether the setting id was given.
func (c *config) isSet(id settingID) bool { return c.set&(1<<id) != 0 }
