// Package sqlpool is a database/sql driver that wraps any other driver and
// runs its own pool of physical connections underneath database/sql: hard
// cap, warm minimum, idle timeout, lifetime with jitter, keepalive, pre-ping
// validation of idle connections, an acquire timeout and FIFO waiters.
//
// Switching to it is a change of driver name:
//
//	import (
//		_ "github.com/lib/pq"
//		_ "github.com/sqlpool/sqlpool"
//	)
//
//	db, err := sql.Open("sqlpool", "postgres:postgres://app@db/app?sslmode=disable&pool_max_conns=20")
//
// The DSN is the inner driver's name, a colon, and the inner driver's own DSN
// with pool_* parameters added (URL query form or keyword=value form); they
// are removed before the inner driver sees the DSN. Each sql.DB has a pool
// of its own, which DB.Close closes; sql.DBs opened with the same DSN share
// one with pool_share=true or an explicit pool_name.
//
// database/sql keeps its own free list of connections; sqlpool hands it cheap
// logical connections that borrow a physical connection from the pool on
// their first operation and give it back when database/sql takes them back.
// So every pool policy applies whatever database/sql's own settings are;
// leave SetMaxOpenConns unset and let pool_max_conns be the cap.
//
// Through sqlpool an application's sessions behave as on the raw driver: a
// sql.Tx, a sql.Conn and open sql.Rows each run on one server session;
// session state never reaches another sql.DB, and dies once database/sql
// closes the connection that made it (sqlpool resets the physical session
// before anyone uses it again); an in-memory SQLite database lives as long
// as its database/sql connection; a connect error no retry cures reaches
// the operation at once, as the driver's own error.
//
// # Failover
//
// An operation that fails with a read-only or connection-fatal server error
// (PostgreSQL 25006, 57P01, class 08; MySQL 1290, 1792, 1836, …) returns it
// as it is, and its physical connection is closed rather than reused; the
// pool then checks its idle connections. With pool_require_writable=true,
// every check and dial also asks whether the server accepts writes, so that
// after a failover that left the old primary up read-only no connection to
// it is handed out. Reset retires every connection of a running pool,
// SetMaxConns and SetMinConns resize it, and WithBeforeConnect gives each
// dial fresh credentials.
//
// # DSN parameters
//
// The pool_* parameters, in either form of the inner DSN; the same
// settings have Go options (WithMaxConns and so on), which DSN parameters
// override:
//
//	pool_max_conns: a whole number, 1 to 100000 (default max(10, number of CPUs))
//	pool_min_conns: a whole number, 0 to pool_max_conns (default 0)
//	pool_min_idle_conns: a whole number, 0 to pool_max_conns (default 0)
//	pool_max_conn_lifetime: a duration (30m, 1h30m), 0 or more; 0 turns it off (default 1h)
//	pool_max_conn_lifetime_jitter: a duration (5m, 90s), 0 or more (default lifetime ÷ 10)
//	pool_max_conn_idle_time: a duration (30m, 1h), 0 or more; 0 turns it off (default 30m)
//	pool_health_check_period: a duration (1m, 30s), 0 or more; 0 turns it off (default 1m)
//	pool_acquire_timeout: a duration (30s, 1m), 0 or more; 0 turns it off (default 30s)
//	pool_ping_idle_after: a duration, 0 or more; 0 pings before every hand-out (default 1s)
//	pool_ping_timeout: a duration (5s, 500ms), 0 or more; 0 turns it off (default 5s)
//	pool_validation_query: a statement; empty for driver.Pinger only (default none)
//	pool_require_writable: true or false (default false)
//	pool_evict_codes: server error codes, separated by "," (default none)
//	pool_reuse: lifo or fifo (default lifo)
//	pool_stmt_cache_size: a whole number, 0 or more (default 256, 0 for SQLite)
//	pool_leak_threshold: a duration (30s, 5m), 0 or more; 0 turns it off (default 2m)
//	pool_leak_reclaim: true or false (default false)
//	pool_alert_utilization: a number from 0 to 1; 0 turns it off (default 0.8)
//	pool_alert_wait: a duration (250ms, 1s), 0 or more; 0 turns it off (default 250ms)
//	pool_alert_window: a duration (1m, 30s), 0 or more; 0 turns it off (default 1m)
//	pool_name: any text (default driver name and a number)
//	pool_share: true or false (default false)
//	pool_reset_session: true or false (default true)
//	pool_reset_query: statements; empty for the database's own reset (default none)
//	pool_init_sql: statements, separated by ";" (default none)
//	pool_tracing: true or false (default true)
//	pool_trace_query_text: auto, sanitized or off (default auto)
//	pool_sqlcommenter: true or false (default false)
//
// Durations are Go's (time.ParseDuration). A bad value fails sql.Open with an
// error that names the parameter and the fix, and never shows a password.
package sqlpool
