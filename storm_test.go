package sqlpool_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sqlpool/sqlpool/internal/testdb"
)

// TestPostgresTerminateStormFailsOnlyOperationsOnKilledConnections: under a
// load of 8 goroutines on 4 connections, every backend of the pool is
// killed ten times over. A killed connection may fail the operation running
// on it (or the next one, when the driver learns of the kill only then),
// never more: the application sees at most one error per backend killed.
// Afterwards the pool is back at pool_min_conns by itself.
func TestPostgresTerminateStormFailsOnlyOperationsOnKilledConnections(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			const conns, goroutines, storms = 4, 8, 10
			db, app := openPG(t, inner, "pool_max_conns", "4", "pool_min_conns", "4",
				"pool_health_check_period", "50ms")
			admin := testdb.Admin(t)
			ctx := context.Background()

			var ok, failed atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						var one int
						if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
							failed.Add(1)
							continue
						}
						ok.Add(1)
					}
				})
			}
			var killed int64
			for range storms {
				// Some load between storms, so that every storm meets
				// connections in use.
				next := ok.Load() + 100
				testdb.WaitFor(t, "queries between storms", func() bool { return ok.Load() >= next })
				var n int64
				if err := admin.QueryRow(
					"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
					t.Fatal(err)
				}
				killed += n
			}
			close(stop)
			wg.Wait()

			t.Logf("%d queries, %d failed, %d backends killed", ok.Load(), failed.Load(), killed)
			if killed < storms {
				t.Fatalf("only %d backends killed in %d storms: the storms met no connections", killed, storms)
			}
			if f := failed.Load(); f > killed {
				t.Errorf("%d queries failed for %d backends killed: want at most one per killed backend", f, killed)
			}
			testdb.WaitFor(t, "the pool back at pool_min_conns", func() bool {
				return len(testdb.Backends(t, admin, app)) == conns && stat(t, db).Total == conns
			})
		})
	}
}
