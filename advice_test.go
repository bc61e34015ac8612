package sqlpool_test

// Sizing advice and alerts on the real PostgreSQL and MariaDB: loads whose
// right answer is known, and the server's connection limits.

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// pgSleepLoad runs, for d, an open load of rate statements a second that
// each sleep hold on the server (pg_sleep), each on a goroutine of its own
// as requests arrive at a server, and returns the rate it achieved.
func pgSleepLoad(db *sql.DB, rate int, hold, d time.Duration) float64 {
	ctx := context.Background()
	q := fmt.Sprintf("SELECT pg_sleep(%g)", hold.Seconds())
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		<-tick.C
		n++
		wg.Go(func() { db.ExecContext(ctx, q) }) // those the pool turns away time out
	}
	elapsed := time.Since(start)
	wg.Wait()
	return float64(n) / elapsed.Seconds()
}

func TestAdviceOnPostgresMatchesTheArithmetic(t *testing.T) {
	if testing.Short() {
		t.Skip("a load of 8 seconds")
	}
	// 100 statements a second, each holding its connection 50ms, keep 5
	// connections busy (L = λW). A pool of 2 is too small, 12 right (room
	// for the p99 and bursts), 50 more than twice the advice.
	const rate, hold, load = 100, 50 * time.Millisecond, 8 * time.Second
	u := testdb.PostgresURL(t)
	var mu sync.Mutex
	var utilization []sqlpool.Alert
	for _, tc := range []struct {
		maxConns int
		verdict  sqlpool.Verdict
	}{
		{2, sqlpool.VerdictUndersized},
		{12, sqlpool.VerdictRight},
		{50, sqlpool.VerdictOversized},
	} {
		t.Run(strconv.Itoa(tc.maxConns), func(t *testing.T) {
			t.Parallel() // three loads at once: a server sees several pools
			dsn := "postgres:" + testdb.WithParams(u, "application_name", testdb.AppName(t),
				"pool_max_conns", strconv.Itoa(tc.maxConns), "pool_acquire_timeout", "500ms", "pool_alert_window", "2s")
			opts := []sqlpool.Option{}
			if tc.maxConns == 2 {
				opts = append(opts, sqlpool.WithOnAlert(func(a sqlpool.Alert) {
					if a.Name == sqlpool.AlertUtilization {
						mu.Lock()
						utilization = append(utilization, a)
						mu.Unlock()
					}
				}))
			}
			c, err := sqlpool.NewConnector(dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			achieved := pgSleepLoad(db, rate, hold, load)
			a, err := sqlpool.Advise(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("pool_max_conns=%d, %.0f statements/s: %s %s", tc.maxConns, achieved, a.Verdict, a.Reason)

			if a.Verdict != tc.verdict {
				t.Errorf("verdict %q, want %q", a.Verdict, tc.verdict)
			}
			// λ: within 15% of what arrived (the window starts at the
			// pool's first mark, a sample or so into the load, and ends
			// after its drain).
			if a.ArrivalRate < 0.85*achieved || a.ArrivalRate > 1.15*achieved {
				t.Errorf("arrival rate %.1f/s, want within 15%% of the load's %.1f/s", a.ArrivalRate, achieved)
			}
			// W: the sleep, plus the round trip and database/sql's work.
			if a.HoldMean < hold || a.HoldMean > hold+20*time.Millisecond {
				t.Errorf("mean hold %v, want the sleep of %v plus at most 20ms", a.HoldMean, hold)
			}
			want := achieved * hold.Seconds()
			if a.BusyMean < 0.85*want || a.BusyMean > 1.5*want {
				t.Errorf("busy mean %.2f, want λW = %.2f (within -15%%/+50%%: W includes the round trip)", a.BusyMean, want)
			}
			// The advice: 1.5 × the busy p99, which is at least λW and, on
			// a load this regular, not twice it.
			if lo, hi := int(1.5*0.85*want), int(1.5*2*want)+1; a.RecommendedMaxConns < lo || a.RecommendedMaxConns > hi {
				t.Errorf("recommended pool_max_conns=%d, want 1.5 × the busy p99: %d to %d", a.RecommendedMaxConns, lo, hi)
			}
			if a.ServerLimit == 0 || a.PoolsOnServer < 1 {
				t.Errorf("server limit %d over %d pools, want the server's read", a.ServerLimit, a.PoolsOnServer)
			}
			if tc.maxConns != 2 {
				return
			}
			// The undersized pool was fully in use: its utilization alert
			// fired, once, and clears once the load is gone and a window
			// has passed.
			testdb.WaitFor(t, "the utilization alert to clear", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(utilization) >= 2
			})
			mu.Lock()
			got := append([]sqlpool.Alert(nil), utilization...)
			mu.Unlock()
			if len(got) != 2 || !got[0].Firing || got[1].Firing {
				t.Fatalf("utilization alerts: %+v; want one firing, one clearing", got)
			}
			// The alert fired 3s into the load, before the advice had
			// its five samples; it cleared with the advice read.
			if got[0].Value <= 0.8 || got[1].Advice.Verdict != sqlpool.VerdictUndersized || got[1].Advice.RecommendedMaxConns <= 2 {
				t.Errorf("utilization %.2f when firing, advice %q (pool_max_conns=%d) when clearing; want above 0.8, undersized with more than 2",
					got[0].Value, got[1].Advice.Verdict, got[1].Advice.RecommendedMaxConns)
			}
		})
	}
}

func TestAdviceReadsTheServersLimitForTheRole(t *testing.T) {
	admin := testdb.Admin(t)
	role := fmt.Sprintf("sqlpool_limit_%d", time.Now().UnixNano()%1e9)
	if _, err := admin.Exec("CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 5"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP ROLE " + role) })
	u, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	dsn := "postgres:" + testdb.WithParams(u.String(), "pool_max_conns", "4")
	ctx := context.Background()

	open := func() *sql.DB {
		db, err := sql.Open("sqlpool", dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PingContext(ctx); err != nil { // the first dial reads the limit
			t.Fatal(err)
		}
		return db
	}
	db := open()
	a, err := sqlpool.Advise(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if a.ServerLimit != 5 || a.PoolsOnServer != 1 || a.Warning != "" {
		t.Errorf("one pool of 4 for a role limited to 5: server limit %d, pools %d, warning %q; want 5, 1, none", a.ServerLimit, a.PoolsOnServer, a.Warning)
	}
	// Two pools of 4 could open 8 of the role's 5.
	db2 := open()
	a, err = sqlpool.Advise(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if a.ServerLimit != 5 || a.PoolsOnServer != 2 || !strings.Contains(a.Warning, "8") || !strings.Contains(a.Warning, "5") {
		t.Errorf("two pools of 4: server limit %d, pools %d, warning %q; want 5, 2, and a warning of 8 over 5", a.ServerLimit, a.PoolsOnServer, a.Warning)
	}
	db2.Close()
	db.Close()

	// A role without a limit is bounded by max_connections less the
	// connections reserved for superusers.
	var maxConns, reserved int
	if err := admin.QueryRow("SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0)").Scan(&maxConns, &reserved); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("ALTER ROLE " + role + " CONNECTION LIMIT -1"); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	if a, err = sqlpool.Advise(ctx, db); err != nil {
		t.Fatal(err)
	}
	if a.ServerLimit != maxConns-reserved {
		t.Errorf("a role without a limit: server limit %d, want max_connections %d less %d reserved", a.ServerLimit, maxConns, reserved)
	}
}

func TestAdviceReadsMariaDBsLimit(t *testing.T) {
	inner := testdb.MySQLDSN(t)
	db, err := sql.Open("sqlpool", "mysql:"+inner)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var want int
	if err := db.QueryRow("SELECT @@GLOBAL.max_connections").Scan(&want); err != nil {
		t.Fatal(err)
	}
	a, err := sqlpool.Advise(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if a.ServerLimit != want {
		t.Errorf("server limit %d, want max_connections %d (root has no max_user_connections)", a.ServerLimit, want)
	}
}
