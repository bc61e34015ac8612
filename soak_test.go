package sqlpool_test

import (
	"context"
	"database/sql"
	"flag"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/soak"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

var soakFor = flag.Duration("sqlpool.soak", 2*time.Second,
	"how long TestSoak runs its load on each driver (go test -run TestSoak -sqlpool.soak=10m for a long soak)")

// TestSoak runs a random mix of queries, statements, transactions, sql.Conns,
// prepared statements and operations canceled midway from 16 goroutines on
// a pool of 4 connections that live 300ms each, for -sqlpool.soak on each
// driver. No fault is injected: every operation must succeed or end by its
// own cancellation, every answer must be right, and once the DB is closed
// no goroutine, file descriptor or server backend it opened may remain.
func TestSoak(t *testing.T) {
	const maxConns, goroutines = 4, 16
	params := []string{"pool_max_conns", strconv.Itoa(maxConns), "pool_min_conns", "2",
		"pool_max_conn_lifetime", "300ms", "pool_ping_idle_after", "5ms", "pool_health_check_period", "50ms"}
	for _, inner := range append(pgDrivers, "mysql") {
		t.Run(inner, func(t *testing.T) {
			var (
				admin   *sql.DB
				app     string
				dialect = soak.Postgres
				db      *sql.DB
			)
			if inner == "mysql" {
				dsn := testdb.MySQLDSN(t)
				dialect = soak.MySQL
				before := takeStock()
				var err error
				db, err = sql.Open("sqlpool", "mysql:"+dsn+"?"+pairs(params))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				runSoak(t, db, dialect, goroutines)
				db.Close()
				nothingLeft(t, before, nil, "")
				return
			}
			admin = testdb.Admin(t)
			before := takeStock()
			db, app = openPG(t, inner, params...)
			runSoak(t, db, dialect, goroutines)
			if n := len(testdb.Backends(t, admin, app)); n > maxConns {
				t.Errorf("%d server backends after the soak, want at most pool_max_conns (%d)", n, maxConns)
			}
			db.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

func pairs(kv []string) string {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + kv[i+1])
	}
	return b.String()
}

func runSoak(t *testing.T, db *sql.DB, dialect soak.Dialect, goroutines int) {
	t.Helper()
	ctx := context.Background()
	cfg := soak.Config{Goroutines: goroutines, Duration: *soakFor, Dialect: dialect, Table: "soak_" + strings.ToLower(testdb.AppName(t))}
	if err := soak.Setup(ctx, db, cfg); err != nil {
		t.Fatal(err)
	}
	defer soak.Teardown(ctx, db, cfg)
	res, err := soak.Run(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d operations %v, %d canceled as meant, %d errors", res.Seed, res.Total(), res.Ops, res.Canceled, res.Errors)
	if res.Errors != 0 {
		t.Errorf("%d operations failed or answered wrong (seed %d), first: %q", res.Errors, res.Seed, res.FirstErrors)
	}
	for op, n := range res.Ops {
		if n == 0 {
			t.Errorf("no %v operation ran", soak.Op(op))
		}
	}
	if res.Canceled == 0 {
		t.Error("no operation was canceled: the mix did not test cancellation")
	}
	// database/sql gives back the connections of canceled rows and
	// transactions from goroutines of its own, a moment after the
	// operation has returned.
	testdb.WaitFor(t, "no connection in use or waited for after the soak", func() bool {
		s := stat(t, db)
		return s.InUse == 0 && s.Waiting == 0
	})
}
