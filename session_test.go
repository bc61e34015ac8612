package sqlpool_test

// The session contract, measured against the raw drivers on the real
// servers: within one hand-out one session; one pool per sql.DB unless
// sharing is asked for; a session never carries state from one sql.DB to
// another, nor past database/sql closing the connection that made it; a
// database that lives in its connection lives as long as on the raw
// driver; permanent connect errors reach the operation at once as the
// driver's own; and a pool that ran dry says who holds it.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/pgtemp"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// sessionOpen opens driverName's dsn, failing the test on error, and closes
// it when the test ends.
func sessionOpen(t *testing.T, driverName, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", driverName, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sessionConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sessionExec(t *testing.T, c interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func sessionValue[T any](t *testing.T, c interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, q string, args ...any) T {
	t.Helper()
	var v T
	if err := c.QueryRowContext(context.Background(), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// memoryTable is what a SQLite in-memory database holds: the rows of t, or
// the error reading them.
func memoryTable(db *sql.DB) string {
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d rows", n)
}

func TestSessionSQLiteMemoryDatabaseOutlivesIdleTimeAndLifetimeAsOnTheRawDriver(t *testing.T) {
	const settings = "pool_max_conn_idle_time=50ms&pool_max_conn_lifetime=50ms&pool_max_conn_lifetime_jitter=0&pool_health_check_period=10ms"
	for _, dsn := range []string{":memory:", "file::memory:", "file:sessionmem?mode=memory"} {
		t.Run(dsn, func(t *testing.T) {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			raw := sessionOpen(t, "sqlite3", dsn)
			pooled := sessionOpen(t, "sqlpool", "sqlite3:"+dsn+sep+settings)
			// A control: a file database with the same settings, whose
			// idle connection the pool does retire, shows that the
			// lifetime and idle time have passed and the health check ran.
			control := sessionOpen(t, "sqlpool", "sqlite3:file:"+filepath.Join(t.TempDir(), "control.db")+"?"+settings)
			for _, db := range []*sql.DB{raw, pooled} {
				db.SetMaxOpenConns(1)
				sessionExec(t, db, "CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1), (2)")
			}
			sessionExec(t, control, "SELECT 1")
			testdb.WaitFor(t, "the control pool retiring its idle connection by lifetime or idle time", func() bool {
				s := stat(t, control)
				return s.DestroyedCount(pool.ReasonLifetime)+s.DestroyedCount(pool.ReasonIdle) >= 1
			})
			if got, want := memoryTable(pooled), memoryTable(raw); got != want || want != "2 rows" {
				t.Errorf("the in-memory database past its pool's lifetime and idle time: got %q, want %q, as on the raw driver", got, want)
			}
			if s := stat(t, pooled); s.CreatedCount != 1 {
				t.Errorf("physical connections made for the in-memory database: got %d, want 1", s.CreatedCount)
			}
		})
	}
}

func TestSessionTwoSQLiteMemoryDatabasesAreTwoAsOnTheRawDriver(t *testing.T) {
	got := map[string][2]string{}
	for _, side := range []struct{ driver, dsn string }{{"sqlite3", ":memory:"}, {"sqlpool", "sqlite3::memory:"}} {
		a, b := sessionOpen(t, side.driver, side.dsn), sessionOpen(t, side.driver, side.dsn)
		for _, db := range []*sql.DB{a, b} {
			db.SetMaxOpenConns(1)
		}
		sessionExec(t, a, "CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)")
		got[side.driver] = [2]string{memoryTable(a), memoryTable(b)}
	}
	if got["sqlpool"] != got["sqlite3"] || got["sqlite3"][1] != "no such table: t" {
		t.Errorf("two sql.Open of :memory: (the first has t, the second?): got %q through sqlpool, want %q as on the raw driver", got["sqlpool"], got["sqlite3"])
	}
	// An explicit name labels the pool without sharing it.
	a := sessionOpen(t, "sqlpool", "sqlite3::memory:?pool_name=sessionmem")
	b := sessionOpen(t, "sqlpool", "sqlite3::memory:?pool_name=sessionmem")
	a.SetMaxOpenConns(1)
	sessionExec(t, a, "CREATE TABLE t (x INTEGER)")
	if got := memoryTable(b); got != "no such table: t" {
		t.Errorf("a second :memory: with the same pool_name sees %q, want its own empty database", got)
	}
	// Sharing cannot be asked for.
	_, err := sql.Open("sqlpool", "sqlite3::memory:?pool_share=true")
	if want := "sqlpool: pool_share=true: this sqlite3 database lives in its connection and dies with it, so no two sql.DBs can share it; drop pool_share and pass one *sql.DB around"; err == nil || err.Error() != want {
		t.Errorf("pool_share=true on :memory:: got %v, want %s", err, want)
	}
}

// pgState is what a PostgreSQL session shows of the state a test left in it.
type pgState struct {
	TempTable, StatementTimeout string
	AdvisoryLocks, Listening    int
	SQLPrepared, Cursors        int
}

// pgSetState leaves one of each kind of session state in c's session,
// with a statement prepared with SQL if sqlPrepare, else with a statement
// of database/sql's in sqlpool's statement cache: sqlpool resets the one
// with DISCARD ALL, the other with DISCARD ALL's steps but DEALLOCATE ALL,
// which keep the statement caches (session.go).
func pgSetState(t *testing.T, c *sql.Conn, lock int64, sqlPrepare bool) {
	t.Helper()
	sessionExec(t, c,
		"CREATE TEMP TABLE sqlpool_session_t (x int)",
		"SET statement_timeout = '12345'",
		fmt.Sprintf("SELECT pg_advisory_lock(%d)", lock),
		"LISTEN sqlpool_session_channel",
		"BEGIN; DECLARE sqlpool_session_c CURSOR WITH HOLD FOR SELECT 1; COMMIT",
	)
	if sqlPrepare {
		sessionExec(t, c, "PREPARE sqlpool_session_p AS SELECT 1")
		return
	}
	st, err := c.PrepareContext(context.Background(), "SELECT $1::int")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Exec(1); err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func pgReadState(t *testing.T, c *sql.Conn) pgState {
	t.Helper()
	var s pgState
	err := c.QueryRowContext(context.Background(), `SELECT
		coalesce(to_regclass('pg_temp.sqlpool_session_t')::text, ''),
		current_setting('statement_timeout'),
		(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		(SELECT count(*) FROM pg_listening_channels()),
		(SELECT count(*) FROM pg_prepared_statements WHERE from_sql),
		(SELECT count(*) FROM pg_cursors WHERE name = 'sqlpool_session_c')`).Scan(&s.TempTable, &s.StatementTimeout, &s.AdvisoryLocks, &s.Listening, &s.SQLPrepared, &s.Cursors)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sessionLockSeq atomic.Int64

// sessionLock is an advisory lock key of this test process alone.
func sessionLock() int64 { return int64(os.Getpid())<<20 + sessionLockSeq.Add(1) }

var pgFresh = pgState{StatementTimeout: "0"}

func TestSessionPostgresStateDiesWithTheConnectionDatabaseSQLClosed(t *testing.T) {
	for _, tc := range []struct {
		inner      string
		sqlPrepare bool
	}{{"postgres", true}, {"pgx", true}, {"postgres", false}, {"pgx", false}} {
		inner := tc.inner
		t.Run(fmt.Sprintf("%s/sql_prepare=%v", inner, tc.sqlPrepare), func(t *testing.T) {
			raw := sessionOpen(t, inner, testdb.PostgresURL(t))
			pooled, _ := openPG(t, inner, "pool_max_conns", "1")
			for _, side := range []struct {
				name string
				db   *sql.DB
			}{{"raw", raw}, {"sqlpool", pooled}} {
				side.db.SetMaxIdleConns(0) // database/sql closes each connection it gets back
				c := sessionConn(t, side.db)
				pid := sessionValue[int](t, c, "SELECT pg_backend_pid()")
				pgSetState(t, c, sessionLock(), tc.sqlPrepare)
				if got := pgReadState(t, c); got.TempTable == "" || got.AdvisoryLocks != 1 || got.Cursors != 1 {
					t.Fatalf("%s: the state was not made: %+v", side.name, got)
				}
				c.Close()

				c = sessionConn(t, side.db)
				again := sessionValue[int](t, c, "SELECT pg_backend_pid()")
				if got := pgReadState(t, c); got != pgFresh {
					t.Errorf("%s: the next connection's session shows %+v, want a fresh session's %+v", side.name, got, pgFresh)
				}
				c.Close()
				if side.name == "sqlpool" && again != pid {
					t.Errorf("sqlpool: the next connection ran on backend %d, want the same physical connection (%d), reset", again, pid)
				}
			}
			if s := stat(t, pooled); s.Resets < 1 || s.CreatedCount != 1 {
				t.Errorf("Stat: got %d resets and %d connections made, want at least 1 and 1", s.Resets, s.CreatedCount)
			}
		})
	}
}

func TestSessionPostgresAdvisoryLockIsReleasedWhenDatabaseSQLClosesTheConnection(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			db, _ := openPG(t, inner, "pool_max_conns", "2")
			db.SetMaxIdleConns(0)
			lock := sessionLock()
			c := sessionConn(t, db)
			sessionExec(t, c, fmt.Sprintf("SELECT pg_advisory_lock(%d)", lock))
			if sessionValue[bool](t, admin, "SELECT pg_try_advisory_lock($1)", lock) {
				t.Fatal("another session took the advisory lock while its holder was open")
			}
			c.Close() // database/sql closes the connection: on the raw driver, its session ends
			testdb.WaitFor(t, "another session taking the advisory lock", func() bool {
				return sessionValue[bool](t, admin, "SELECT pg_try_advisory_lock($1)", lock)
			})
			sessionExec(t, admin, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", lock))
		})
	}
}

func TestSessionPostgresStateNeverCrossesTheSQLDBsOfASharedPool(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			dsn := inner + ":" + testdb.WithParams(testdb.PostgresURL(t), "application_name", testdb.AppName(t),
				"pool_share", "true", "pool_max_conns", "1")
			keeper := sessionOpen(t, "sqlpool", dsn) // keeps the shared pool open
			if err := keeper.Ping(); err != nil {
				t.Fatal(err)
			}
			db1, db2 := sessionOpen(t, "sqlpool", dsn), sessionOpen(t, "sqlpool", dsn)

			// db1 leaves state on its connection and gives it back to
			// database/sql, which keeps it: db2 gets the physical
			// connection next, reset, since it is another sql.DB's.
			c := sessionConn(t, db1)
			pid := sessionValue[int](t, c, "SELECT pg_backend_pid()")
			pgSetState(t, c, sessionLock(), true)
			c.Close()
			c = sessionConn(t, db2)
			if got := sessionValue[int](t, c, "SELECT pg_backend_pid()"); got != pid {
				t.Fatalf("db2 ran on backend %d, want the shared pool's one connection (%d)", got, pid)
			}
			if got := pgReadState(t, c); got != pgFresh {
				t.Errorf("db2 sees db1's session state: %+v, want a fresh session's %+v", got, pgFresh)
			}
			// And db2's state does not reach db1 after db2 closed.
			pgSetState(t, c, sessionLock(), false)
			c.Close()
			db2.Close()
			c = sessionConn(t, db1)
			if got := pgReadState(t, c); got != pgFresh {
				t.Errorf("db1 sees the state of closed db2: %+v, want a fresh session's %+v", got, pgFresh)
			}
			c.Close()
		})
	}
}

func TestSessionPostgresConnectionGivenBackKeepsItsStateAsOnTheRawDriver(t *testing.T) {
	// database/sql keeps a connection it gets back (SetMaxIdleConns
	// allows it): the next user of the sql.DB gets it, state and all,
	// with or without sqlpool. Nothing is reset that need not be.
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			raw := sessionOpen(t, inner, testdb.PostgresURL(t))
			pooled, _ := openPG(t, inner, "pool_max_conns", "1")
			for _, db := range []*sql.DB{raw, pooled} {
				db.SetMaxOpenConns(1)
				c := sessionConn(t, db)
				sessionExec(t, c, "CREATE TEMP TABLE sqlpool_session_kept (x int)", "SET statement_timeout = '54321'")
				c.Close()
				c = sessionConn(t, db)
				got := sessionValue[string](t, c, "SELECT coalesce(to_regclass('pg_temp.sqlpool_session_kept')::text, '') || ' ' || current_setting('statement_timeout')")
				if got != "sqlpool_session_kept 54321ms" {
					t.Errorf("the sql.DB's next connection: got %q, want its own state back, %q", got, "sqlpool_session_kept 54321ms")
				}
				sessionExec(t, c, "DROP TABLE sqlpool_session_kept", "RESET statement_timeout")
				c.Close()
			}
			if s := stat(t, pooled); s.Resets != 0 {
				t.Errorf("resets of a session nobody closed: got %d, want 0", s.Resets)
			}
		})
	}
}

func TestSessionPostgresResetSessionOffPassesStateOn(t *testing.T) {
	db, _ := openPG(t, "pgx", "pool_max_conns", "1", "pool_reset_session", "false")
	db.SetMaxIdleConns(0)
	c := sessionConn(t, db)
	sessionExec(t, c, "SET statement_timeout = '7777'")
	c.Close()
	c = sessionConn(t, db)
	defer c.Close()
	if got := sessionValue[string](t, c, "SHOW statement_timeout"); got != "7777ms" {
		t.Errorf("with pool_reset_session=false the next connection shows statement_timeout %q, want the state passed on, 7777ms", got)
	}
	sessionExec(t, c, "RESET statement_timeout")
}

func TestSessionPostgresPreparedStatementsWorkAcrossResets(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, _ := openPG(t, inner, "pool_max_conns", "1")
			db.SetMaxIdleConns(0) // every statement's connection is closed, every session reset
			st, err := db.Prepare("SELECT $1::int + 1")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i := range 5 {
				var got int
				if err := st.QueryRow(i).Scan(&got); err != nil || got != i+1 {
					t.Errorf("prepared statement, run %d: got %d, %v; want %d", i, got, err, i+1)
				}
				// pgx's own statement cache (a query with arguments).
				if got := sessionValue[int](t, db, "SELECT $1::int * 2", i); got != 2*i {
					t.Errorf("query with an argument, run %d: got %d, want %d", i, got, 2*i)
				}
			}
			if s := stat(t, db); s.Resets < 5 {
				t.Errorf("resets: got %d, want at least 5", s.Resets)
			}
		})
	}
}

func TestSessionMySQLAndSQLiteStateDiesWithTheConnectionDatabaseSQLClosed(t *testing.T) {
	type side struct {
		name string
		db   *sql.DB
	}
	check := func(t *testing.T, sides []side, set []string, read string) {
		t.Helper()
		got := map[string]string{}
		for _, s := range sides {
			s.db.SetMaxIdleConns(0)
			c := sessionConn(t, s.db)
			sessionExec(t, c, set...)
			c.Close()
			c = sessionConn(t, s.db)
			got[s.name] = sessionValue[string](t, c, read)
			c.Close()
		}
		if got["sqlpool"] != got["raw"] {
			t.Errorf("the next connection's session: got %q through sqlpool, want %q as on the raw driver", got["sqlpool"], got["raw"])
		}
	}
	t.Run("mysql", func(t *testing.T) {
		dsn := testdb.MySQLDSN(t)
		pooled := sessionOpen(t, "sqlpool", "mysql:"+dsn+"?pool_max_conns=1")
		check(t, []side{{"raw", sessionOpen(t, "mysql", dsn)}, {"sqlpool", pooled}},
			[]string{"CREATE TEMPORARY TABLE sqlpool_session_t (x int)", "SET @sqlpool_session = 'set'", "SET SESSION sql_mode = 'ANSI_QUOTES'", "DO GET_LOCK('sqlpool_session_lock', 0)"},
			`SELECT CONCAT_WS(',', COALESCE(@sqlpool_session, 'unset'), @@SESSION.sql_mode, COALESCE(IS_USED_LOCK('sqlpool_session_lock'), 'free'),
				(SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'sqlpool_session_t'))`)
		if s := stat(t, pooled); s.DestroyedCount(pool.ReasonRetired) < 1 {
			t.Errorf("connections retired for a reset: got %d, want at least 1 (MySQL has no reset statement)", s.DestroyedCount(pool.ReasonRetired))
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "session.db")
		check(t, []side{{"raw", sessionOpen(t, "sqlite3", path)}, {"sqlpool", sessionOpen(t, "sqlpool", "sqlite3:"+path+"?pool_max_conns=1")}},
			[]string{"CREATE TEMP TABLE sqlpool_session_t (x int)", "PRAGMA foreign_keys = ON"},
			"SELECT (SELECT count(*) FROM sqlite_temp_master) || ',' || (SELECT foreign_keys FROM pragma_foreign_keys)")
	})
}

func TestSessionInitSQLRunsOnEveryNewSessionAndAgainAfterAReset(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		for _, inner := range pgDrivers {
			t.Run(inner, func(t *testing.T) {
				var calls atomic.Int64
				ctr, err := sqlpool.NewConnector(inner+":"+testdb.WithParams(testdb.PostgresURL(t), "pool_max_conns", "1",
					"pool_init_sql", "SET statement_timeout = '4321'; SET lock_timeout = '1234'"),
					sqlpool.WithAfterConnect(func(ctx context.Context, c driver.Conn) error {
						calls.Add(1)
						return nil
					}))
				if err != nil {
					t.Fatal(err)
				}
				db := sql.OpenDB(ctr)
				defer db.Close()
				db.SetMaxIdleConns(0)
				for i := range 3 {
					c := sessionConn(t, db)
					if got := sessionValue[string](t, c, "SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout')"); got != "4321ms 1234ms" {
						t.Errorf("session %d: got %q, want the settings of pool_init_sql, %q", i, got, "4321ms 1234ms")
					}
					sessionExec(t, c, "SET statement_timeout = '1'")
					c.Close() // closed by database/sql: the session is reset before the next
				}
				// The last Close resets the idle session in the background:
				// its count and its WithAfterConnect call land one after the
				// other, so wait for them to agree before reading them.
				testdb.WaitFor(t, "the last reset's setup to run", func() bool {
					return calls.Load() == 1+ctr.Stat().Resets
				})
				s := ctr.Stat()
				if s.CreatedCount != 1 || s.Resets < 2 || calls.Load() != 1+s.Resets {
					t.Errorf("got %d connections, %d resets and %d WithAfterConnect calls; want 1, at least 2, and one per dial and reset", s.CreatedCount, s.Resets, calls.Load())
				}
			})
		}
	})
	t.Run("mysql", func(t *testing.T) {
		// Two statements, without multiStatements=true: one Exec each.
		db := sessionOpen(t, "sqlpool", "mysql:"+testdb.MySQLDSN(t)+"?pool_max_conns=2&pool_init_sql="+
			"SET+SESSION+sql_mode+%3D+'ANSI_QUOTES'%3B+SET+@sqlpool_init+%3D+'a%3Bb'")
		db.SetMaxIdleConns(0)
		for i := range 3 {
			if got := sessionValue[string](t, db, "SELECT CONCAT(@@SESSION.sql_mode, ' ', @sqlpool_init)"); got != "ANSI_QUOTES a;b" {
				t.Errorf("session %d: got %q, want %q", i, got, "ANSI_QUOTES a;b")
			}
		}
	})
	t.Run("a failing statement fails the operation at once", func(t *testing.T) {
		db := sessionOpen(t, "sqlpool", "sqlite3:file:"+filepath.Join(t.TempDir(), "init.db")+"?pool_acquire_timeout=1m&pool_init_sql=SELEKT+1")
		start := time.Now()
		err := db.Ping()
		if err == nil || !strings.HasPrefix(err.Error(), `sqlpool: pool_init_sql: near "SELEKT": syntax error`) {
			t.Errorf("Ping with a broken pool_init_sql: got %v, want the syntax error", err)
		}
		if waited := time.Since(start); waited > 30*time.Second {
			t.Errorf("Ping failed after %v, not at once", waited)
		}
	})
}

// sessionPermanentCase is a connect error that no redial cures.
type sessionPermanentCase struct {
	name        string
	inner, dsn  string                 // the raw driver and its DSN
	op          func(db *sql.DB) error // what the application does first
	driverError func(err error) string // "" if err is the driver's own kind of error, else why not
}

func sessionPing(db *sql.DB) error { return db.Ping() }

func TestSessionPermanentConnectErrorsReachTheOperationAtOnceAsTheDriversOwn(t *testing.T) {
	pgURL := testdb.PostgresURL(t)
	missingDB := strings.Replace(pgURL, "/test?", "/sqlpool_no_such_database?", 1)
	pgCode := func(want string) func(error) string {
		return func(err error) string {
			var libpq *pq.Error
			var pgxErr *pgconn.PgError
			switch {
			case errors.As(err, &libpq) && string(libpq.Code) == want:
			case errors.As(err, &pgxErr) && pgxErr.Code == want:
			default:
				return "no *pq.Error or *pgconn.PgError with SQLSTATE " + want
			}
			return ""
		}
	}
	mysqlNumber := func(want uint16) func(error) string {
		return func(err error) string {
			if me, ok := err.(*mysql.MySQLError); !ok || me.Number != want {
				return fmt.Sprintf("not a *mysql.MySQLError %d", want)
			}
			return ""
		}
	}
	sqliteCode := func(want sqlite3.ErrNo) func(error) string {
		return func(err error) string {
			if se, ok := err.(sqlite3.Error); !ok || se.Code != want {
				return fmt.Sprintf("not a sqlite3.Error %d", want)
			}
			return ""
		}
	}
	notADB := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("not a database, just text. ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []sessionPermanentCase{
		{"lib/pq missing database", "postgres", missingDB, sessionPing, pgCode("3D000")},
		{"pgx missing database", "pgx", missingDB, sessionPing, pgCode("3D000")},
		{"mysql wrong password", "mysql", strings.Replace(testdb.MySQLDSN(t), "root@", "root:sqlpool-wrong-password@", 1), sessionPing, mysqlNumber(1045)},
		{"mysql unknown database", "mysql", strings.Replace(testdb.MySQLDSN(t), "/test", "/sqlpool_no_such_database", 1), sessionPing, mysqlNumber(1049)},
		{"sqlite3 unable to open", "sqlite3", "file:/nonexistent/sqlpool/app.db?mode=ro", sessionPing, sqliteCode(sqlite3.ErrCantOpen)},
		{"sqlite3 not a database", "sqlite3", notADB, func(db *sql.DB) error { _, err := db.Exec("SELECT count(*) FROM sqlite_master"); return err }, sqliteCode(sqlite3.ErrNotADB)},
	}
	// A wrong password needs a server that checks passwords: a throwaway
	// one, with scram-sha-256 for everyone but its superuser.
	if srv := sessionPasswordServer(t); srv != "" {
		wrong := strings.Replace(srv, "sqlpool_app:right", "sqlpool_app:wrong", 1)
		cases = append(cases,
			sessionPermanentCase{"lib/pq wrong password", "postgres", wrong, sessionPing, pgCode("28P01")},
			sessionPermanentCase{"pgx wrong password", "pgx", wrong, sessionPing, pgCode("28P01")})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rawErr := tc.op(sessionOpen(t, tc.inner, tc.dsn))
			if rawErr == nil {
				t.Fatal("the raw driver succeeded")
			}
			sep := "?"
			if strings.Contains(tc.dsn, "?") {
				sep = "&"
			}
			db := sessionOpen(t, "sqlpool", tc.inner+":"+tc.dsn+sep+"pool_acquire_timeout=1m&pool_min_conns=0")
			for i := range 2 {
				start := time.Now()
				err := tc.op(db)
				if waited := time.Since(start); waited > 30*time.Second {
					t.Errorf("operation %d failed after %v, not at once (pool_acquire_timeout is 1m)", i, waited)
				}
				if reflect.TypeOf(err) != reflect.TypeOf(rawErr) || err == nil || err.Error() != rawErr.Error() {
					t.Errorf("operation %d: got %T %v, want the raw driver's %T %v", i, err, err, rawErr, rawErr)
				}
				if why := tc.driverError(err); why != "" {
					t.Errorf("operation %d: %v: %s", i, err, why)
				}
			}
			if s := stat(t, db); s.CreateErrorCount > 2 {
				t.Errorf("dials for two operations: got %d failed, want at most 2: the pool must not redial by itself", s.CreateErrorCount)
			}
		})
	}
}

// sessionPasswordServer starts a throwaway PostgreSQL server that checks
// passwords, with a role sqlpool_app whose password is "right", and
// returns its URL as that role; "" where no server can be started here.
func sessionPasswordServer(t *testing.T) string {
	t.Helper()
	if _, err := pgtemp.BinDir(); err != nil {
		if testdb.InCI() {
			t.Fatalf("no PostgreSQL binaries for a throwaway server: %v", err)
		}
		t.Logf("skipping the wrong-password cases: %v", err)
		return ""
	}
	srv, err := pgtemp.Start(pgtemp.Options{Files: map[string][]byte{"pg_hba.conf": []byte(
		"local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	admin := sessionOpen(t, "postgres", srv.URL())
	sessionExec(t, admin, "CREATE ROLE sqlpool_app LOGIN PASSWORD 'right'")
	return fmt.Sprintf("postgres://sqlpool_app:right@127.0.0.1:%d/postgres?sslmode=disable", srv.Port())
}

func TestSessionSQLDBsOfOneDSNHaveIndependentPools(t *testing.T) {
	admin := testdb.Admin(t)
	app := testdb.AppName(t)
	dsn := "pgx:" + testdb.WithParams(testdb.PostgresURL(t), "application_name", app, "pool_max_conns", "1", "pool_acquire_timeout", "300ms")

	// A connection db1 never gives back starves db1 alone.
	db1, db2 := sessionOpen(t, "sqlpool", dsn), sessionOpen(t, "sqlpool", dsn)
	held := sessionConn(t, db1)
	defer held.Close()
	if err := held.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db2.Ping(); err != nil {
		t.Errorf("db2 while db1 holds its only connection: %v, want it unaffected", err)
	}
	if s1, s2 := stat(t, db1), stat(t, db2); s1.Name == s2.Name {
		t.Errorf("two sql.Open of one DSN have one pool, %q", s1.Name)
	}

	// Each of 25 sql.DBs dials its own connection.
	for range 25 {
		if err := sessionOpen(t, "sqlpool", dsn).Ping(); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(testdb.Backends(t, admin, app)); got != 27 {
		t.Errorf("backends of 27 sql.DBs on one DSN: got %d, want 27", got)
	}
}

func TestSessionLibPQLoadBalancingReachesEveryHostOverManySQLDBs(t *testing.T) {
	if testdb.PostgresURL(t) != testdb.DefaultPostgres {
		t.Skip("needs the default local server, reachable over TCP and its unix socket")
	}
	admin := testdb.Admin(t)
	app := testdb.AppName(t)
	// One server, two ways to reach it: TCP (client_addr 127.0.0.1) and its
	// unix socket (client_addr NULL). lib/pq picks one at random per dial.
	dsn := "host=127.0.0.1,/var/run/postgresql port=5432,5432 user=postgres dbname=test sslmode=disable load_balance_hosts=random application_name=" + app
	for range 25 {
		if err := sessionOpen(t, "sqlpool", "postgres:"+dsn).Ping(); err != nil {
			t.Fatal(err)
		}
	}
	ways := sessionValue[int](t, admin, "SELECT count(DISTINCT coalesce(client_addr::text, 'socket')) FROM pg_stat_activity WHERE application_name = $1", app)
	if ways != 2 {
		t.Errorf("ways 25 sql.DBs with load_balance_hosts=random reached the server: got %d, want both (one only by chance 2^-24)", ways)
	}
}

func TestSessionPoolShareAndPoolNameShareOnePoolOfOneDSN(t *testing.T) {
	base := testdb.WithParams(testdb.PostgresURL(t), "application_name", testdb.AppName(t), "pool_max_conns", "1", "pool_acquire_timeout", "300ms")
	for _, param := range [][2]string{{"pool_share", "true"}, {"pool_name", "session-shared"}} {
		t.Run(param[0], func(t *testing.T) {
			dsn := "pgx:" + testdb.WithParams(base, param[0], param[1])
			db1, db2 := sessionOpen(t, "sqlpool", dsn), sessionOpen(t, "sqlpool", dsn)
			if s1, s2 := stat(t, db1), stat(t, db2); s1.Name != s2.Name {
				t.Errorf("pools of two sql.Open with %s=%s: %q and %q, want one", param[0], param[1], s1.Name, s2.Name)
			}
			held, line := sessionHold(t, db1)
			err := db2.Ping()
			held.Close()
			if !errors.Is(err, sqlpool.ErrAcquireTimeout) || !strings.Contains(err.Error(), fmt.Sprintf("; held: 1 by session_test.go:%d (", line)) {
				t.Errorf("db2 while db1 holds the shared pool's only connection: got %v, want an acquire timeout naming session_test.go:%d", err, line)
			}
		})
	}
	t.Run("a pool_name of another DSN", func(t *testing.T) {
		sessionOpen(t, "sqlpool", "pgx:"+testdb.WithParams(base, "pool_name", "session-taken"))
		_, err := sql.Open("sqlpool", "postgres:"+testdb.WithParams(base, "pool_name", "session-taken"))
		want := `sqlpool: pool_name "session-taken" is the name of an open pool with another DSN; sql.DBs share a pool by name only with the same DSN, so give this one another pool_name`
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
}

// sessionHold takes a connection from db and uses it, and returns it with
// the line that took it.
func sessionHold(t *testing.T, db *sql.DB) (*sql.Conn, int) {
	t.Helper()
	_, _, line, _ := runtime.Caller(0)
	c, err := db.Conn(context.Background()) // on the line after Caller's
	line++
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, line
}

func TestSessionAcquireTimeoutNamesTheLinesHoldingTheConnections(t *testing.T) {
	db := sessionOpen(t, "sqlpool", "sqlite3:file:"+filepath.Join(t.TempDir(), "held.db")+"?pool_max_conns=3&pool_acquire_timeout=200ms")
	var held []*sql.Conn
	var line int
	for range 2 {
		c, l := sessionHold(t, db)
		held, line = append(held, c), l
	}
	_, _, rowsLine, _ := runtime.Caller(0)
	rows, err := db.Query("SELECT 1") // the third, left open, on the line after Caller's
	rowsLine++
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	err = db.Ping()
	for _, c := range held {
		c.Close()
	}
	if !errors.Is(err, sqlpool.ErrAcquireTimeout) {
		t.Fatalf("Ping with every connection held: got %v, want ErrAcquireTimeout", err)
	}
	for _, want := range []string{
		fmt.Sprintf("; held: 2 by session_test.go:%d (longest ", line),
		fmt.Sprintf(", 1 by session_test.go:%d (", rowsLine),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("acquire timeout: got %q, want it to contain %q", err, want)
		}
	}
}

func TestSessionDefaultMaxConnsLetsOneGoroutineHoldTenRows(t *testing.T) {
	db, _ := openPG(t, "pgx", "pool_acquire_timeout", "2s")
	var open []*sql.Rows
	defer func() {
		for _, r := range open {
			r.Close()
		}
	}()
	for i := range 10 {
		rows, err := db.Query("SELECT generate_series(1, 2)")
		if err != nil {
			t.Fatalf("Rows %d held open at once by one goroutine with the default pool_max_conns: %v", i+1, err)
		}
		open = append(open, rows)
	}
	if s := stat(t, db); s.MaxSize < 10 {
		t.Errorf("default pool_max_conns: got %d, want at least 10", s.MaxSize)
	}
}

var sessionHookedSeq atomic.Int64

func TestSessionSQLiteStatementCacheFollowsTheDriverNotItsName(t *testing.T) {
	// go-sqlite3 registered under a name of its own, the usual way to add
	// a ConnectHook: still SQLite, so a statement closes when the
	// application closes it and releases its lock.
	name := fmt.Sprintf("sqlite3_session_hooked_%d", sessionHookedSeq.Add(1))
	sql.Register(name, &sqlite3.SQLiteDriver{ConnectHook: func(*sqlite3.SQLiteConn) error { return nil }})
	path := filepath.Join(t.TempDir(), "hooked.db")
	writer := sessionOpen(t, "sqlite3", "file:"+path+"?_busy_timeout=200")
	got := map[string]string{}
	for _, side := range []struct{ label, driver, dsn string }{
		{"raw", name, "file:" + path + "?_busy_timeout=5000"},
		{"sqlpool", "sqlpool", name + ":file:" + path + "?_busy_timeout=5000"},
	} {
		db := sessionOpen(t, side.driver, side.dsn)
		table := "t_" + side.label
		sessionExec(t, db, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY)", "INSERT INTO "+table+" VALUES (1), (2)")
		st, err := db.Prepare("SELECT id FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Exec(); err != nil {
			t.Fatal(err)
		}
		st.Close()
		_, err = writer.Exec("INSERT INTO " + table + " VALUES (3)")
		got[side.label] = fmt.Sprint(err)
		if side.label == "sqlpool" {
			snap, err := sqlpool.DBSnapshot(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snap.Settings {
				if s.Name == "pool_stmt_cache_size" && s.Value != "0" {
					t.Errorf("pool_stmt_cache_size of go-sqlite3 registered as %q: got %s, want 0", name, s.Value)
				}
			}
		}
	}
	if got["sqlpool"] != got["raw"] {
		t.Errorf("another connection's INSERT after a closed statement: got %s through sqlpool, want %s as raw", got["sqlpool"], got["raw"])
	}
}

func TestSessionMySQLStatementCacheStaysWithinTheServersLimit(t *testing.T) {
	dsn := testdb.MySQLDSN(t)
	limit := sessionValue[int](t, sessionOpen(t, "mysql", dsn), "SELECT @@GLOBAL.max_prepared_stmt_count")
	const maxConns = 100
	want := min(256, limit/2/maxConns)
	db := sessionOpen(t, "sqlpool", fmt.Sprintf("mysql:%s?pool_max_conns=%d", dsn, maxConns))
	c := sessionConn(t, db)
	defer c.Close()
	status := func(name string) int {
		var k string
		var v int
		if err := c.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := status("Com_stmt_prepare") - status("Com_stmt_close")
	for i := range want + 50 {
		st, err := c.PrepareContext(context.Background(), fmt.Sprintf("SELECT %d", i))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	if open := status("Com_stmt_prepare") - status("Com_stmt_close") - before; open > want {
		t.Errorf("statements left prepared on the server by %d distinct ones: got %d, want at most %d (max_prepared_stmt_count %d, halved, over %d connections)",
			want+50, open, want, limit, maxConns)
	}
	snap, err := sqlpool.DBSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snap.Settings {
		if s.Name == "pool_stmt_cache_size" && s.Value != fmt.Sprint(want) {
			t.Errorf("pool_stmt_cache_size in force: got %s, want %d", s.Value, want)
		}
	}
}

func TestSessionRawConnectionAnswersTheLegacyExecerAndQueryerAsTheDriverDoes(t *testing.T) {
	// Code that reaches the driver's connection through sql.Conn.Raw and
	// calls the legacy interfaces (go-sql-driver/mysql's own tests do)
	// gets the driver's own results back.
	got := map[string]string{}
	for _, side := range []struct{ driver, dsn string }{
		{"sqlite3", "file:" + filepath.Join(t.TempDir(), "raw.db")},
		{"sqlpool", "sqlite3:file:" + filepath.Join(t.TempDir(), "pooled.db")},
	} {
		c := sessionConn(t, sessionOpen(t, side.driver, side.dsn))
		err := c.Raw(func(dc any) error {
			ex, ok := dc.(driver.Execer) //nolint:staticcheck // what the callers use
			if !ok {
				return fmt.Errorf("%T is no driver.Execer", dc)
			}
			res, err := ex.Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2)", nil)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			q, ok := dc.(driver.Queryer) //nolint:staticcheck // what the callers use
			if !ok {
				return fmt.Errorf("%T is no driver.Queryer", dc)
			}
			rows, err := q.Query("SELECT count(*) FROM t WHERE x > ?", []driver.Value{int64(0)})
			if err != nil {
				return err
			}
			defer rows.Close()
			v := make([]driver.Value, 1)
			if err := rows.Next(v); err != nil {
				return err
			}
			got[side.driver] = fmt.Sprintf("%T affected %d, counted %v", res, n, v[0])
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", side.driver, err)
		}
		c.Close()
	}
	if got["sqlpool"] != got["sqlite3"] {
		t.Errorf("through Raw: got %q through sqlpool, want %q as from the driver", got["sqlpool"], got["sqlite3"])
	}
}
