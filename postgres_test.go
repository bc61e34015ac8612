package sqlpool_test

// Server-side truth: what PostgreSQL itself sees (pg_stat_activity) while
// applications use sqlpool through lib/pq and pgx's stdlib.

import (
	"context"
	"database/sql"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// pgDrivers are the inner drivers every PostgreSQL test runs through.
var pgDrivers = []string{"postgres", "pgx"}

// openPG opens a sqlpool DB on the test database through inner, with a
// unique application_name (returned) so the test can find its backends, and
// the given pool_* parameters.
func openPG(t *testing.T, inner string, params ...string) (*sql.DB, string) {
	t.Helper()
	app := testdb.AppName(t)
	dsn := inner + ":" + testdb.WithParams(testdb.PostgresURL(t), append([]string{"application_name", app}, params...)...)
	db, err := sql.Open("sqlpool", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, app
}

func stat(t *testing.T, db *sql.DB) sqlpool.Stat {
	t.Helper()
	s, err := sqlpool.DBStat(context.Background(), db)
	if err != nil {
		t.Fatalf("DBStat: %v", err)
	}
	return s
}

// warm makes the pool open n physical connections by holding n sql.Conns at
// once, each having run a query, and returns their backend pids.
func warm(t *testing.T, db *sql.DB, n int) []int {
	t.Helper()
	ctx := context.Background()
	var pids []int
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	slices.Sort(pids)
	return pids
}

func TestPostgresMaxConnsCapsServerBackendsUnderHundredGoroutines(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, app := openPG(t, inner, "pool_max_conns", "5")
			admin := testdb.Admin(t)

			var maxSeen atomic.Int64
			stop := make(chan struct{})
			monitorDone := make(chan struct{})
			go func() {
				defer close(monitorDone)
				for {
					n := int64(len(testdb.Backends(t, admin, app)))
					if n > maxSeen.Load() {
						maxSeen.Store(n)
					}
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()

			var wg sync.WaitGroup
			var failures atomic.Int64
			pids := sync.Map{}
			for range 100 {
				wg.Go(func() {
					for range 10 {
						var pid int
						if err := db.QueryRow("SELECT pg_backend_pid() FROM pg_sleep(0.001)").Scan(&pid); err != nil {
							failures.Add(1)
							t.Errorf("query: %v", err)
							return
						}
						pids.Store(pid, true)
					}
				})
			}
			wg.Wait()
			close(stop)
			<-monitorDone

			distinct := 0
			pids.Range(func(any, any) bool { distinct++; return true })
			if got := maxSeen.Load(); got > 5 || got == 0 {
				t.Errorf("backends seen in pg_stat_activity at once: got %d, want 1..5", got)
			}
			if distinct > 5 {
				t.Errorf("distinct backend pids serving queries: got %d, want <= 5", distinct)
			}
			if s := stat(t, db); s.CreatedCount > 5 {
				t.Errorf("physical connections created: got %d, want <= 5", s.CreatedCount)
			}
			t.Logf("max backends at once %d, distinct pids %d, failures %d", maxSeen.Load(), distinct, failures.Load())
		})
	}
}

func TestPostgresConnectionPerRequestReusesTheSameBackends(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, app := openPG(t, inner, "pool_max_conns", "4")
			db.SetMaxIdleConns(0) // database/sql closes every connection it gets back
			admin := testdb.Admin(t)

			pids := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 250 {
						var pid int
						if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
							t.Errorf("query: %v", err)
							return
						}
						mu.Lock()
						pids[pid]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()

			total := 0
			for _, n := range pids {
				total += n
			}
			if total != 1000 {
				t.Fatalf("queries served: got %d, want 1000", total)
			}
			if len(pids) > 4 {
				t.Errorf("distinct backends for 1000 queries: got %d, want <= 4", len(pids))
			}
			s := stat(t, db)
			if s.CreatedCount > 4 {
				t.Errorf("physical connections created: got %d, want <= 4 (no reconnect per request)", s.CreatedCount)
			}
			live := testdb.Backends(t, admin, app)
			for pid := range pids {
				if !slices.Contains(live, pid) {
					t.Errorf("backend %d served queries but is gone from pg_stat_activity (%v): it was reconnected", pid, live)
				}
			}
			t.Logf("1000 queries on %d backends, %d created", len(pids), s.CreatedCount)
		})
	}
}

// killBackends terminates the given backends and waits until the server has
// removed them.
func killBackends(t *testing.T, admin *sql.DB, app string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if _, err := admin.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatalf("pg_terminate_backend(%d): %v", pid, err)
		}
	}
	testdb.WaitFor(t, "terminated backends to leave pg_stat_activity", func() bool {
		live := testdb.Backends(t, admin, app)
		for _, pid := range pids {
			if slices.Contains(live, pid) {
				return false
			}
		}
		return true
	})
}

func TestPostgresPrePingHidesTerminatedIdleBackendsAfterIdlePause(t *testing.T) {
	const pingIdleAfter = 200 * time.Millisecond
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, app := openPG(t, inner, "pool_max_conns", "5", "pool_ping_idle_after", pingIdleAfter.String())
			admin := testdb.Admin(t)
			pids := warm(t, db, 5)
			killBackends(t, admin, app, pids)
			// The scenario under test is a pause: connections idle for longer
			// than pool_ping_idle_after are pinged before use.
			time.Sleep(pingIdleAfter + 50*time.Millisecond)

			before := stat(t, db)
			var wg sync.WaitGroup
			var failed atomic.Int64
			for range 10 {
				wg.Go(func() {
					for range 10 {
						var one int
						if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
							failed.Add(1)
							t.Errorf("query after the kill: %v", err)
						}
					}
				})
			}
			wg.Wait()
			after := stat(t, db)
			if failed.Load() != 0 {
				t.Errorf("queries that failed after the kill: got %d, want 0", failed.Load())
			}
			if got := after.DestroyedCount(pool.ReasonCheck) - before.DestroyedCount(pool.ReasonCheck); got < 1 {
				t.Errorf("connections destroyed by pre-ping: got %d, want >= 1", got)
			}
			for _, pid := range testdb.Backends(t, admin, app) {
				if slices.Contains(pids, pid) {
					t.Errorf("killed backend %d still listed", pid)
				}
			}
		})
	}
}

func TestPostgresTerminatedBackendsReachTheApplicationAtMostOnceWithoutPause(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			// No idle-time ping can help here: only the reaction to the first
			// failure (ping every idle connection before reuse) can.
			db, app := openPG(t, inner, "pool_max_conns", "5", "pool_ping_idle_after", "1h")
			admin := testdb.Admin(t)
			pids := warm(t, db, 5)
			killBackends(t, admin, app, pids)

			var errs []int
			for i := range 100 {
				var one int
				if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
					errs = append(errs, i)
					t.Logf("query %d: %v", i, err)
				}
			}
			if len(errs) > 1 || (len(errs) == 1 && errs[0] != 0) {
				t.Errorf("queries that failed: %v, want at most query 0", errs)
			}
			s := stat(t, db)
			if s.DestroyedCount(pool.ReasonCheck)+s.DestroyedCount(pool.ReasonBroken) < 5 {
				t.Errorf("killed connections destroyed: got %d by check + %d broken, want 5 in all",
					s.DestroyedCount(pool.ReasonCheck), s.DestroyedCount(pool.ReasonBroken))
			}
		})
	}
}

func TestPostgresMaxConnLifetimeReplacesEveryBackendUnderLoad(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, app := openPG(t, inner, "pool_max_conns", "4", "pool_max_conn_lifetime", "1s", "pool_max_conn_lifetime_jitter", "200ms")
			admin := testdb.Admin(t)
			first := warm(t, db, 4)

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var served, failed atomic.Int64
			for range 8 {
				wg.Go(func() {
					for ctx.Err() == nil {
						var one int
						if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
							if ctx.Err() == nil {
								failed.Add(1)
								t.Errorf("query under load: %v", err)
							}
							continue
						}
						served.Add(1)
					}
				})
			}
			testdb.WaitFor(t, "every first-generation backend to be replaced", func() bool {
				live := testdb.Backends(t, admin, app)
				for _, pid := range first {
					if slices.Contains(live, pid) {
						return false
					}
				}
				return len(live) > 0
			})
			cancel()
			wg.Wait()
			s := stat(t, db)
			if got := s.DestroyedCount(pool.ReasonLifetime); got < 4 {
				t.Errorf("connections retired by lifetime: got %d, want >= 4", got)
			}
			if failed.Load() != 0 {
				t.Errorf("queries failed during rotation: got %d, want 0", failed.Load())
			}
			if live := testdb.Backends(t, admin, app); len(live) > 4 {
				t.Errorf("backends after rotation: got %d, want <= 4", len(live))
			}
			t.Logf("served %d queries while %d connections rotated", served.Load(), s.DestroyedCount(pool.ReasonLifetime))
		})
	}
}

// poolGoroutines counts goroutines running sqlpool's pool code.
func poolGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/sqlpool/sqlpool/pool.") {
			n++
		}
	}
	return n
}

func TestPostgresPoolShareSharesOnePoolAndLastCloseLeavesNoBackendsOrGoroutines(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			app := testdb.AppName(t)
			goroutinesBefore := poolGoroutines()
			dsn := inner + ":" + testdb.WithParams(testdb.PostgresURL(t), "application_name", app,
				"pool_max_conns", "3", "pool_min_conns", "2", "pool_health_check_period", "50ms", "pool_share", "true")
			db1, err := sql.Open("sqlpool", dsn)
			if err != nil {
				t.Fatal(err)
			}
			db2, err := sql.Open("sqlpool", dsn)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, db := range []*sql.DB{db1, db2, db1, db2, db1, db2} {
				wg.Go(func() {
					for range 50 {
						if _, err := db.Exec("SELECT pg_sleep(0.001)"); err != nil {
							t.Errorf("exec: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			s1, s2 := stat(t, db1), stat(t, db2)
			if s1.Name != s2.Name {
				t.Errorf("pools of two sql.Open with one DSN: %q and %q, want the same", s1.Name, s2.Name)
			}
			if live := testdb.Backends(t, admin, app); len(live) > 3 {
				t.Errorf("backends for two DBs sharing pool_max_conns=3: got %d", len(live))
			}

			db1.Close()
			if err := db2.Ping(); err != nil {
				t.Fatalf("the pool closed with the first DB: %v", err)
			}
			if _, err := db2.Exec("SELECT 1"); err != nil {
				t.Fatalf("query on the second DB after the first closed: %v", err)
			}
			db2.Close()

			testdb.WaitFor(t, "no backends after the last DB.Close", func() bool {
				return len(testdb.Backends(t, admin, app)) == 0
			})
			testdb.WaitFor(t, "no pool goroutines after the last DB.Close", func() bool {
				return poolGoroutines() <= goroutinesBefore
			})
		})
	}
}
