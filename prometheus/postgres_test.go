package sqlpoolprom_test

// Against the real PostgreSQL: a scripted load whose outcome is known,
// scraped over HTTP as Prometheus would, and held to what the pool and the
// server (pg_stat_activity) say. The tests skip when the server is not
// reachable, and fail under CI=true (internal/testdb).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// openPG opens a sqlpool database on the test database through lib/pq,
// its pool named after the test and application_name the same (returned),
// so that the test can find both its series and its backends.
func openPG(t *testing.T, params ...string) (*sql.DB, string) {
	t.Helper()
	app := testdb.AppName(t)
	dsn := "postgres:" + testdb.WithParams(testdb.PostgresURL(t), append([]string{"application_name", app, "pool_name", app}, params...)...)
	db, err := sql.Open("sqlpool", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, app
}

// hold takes n sql.Conns from db, each having run a query (so each holds a
// physical connection), and returns them.
func hold(t *testing.T, db *sql.DB, n int) []*sql.Conn {
	t.Helper()
	ctx := context.Background()
	var cs []*sql.Conn
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

func release(t *testing.T, cs []*sql.Conn) {
	t.Helper()
	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// settle waits until db's pool is at rest: nothing in use (a session
// given back by a logical connection database/sql closed is reset after
// its release, counted in use meanwhile), dialed or queued.
func settle(t *testing.T, db *sql.DB) {
	t.Helper()
	testdb.WaitFor(t, "the pool to come to rest", func() bool {
		s := stat(t, db)
		return s.InUse == 0 && s.Constructing == 0 && s.Waiting == 0
	})
}

// sampled waits for the first sample of db's pool's history: what happens
// before it is no sample's to count, nor its alerts'.
func sampled(t *testing.T, db *sql.DB) {
	t.Helper()
	testdb.WaitFor(t, "the pool's first sample", func() bool {
		s, err := sqlpool.DBSnapshot(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		return len(s.History) > 0
	})
}

func stat(t *testing.T, db *sql.DB) sqlpool.Stat {
	t.Helper()
	s, err := sqlpool.DBStat(context.Background(), db)
	if err != nil {
		t.Fatalf("DBStat: %v", err)
	}
	return s
}

// maxConnections is what the server accepts from the test's user: the
// superuser postgres, so max_connections (Advice.ServerLimit).
func maxConnections(t *testing.T, admin *sql.DB) float64 {
	t.Helper()
	var n float64
	if err := admin.QueryRow("SELECT current_setting('max_connections')::int").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var super bool
	if err := admin.QueryRow("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("the test database's user is not a superuser: the server's limit for it depends on reserved connections")
	}
	return n
}

// The script: pool_max_conns=3; three connections held, a fourth acquire
// that times out at pool_acquire_timeout=50ms (one wait, one timeout, and
// the exhaustion and acquire_timeouts alerts), ten queries, then the three
// backends terminated by the server, which the pre-ping (pool_ping_idle_after=0)
// finds on the next three acquires: three pre-ping failures, three new
// connections.
func TestPostgresScrapeShowsTheScriptedLoadExactly(t *testing.T) {
	db, app := openPG(t, "pool_max_conns", "3", "pool_acquire_timeout", "50ms", "pool_ping_idle_after", "0")
	// database/sql keeps every shell it gets back, so that it closes none:
	// no session reset comes between the script's steps.
	db.SetMaxIdleConns(10)
	admin := testdb.Admin(t)
	reg := newRegistry(t, app)
	ctx := context.Background()
	name := []string{"db_name", app}
	backends := func() float64 { return float64(len(testdb.Backends(t, admin, app))) }
	sampled(t, db)

	cs := hold(t, db, 3)
	f := scrape(t, reg)
	f.want(t, 3, "go_sql_max_open_connections", name...)
	f.want(t, 3, "go_sql_open_connections", name...)
	f.want(t, 3, "go_sql_in_use_connections", name...)
	f.want(t, 0, "go_sql_idle_connections", name...)
	f.want(t, backends(), "go_sql_open_connections", name...)

	// The fourth acquire queues behind the three and times out.
	c4, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c4.PingContext(ctx); !errors.Is(err, sqlpool.ErrAcquireTimeout) {
		t.Fatalf("a fourth acquire of three: got %v, want ErrAcquireTimeout", err)
	}
	c4.Close()
	// While the three are still held, the sampler (once a second) sees the
	// timeout and the wait with every connection in use.
	testdb.WaitFor(t, "the acquire_timeouts alert to fire", func() bool {
		f := scrape(t, reg)
		return f.value(t, "sqlpool_alert_firing", "db_name", app, "alert", sqlpool.AlertAcquireTimeouts) == 1
	})
	f = scrape(t, reg)
	f.want(t, 1, "sqlpool_alert_firing", "db_name", app, "alert", sqlpool.AlertExhaustion)
	f.want(t, 1, "sqlpool_alert_value", "db_name", app, "alert", sqlpool.AlertAcquireTimeouts)
	f.want(t, 0, "sqlpool_alert_firing", "db_name", app, "alert", sqlpool.AlertDialErrors)
	f.want(t, 0, "sqlpool_alert_value", "db_name", app, "alert", sqlpool.AlertDialErrors)
	for alert, threshold := range map[string]float64{
		sqlpool.AlertUtilization: 0.8, sqlpool.AlertWait: 0.25, sqlpool.AlertExhaustion: 0,
		sqlpool.AlertAcquireTimeouts: 0, sqlpool.AlertDialErrors: 0.5,
	} {
		f.want(t, threshold, "sqlpool_alert_threshold", "db_name", app, "alert", alert)
	}
	if got := len(f["sqlpool_alert_firing"].GetMetric()); got != 5 {
		t.Errorf("sqlpool_alert_firing: got %d alerts, want the 5 on by default", got)
	}
	release(t, cs)

	for range 10 {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}

	// The server closes the three idle sessions; the pre-ping before each
	// hand-out finds them dead, and the pool dials anew.
	if _, err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
		t.Fatal(err)
	}
	testdb.WaitFor(t, "the terminated backends to exit", func() bool { return backends() == 0 })
	release(t, hold(t, db, 3))
	testdb.WaitFor(t, "three new backends", func() bool { return backends() == 3 })
	settle(t, db)

	f = scrape(t, reg)
	s := stat(t, db) // the pool is at rest: the scrape and the Stat agree on everything
	f.wantStat(t, app, s)

	f.want(t, 3, "go_sql_max_open_connections", name...)
	f.want(t, 3, "go_sql_open_connections", name...)
	f.want(t, backends(), "go_sql_open_connections", name...)
	f.want(t, 0, "go_sql_in_use_connections", name...)
	f.want(t, 3, "go_sql_idle_connections", name...)
	// An acquire that finds no idle connection queues, whether for one to
	// come back or for the one it dials: 3 dials, the timeout, 3 dials.
	f.want(t, 7, "go_sql_wait_count_total", name...)
	f.want(t, 0, "go_sql_max_idle_closed_total", name...)
	f.want(t, 0, "go_sql_max_idle_time_closed_total", name...)
	f.want(t, 0, "go_sql_max_lifetime_closed_total", name...)
	if w := f.value(t, "go_sql_wait_duration_seconds_total", name...); w < 0.05 {
		t.Errorf("go_sql_wait_duration_seconds_total: got %v, want at least the 50ms timeout", w)
	}
	f.want(t, 0, "sqlpool_pending_requests", name...)
	f.want(t, 0, "sqlpool_dialing_connections", name...)
	f.want(t, 0, "sqlpool_min_open_connections", name...)
	f.want(t, 3+10+3, "sqlpool_acquires_total", name...)
	f.want(t, 1, "sqlpool_acquire_timeouts_total", name...)
	f.want(t, 0, "sqlpool_leaks_total", name...)
	f.want(t, 0, "sqlpool_leak_suspect_connections", name...)
	f.want(t, 3, "sqlpool_preping_failures_total", name...)
	f.want(t, 3, "sqlpool_connections_destroyed_total", "db_name", app, "reason", pool.ReasonCheck.String())
	f.want(t, 3+3, "sqlpool_connections_created_total", name...)
	f.want(t, 0, "sqlpool_dial_errors_total", name...)
	snap, err := sqlpool.DBSnapshot(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f.want(t, 1, "sqlpool_info", "db_name", app, "driver", "postgres", "system", "postgresql", "namespace", snap.Namespace, "server", snap.Server)
	if snap.Namespace == "" || snap.Server == "" {
		t.Errorf("DBSnapshot: namespace %q, server %q, want the test database's", snap.Namespace, snap.Server)
	}

	// Every hand-out ended, 16, and so did the 3 that failed their
	// pre-ping: 19 holds. Of the 7 waits, the timeout lasted 50ms or more:
	// at most 6 in the buckets up to 2^25ns (33.5ms).
	hold := f.histogram(t, "sqlpool_hold_duration_seconds", name...)
	if hold.GetSampleCount() != 16+3 {
		t.Errorf("sqlpool_hold_duration_seconds_count: got %d, want 19", hold.GetSampleCount())
	}
	wait := f.histogram(t, "sqlpool_wait_duration_seconds", name...)
	if wait.GetSampleCount() != 7 || wait.GetSampleSum() < 0.05 {
		t.Errorf("sqlpool_wait_duration_seconds: got count %d sum %v, want 7 and at least 0.05", wait.GetSampleCount(), wait.GetSampleSum())
	}
	for _, b := range wait.GetBucket() {
		if b.GetUpperBound() < 0.05 && b.GetCumulativeCount() > 6 {
			t.Errorf("sqlpool_wait_duration_seconds_bucket{le=%v}: got %d, want 6 at most (one wait lasted 50ms)", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}

	// The advice: the server's limit is read at the first dial. The
	// script offered 17 acquires (16 served, 1 timed out), fewer than the
	// 20 the advice needs: not enough data, and its numbers 0.
	f.want(t, maxConnections(t, admin), "sqlpool_advice_server_connection_limit", name...)
	for v, want := range map[sqlpool.Verdict]float64{sqlpool.VerdictNotEnoughData: 1, sqlpool.VerdictUndersized: 0, sqlpool.VerdictRight: 0, sqlpool.VerdictOversized: 0} {
		f.want(t, want, "sqlpool_advice_verdict", "db_name", app, "verdict", string(v))
	}
	for _, n := range []string{"sqlpool_advice_acquires_per_second", "sqlpool_advice_hold_mean_seconds",
		"sqlpool_advice_hold_p99_seconds", "sqlpool_advice_busy_mean_connections", "sqlpool_advice_busy_p99_connections",
		"sqlpool_advice_waited_ratio", "sqlpool_advice_wait_p99_seconds", "sqlpool_advice_recommended_max_connections"} {
		f.want(t, 0, n, name...)
	}
	if w := f.value(t, "sqlpool_advice_window_seconds", name...); w <= 0 || w > 300 {
		t.Errorf("sqlpool_advice_window_seconds: got %v, want the pool's history so far, up to 300", w)
	}
}

// Closes by lifetime and idle time, and a leak, each in a pool of its own
// so that the one reason is the only one possible.
func TestPostgresScrapeCountsClosesByLifetimeAndIdleTimeAndLeaks(t *testing.T) {
	t.Run("lifetime", func(t *testing.T) {
		db, app := openPG(t, "pool_max_conn_lifetime", "50ms", "pool_max_conn_lifetime_jitter", "0")
		reg := newRegistry(t, app)
		cs := hold(t, db, 1)
		// Held past its lifetime, the connection is closed as it comes back
		// (never while in use).
		start := time.Now()
		testdb.WaitFor(t, "the lifetime to pass", func() bool { return time.Since(start) > 60*time.Millisecond })
		release(t, cs)
		settle(t, db)
		f := scrape(t, reg)
		f.wantStat(t, app, stat(t, db))
		f.want(t, 1, "go_sql_max_lifetime_closed_total", "db_name", app)
		f.want(t, 1, "sqlpool_connections_destroyed_total", "db_name", app, "reason", "lifetime")
		f.want(t, 0, "go_sql_open_connections", "db_name", app)
		// The one hold lasted the lifetime: none up to 2^25ns (33.5ms).
		for _, b := range f.histogram(t, "sqlpool_hold_duration_seconds", "db_name", app).GetBucket() {
			if want := uint64(1); b.GetUpperBound() > 60 && b.GetCumulativeCount() != want || b.GetUpperBound() < 0.05 && b.GetCumulativeCount() != 0 {
				t.Errorf("sqlpool_hold_duration_seconds_bucket{le=%v}: got %d", b.GetUpperBound(), b.GetCumulativeCount())
			}
		}
	})
	t.Run("idle", func(t *testing.T) {
		db, app := openPG(t, "pool_max_conn_idle_time", "20ms", "pool_health_check_period", "10ms")
		reg := newRegistry(t, app)
		release(t, hold(t, db, 1))
		settle(t, db)
		testdb.WaitFor(t, "the health check to close the idle connection", func() bool {
			return scrape(t, reg).value(t, "go_sql_max_idle_time_closed_total", "db_name", app) == 1
		})
		f := scrape(t, reg)
		f.wantStat(t, app, stat(t, db))
		f.want(t, 1, "sqlpool_connections_destroyed_total", "db_name", app, "reason", "idle")
		f.want(t, 0, "go_sql_open_connections", "db_name", app)
		f.want(t, 0, "go_sql_idle_connections", "db_name", app)
	})
	t.Run("leak", func(t *testing.T) {
		db, app := openPG(t, "pool_leak_threshold", "20ms")
		reg := newRegistry(t, app)
		cs := hold(t, db, 1)
		testdb.WaitFor(t, "the leak report", func() bool {
			f := scrape(t, reg)
			return f.value(t, "sqlpool_leaks_total", "db_name", app) == 1 && f.value(t, "sqlpool_leak_suspect_connections", "db_name", app) == 1
		})
		release(t, cs)
		settle(t, db)
		f := scrape(t, reg)
		f.wantStat(t, app, stat(t, db))
		f.want(t, 1, "sqlpool_leaks_total", "db_name", app)
		f.want(t, 0, "sqlpool_leak_suspect_connections", "db_name", app)
	})
}

// The claim of the README and the package: on a sqlpool *sql.DB,
// client_golang's DBStatsCollector counts database/sql's shells, this
// collector the physical connections the server sees. With
// SetMaxIdleConns(0), database/sql closes every shell it gets back while
// sqlpool keeps the three server connections.
func TestPostgresGrafanaQueriesOfGoSQLNamesCountPhysicalConnectionsNotShells(t *testing.T) {
	db, app := openPG(t, "pool_max_conns", "3")
	db.SetMaxIdleConns(0)
	admin := testdb.Admin(t)
	ours := newRegistry(t, app)
	theirs := prometheus.NewRegistry()
	theirs.MustRegister(collectors.NewDBStatsCollector(db, app))
	backends := func() float64 { return float64(len(testdb.Backends(t, admin, app))) }

	// sum by (db_name) (go_sql_open_connections), go_sql_in_use_connections
	// and go_sql_max_open_connections, as a Grafana panel queries them.
	query := func(f families) (open, inUse, max float64) {
		return f.sumBy("go_sql_open_connections", "db_name")[app],
			f.sumBy("go_sql_in_use_connections", "db_name")[app],
			f.sumBy("go_sql_max_open_connections", "db_name")[app]
	}
	check := func(phase string, wantOurs, wantTheirs [3]float64) {
		t.Helper()
		o1, o2, o3 := query(scrape(t, ours))
		t1, t2, t3 := query(scrape(t, theirs))
		if got := [3]float64{o1, o2, o3}; got != wantOurs {
			t.Errorf("%s: sqlpoolprom's open, in use, max: got %v, want %v", phase, got, wantOurs)
		}
		if got := [3]float64{t1, t2, t3}; got != wantTheirs {
			t.Errorf("%s: DBStatsCollector's open, in use, max: got %v, want %v", phase, got, wantTheirs)
		}
		if b := backends(); o1 != b {
			t.Errorf("%s: sqlpoolprom's go_sql_open_connections is %v, pg_stat_activity shows %v backends", phase, o1, b)
		}
		st := db.Stats()
		if t1 != float64(st.OpenConnections) || t2 != float64(st.InUse) {
			t.Errorf("%s: DBStatsCollector says %v open, %v in use; sql.DB.Stats %d and %d", phase, t1, t2, st.OpenConnections, st.InUse)
		}
		s := stat(t, db)
		if o1 != float64(s.Total) || o2 != float64(s.InUse) {
			t.Errorf("%s: sqlpoolprom says %v open, %v in use; sqlpool.DBStat %d and %d", phase, o1, o2, s.Total, s.InUse)
		}
	}

	cs := hold(t, db, 3)
	// In use, both layers agree but on the cap: database/sql has none.
	check("three held", [3]float64{3, 3, 3}, [3]float64{3, 3, 0})
	release(t, cs)
	settle(t, db)
	// Given back, database/sql closes its three shells; the server
	// connections stay open in sqlpool's pool.
	check("three given back", [3]float64{3, 0, 3}, [3]float64{0, 0, 0})
	for i := range 20 {
		if _, err := db.Exec(fmt.Sprintf("SELECT %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, db)
	check("twenty queries later", [3]float64{3, 0, 3}, [3]float64{0, 0, 0})
	if got := db.Stats().MaxIdleClosed; got < 23 {
		t.Errorf("database/sql closed %d shells, want one per hand-out, 23 at least", got)
	}
	if got := scrape(t, theirs).value(t, "go_sql_max_idle_closed_total", "db_name", app); got != float64(db.Stats().MaxIdleClosed) {
		t.Errorf("DBStatsCollector's go_sql_max_idle_closed_total: got %v, want %d", got, db.Stats().MaxIdleClosed)
	}
	f := scrape(t, ours)
	// Each of the 23 sessions database/sql closed a shell on was reset
	// (DISCARD ALL) before it served another.
	f.want(t, 23, "sqlpool_session_resets_total", "db_name", app)
	f.want(t, 0, "go_sql_max_idle_closed_total", "db_name", app)
	f.want(t, 3, "sqlpool_connections_created_total", "db_name", app)
}
