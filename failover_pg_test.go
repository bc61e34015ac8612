package sqlpool_test

// Riding out a failover against real PostgreSQL servers: a server demoted
// to read-only under open connections, Reset under load, the cap changed
// under load, and credentials rotated between dials. Servers that a test
// demotes or whose passwords it changes are throwaway ones (pgtemp); the
// shared test server only serves load.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/pgtemp"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// failoverServer starts a throwaway PostgreSQL server (pg_hba.conf: trust
// for postgres, replication too, scram-sha-256 for every other role) and returns it with an
// admin pool on it. It skips, or fails in CI, where none can be started.
func failoverServer(t *testing.T) (*pgtemp.Server, *sql.DB) {
	t.Helper()
	if _, err := pgtemp.BinDir(); err != nil {
		if testdb.InCI() {
			t.Fatalf("no PostgreSQL binaries for a throwaway server: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	srv, err := pgtemp.Start(pgtemp.Options{Files: map[string][]byte{"pg_hba.conf": []byte(
		"local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost replication postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, sessionOpen(t, "postgres", srv.URL())
}

// failoverDemote makes every session of admin's server read-only, the
// open ones included (default_transaction_read_only, which a reload
// applies before each session's next statement), as a primary left behind
// by a failover is; promote undoes it.
func failoverDemote(t *testing.T, admin *sql.DB, readOnly bool) {
	t.Helper()
	stmt := "ALTER SYSTEM SET default_transaction_read_only = on"
	if !readOnly {
		stmt = "ALTER SYSTEM RESET default_transaction_read_only"
	}
	sessionExec(t, admin, stmt, "SELECT pg_reload_conf()")
	want := map[bool]string{true: "on", false: "off"}[readOnly]
	testdb.WaitFor(t, "a new session to see default_transaction_read_only = "+want, func() bool {
		var got string
		err := admin.QueryRow("SHOW default_transaction_read_only").Scan(&got)
		return err == nil && got == want
	})
}

// TestFailoverRequireWritableNeverHandsOutAReadOnlyConnection: with
// pool_require_writable=true and a pre-ping before every hand-out, a server
// demoted under the pool's open connections gets no write: every
// connection is checked, found read-only and closed, dials find it
// read-only too, and the write waits (and times out, naming why) instead of
// failing on the server. Once the server is writable again, writes succeed
// without a restart of anything. Without the setting, the write reaches
// the server, fails with its own 25006, and the connection is evicted.
func TestFailoverRequireWritableNeverHandsOutAReadOnlyConnection(t *testing.T) {
	srv, admin := failoverServer(t)
	sessionExec(t, admin, "CREATE TABLE writes (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
	for _, inner := range []string{"postgres", "pgx"} {
		t.Run(inner, func(t *testing.T) {
			ctx := context.Background()
			guarded := sessionOpen(t, "sqlpool", inner+":"+testdb.WithParams(srv.URL(),
				"pool_require_writable", "true", "pool_ping_idle_after", "0", "pool_max_conns", "3", "pool_health_check_period", "0"))
			plain := sessionOpen(t, "sqlpool", inner+":"+testdb.WithParams(srv.URL(),
				"pool_max_conns", "1", "pool_health_check_period", "0"))
			for _, db := range []*sql.DB{guarded, plain} {
				if _, err := db.ExecContext(ctx, "INSERT INTO writes DEFAULT VALUES"); err != nil {
					t.Fatalf("INSERT before the demotion: %v", err)
				}
			}
			// Three open connections in the guarded pool.
			var held []*sql.Conn
			for range 3 {
				c := sessionConn(t, guarded)
				if err := c.PingContext(ctx); err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			for _, c := range held {
				c.Close()
			}

			failoverDemote(t, admin, true)
			short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := guarded.ExecContext(short, "INSERT INTO writes DEFAULT VALUES")
			cancel()
			if code, ok := pgCode(err); ok || err == nil || !strings.Contains(err.Error(), "accepts no writes") {
				t.Errorf("guarded INSERT on the demoted server: got %v (SQLSTATE %q), want no server error but a wait that names the read-only server", err, code)
			}
			st := mockStat(t, guarded)
			if st.Destroyed[pool.ReasonCheck] < 3 || st.InUse != 0 {
				t.Errorf("guarded pool: destroyed %v, %d in use; want the 3 open connections closed by their check", mockDestroyed(st), st.InUse)
			}

			_, err = plain.ExecContext(ctx, "INSERT INTO writes DEFAULT VALUES")
			if code, _ := pgCode(err); code != "25006" {
				t.Errorf("plain INSERT on the demoted server: got %v, want the server's 25006", err)
			}
			if st := mockStat(t, plain); st.Destroyed[pool.ReasonBroken] != 1 {
				t.Errorf("plain pool: destroyed %v; want its connection evicted (broken 1)", mockDestroyed(st))
			}

			failoverDemote(t, admin, false)
			testdb.WaitFor(t, "a guarded INSERT to succeed on the writable server", func() bool {
				short, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				_, err := guarded.ExecContext(short, "INSERT INTO writes DEFAULT VALUES")
				return err == nil
			})
			if _, err := plain.ExecContext(ctx, "INSERT INTO writes DEFAULT VALUES"); err != nil {
				t.Errorf("plain INSERT on the writable server: %v", err)
			}
		})
	}
}

// pgCode is the SQLSTATE of a PostgreSQL error in err's chain.
func pgCode(err error) (string, bool) {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState(), true
	}
	return "", false
}

// TestFailoverRequireWritableRefusesAReadOnlySession: the check is of each
// session, not only of the server: a session made read-only by
// pool_init_sql is refused at its dial, and the operation fails saying so.
func TestFailoverRequireWritableRefusesAReadOnlySession(t *testing.T) {
	u := testdb.PostgresURL(t)
	db := sessionOpen(t, "sqlpool", "pgx:"+testdb.WithParams(u, "pool_require_writable", "true",
		"pool_init_sql", "SET default_transaction_read_only = on", "pool_acquire_timeout", "300ms"))
	_, err := db.Exec("SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "accepts no writes") {
		t.Fatalf("Exec: got %v, want an error that says the server accepts no writes", err)
	}
	if st := mockStat(t, db); st.CreatedCount != 0 || st.CreateErrorCount == 0 {
		t.Errorf("got %d created, %d dial errors; want 0 and at least 1", st.CreatedCount, st.CreateErrorCount)
	}
}

// failoverLoad runs op back to back on n goroutines until stop is called,
// counting the operations that succeeded; a failed one fails the test and
// ends its goroutine.
func failoverLoad(t *testing.T, n int, op func() error) (ops *atomic.Int64, stop func()) {
	var (
		done    = make(chan struct{})
		wg      sync.WaitGroup
		errOnce sync.Once
	)
	ops = new(atomic.Int64)
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := op(); err != nil {
					errOnce.Do(func() { t.Errorf("an operation under load: %v", err) })
					return
				}
				ops.Add(1)
			}
		})
	}
	var once sync.Once
	return ops, func() { once.Do(func() { close(done); wg.Wait() }) }
}

// backendID names a physical connection on the server for good: a pid may
// be reused once its backend is gone, a pid and its start may not.
type backendID struct {
	pid   int
	start string
}

const backendQuery = "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()"

// TestFailoverResetUnderLoadLeavesNoOlderConnectionInUse: while 8
// goroutines query through a pool of 4, Reset: no operation fails, and no
// operation that starts after Reset returned runs on a connection that
// existed before it.
func TestFailoverResetUnderLoadLeavesNoOlderConnectionInUse(t *testing.T) {
	u := testdb.PostgresURL(t)
	admin := testdb.Admin(t)
	for _, inner := range []string{"postgres", "pgx"} {
		t.Run(inner, func(t *testing.T) {
			app := testdb.AppName(t)
			db := sessionOpen(t, "sqlpool", inner+":"+testdb.WithParams(u, "application_name", app, "pool_max_conns", "4"))
			var (
				after atomic.Bool // Reset has returned
				mu    sync.Mutex
				old   map[backendID]bool // the server's connections of the pool just before Reset; guarded by mu
				stale atomic.Int64
			)
			ops, stop := failoverLoad(t, 8, func() error {
				started := after.Load()
				var id backendID
				if err := db.QueryRow(backendQuery).Scan(&id.pid, &id.start); err != nil {
					return err
				}
				mu.Lock()
				if started && old[id] {
					stale.Add(1)
				}
				mu.Unlock()
				return nil
			})
			testdb.WaitFor(t, "some load", func() bool { return ops.Load() > 200 })
			mu.Lock()
			old = map[backendID]bool{}
			rows, err := admin.Query("SELECT pid, backend_start::text FROM pg_stat_activity WHERE application_name = $1", app)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id backendID
				if err := rows.Scan(&id.pid, &id.start); err != nil {
					t.Fatal(err)
				}
				old[id] = true
			}
			rows.Close()
			mu.Unlock()
			if err := sqlpool.Reset(db); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			after.Store(true)
			n := ops.Load()
			testdb.WaitFor(t, "load after Reset", func() bool { return ops.Load() > n+200 })
			stop()
			if len(old) == 0 {
				t.Fatal("no connection of the pool was open before Reset")
			}
			if s := stale.Load(); s != 0 {
				t.Errorf("got %d operations started after Reset on a connection from before it (%d were open), want 0", s, len(old))
			}
			st := mockStat(t, db)
			if st.Destroyed[pool.ReasonReset] < int64(len(old)) {
				t.Errorf("destroyed %v; want at least %d as reset", mockDestroyed(st), len(old))
			}
			testdb.WaitFor(t, "the server to see none of the old connections", func() bool {
				var left int
				for id := range old {
					var n int
					admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2", id.pid, id.start).Scan(&n)
					left += n
				}
				return left == 0
			})
		})
	}
}

// TestFailoverSetMaxConnsUnderLoadHoldsTheCap: while 16 goroutines query
// through the pool, SetMaxConns lowers and raises the cap; once the pool
// has settled at each one, neither the pool nor the server (its backends
// of the pool) ever shows more connections than it, and no query fails.
func TestFailoverSetMaxConnsUnderLoadHoldsTheCap(t *testing.T) {
	u := testdb.PostgresURL(t)
	admin := testdb.Admin(t)
	app := testdb.AppName(t)
	db := sessionOpen(t, "sqlpool", "pgx:"+testdb.WithParams(u, "application_name", app, "pool_max_conns", "8"))
	ops, stop := failoverLoad(t, 16, func() error {
		_, err := db.Exec("SELECT pg_sleep(0.002)")
		return err
	})
	defer stop()
	for _, n := range []int{2, 6, 1, 8, 3} {
		if err := sqlpool.SetMaxConns(db, n); err != nil {
			t.Fatalf("SetMaxConns(%d): %v", n, err)
		}
		testdb.WaitFor(t, fmt.Sprintf("the pool and the server to settle at %d", n), func() bool {
			return mockStat(t, db).Total <= n && len(testdb.Backends(t, admin, app)) <= n
		})
		before := ops.Load()
		for ops.Load() < before+50 {
			if st := mockStat(t, db); st.Total > n || st.MaxSize != n {
				t.Fatalf("SetMaxConns(%d): the pool shows Total %d, MaxSize %d", n, st.Total, st.MaxSize)
			}
			if b := testdb.Backends(t, admin, app); len(b) > n {
				t.Fatalf("SetMaxConns(%d): the server shows %d connections of the pool", n, len(b))
			}
		}
		snap, err := sqlpool.DBSnapshot(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snap.Settings {
			if s.Name == "pool_max_conns" && s.Value != fmt.Sprint(n) {
				t.Errorf("Snapshot after SetMaxConns(%d): pool_max_conns is %s", n, s.Value)
			}
		}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{sqlpool.SetMaxConns(db, 0), "pool_max_conns must be between 1 and 100000, got 0"},
		{sqlpool.SetMinConns(db, 4), "pool_min_conns must be between 0 and pool_max_conns (3), got 4"},
		{sqlpool.SetMaxConns(sessionOpen(t, "postgres", u), 4), "is not a sqlpool connection"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", tc.err, tc.want)
		}
	}
	if err := sqlpool.SetMinConns(db, 2); err != nil {
		t.Errorf("SetMinConns(2): %v", err)
	}
}

// rotatingPassword is a credential store: the password a role has now.
type rotatingPassword struct{ v atomic.Value }

func (p *rotatingPassword) set(s string) { p.v.Store(s) }
func (p *rotatingPassword) get() string  { return p.v.Load().(string) }

// withPassword returns the URL u with its password replaced.
func withPassword(u, password string) string {
	pu, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	pu.User = url.UserPassword(pu.User.Username(), password)
	return pu.String()
}

// TestFailoverCredentialsRotateBetweenDials: a role's password changes on
// the server (ALTER ROLE … PASSWORD) and in the credential store the
// pool's hook reads; the old password is refused to a new login, the
// pool's open connection carries on, and after Reset the pool dials with
// the new one, through NewConnector with WithBeforeConnect (lib/pq, pgx)
// and through Wrap over pgx's connector with its OptionBeforeConnect.
func TestFailoverCredentialsRotateBetweenDials(t *testing.T) {
	srv, admin := failoverServer(t)
	base := fmt.Sprintf("postgres://sqlpool_rotate:%%s@127.0.0.1:%d/postgres?sslmode=disable", srv.Port())
	open := map[string]func(t *testing.T, creds *rotatingPassword) *sql.DB{
		"NewConnector/postgres": func(t *testing.T, creds *rotatingPassword) *sql.DB {
			return rotatingDB(t, "postgres:"+fmt.Sprintf(base, "stale"), creds)
		},
		"NewConnector/pgx": func(t *testing.T, creds *rotatingPassword) *sql.DB {
			return rotatingDB(t, "pgx:"+fmt.Sprintf(base, "stale"), creds)
		},
		"Wrap/pgx": func(t *testing.T, creds *rotatingPassword) *sql.DB {
			cfg, err := pgx.ParseConfig(fmt.Sprintf(base, "stale"))
			if err != nil {
				t.Fatal(err)
			}
			inner := stdlib.GetConnector(*cfg, stdlib.OptionBeforeConnect(func(_ context.Context, cc *pgx.ConnConfig) error {
				cc.Password = creds.get()
				return nil
			}))
			ctr, err := sqlpool.Wrap(inner, sqlpool.WithMaxConns(2))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(ctr)
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	for _, name := range []string{"NewConnector/postgres", "NewConnector/pgx", "Wrap/pgx"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			creds := &rotatingPassword{}
			creds.set("first")
			sessionExec(t, admin, "DROP ROLE IF EXISTS sqlpool_rotate", "CREATE ROLE sqlpool_rotate LOGIN PASSWORD 'first'")
			db := open[name](t, creds)
			c := sessionConn(t, db) // holds one connection across the rotation
			defer c.Close()
			var before int
			if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&before); err != nil {
				t.Fatalf("query with the first password: %v", err)
			}

			sessionExec(t, admin, "ALTER ROLE sqlpool_rotate PASSWORD 'second'")
			creds.set("second")
			direct := sessionOpen(t, "pgx", fmt.Sprintf(base, "first"))
			if code, _ := pgCode(direct.PingContext(ctx)); code != "28P01" {
				t.Fatalf("a new login with the old password: got SQLSTATE %q, want 28P01 (refused)", code)
			}
			var still int
			if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&still); err != nil || still != before {
				t.Fatalf("the open connection after the rotation: pid %d, %v; want %d, carrying on", still, err, before)
			}
			c.Close()

			if err := sqlpool.Reset(db); err != nil {
				t.Fatal(err)
			}
			var after int
			if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&after); err != nil {
				t.Fatalf("query after Reset, dialed with the new password: %v", err)
			}
			if after == before {
				t.Errorf("after Reset: the query ran on backend %d, the connection from before the rotation", after)
			}
			if st := mockStat(t, db); st.CreateErrorCount != 0 || st.Destroyed[pool.ReasonReset] != 1 {
				t.Errorf("got %d dial errors, destroyed %v; want no dial error and the old connection reset", st.CreateErrorCount, mockDestroyed(st))
			}
		})
	}
}

// rotatingDB opens dsn through NewConnector with a WithBeforeConnect hook
// that puts creds' password into the inner DSN of each dial.
func rotatingDB(t *testing.T, dsn string, creds *rotatingPassword) *sql.DB {
	t.Helper()
	var seen atomic.Value
	ctr, err := sqlpool.NewConnector(dsn+"&pool_max_conns=2", sqlpool.WithBeforeConnect(func(_ context.Context, innerDSN string) (string, error) {
		seen.Store(innerDSN)
		return withPassword(innerDSN, creds.get()), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() {
		db.Close()
		if got, _ := seen.Load().(string); strings.Contains(got, "pool_max_conns") || !strings.Contains(got, ":stale@") {
			t.Errorf("the hook was given %q, want the inner DSN as opened, without pool_* parameters", got)
		}
	})
	return db
}

// TestFailoverRequireWritableAsksMariaDB: on a writable MariaDB the check
// (@@global.read_only, @@global.innodb_read_only) passes, at each dial and
// each pre-ping, and the pool serves as it would without it.
func TestFailoverRequireWritableAsksMariaDB(t *testing.T) {
	db := sessionOpen(t, "sqlpool", "mysql:"+testdb.MySQLDSN(t)+"?pool_require_writable=true&pool_ping_idle_after=0")
	for range 3 {
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 with pool_require_writable=true: %d, %v", one, err)
		}
	}
	if st := mockStat(t, db); st.CreatedCount != 1 || st.CreateErrorCount != 0 || len(mockDestroyed(st)) != 0 {
		t.Errorf("got %d created, %d dial errors, destroyed %v; want 1, 0, none", st.CreatedCount, st.CreateErrorCount, mockDestroyed(st))
	}
}

// TestFailoverMultiHostDSNFollowsThePrimary: a multi-host DSN with
// target_session_attrs=read-write (lib/pq and pgx both take one) makes
// each dial find the writable host, and pool_require_writable makes the
// pool dial again when the one its connections reached is demoted: after
// the failover, writes land on the promoted standby.
func TestFailoverMultiHostDSNFollowsThePrimary(t *testing.T) {
	primary, padmin := failoverServer(t)
	standby, err := pgtemp.StartStandby(primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standby.Stop)
	sessionExec(t, padmin, "CREATE TABLE writes (id serial PRIMARY KEY)")
	dsn := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres sslmode=disable target_session_attrs=read-write pool_require_writable=true pool_max_conns=2",
		standby.Port(), primary.Port())
	ctx := context.Background()
	port := func(db *sql.DB) (int, error) {
		var p int
		err := db.QueryRowContext(ctx, "INSERT INTO writes DEFAULT VALUES RETURNING inet_server_port()").Scan(&p)
		return p, err
	}
	dbs := map[string]*sql.DB{"postgres": sessionOpen(t, "sqlpool", "postgres:"+dsn), "pgx": sessionOpen(t, "sqlpool", "pgx:"+dsn)}
	for name, db := range dbs {
		if p, err := port(db); err != nil || p != primary.Port() {
			t.Fatalf("%s: a write before the failover: port %d, %v; want the primary's, %d", name, p, err, primary.Port())
		}
	}
	failoverDemote(t, padmin, true)
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	for name, db := range dbs {
		testdb.WaitFor(t, name+": a write on the promoted standby", func() bool {
			short, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			var p int
			err := db.QueryRowContext(short, "INSERT INTO writes DEFAULT VALUES RETURNING inet_server_port()").Scan(&p)
			return err == nil && p == standby.Port()
		})
	}
}
