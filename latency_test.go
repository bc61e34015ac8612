package sqlpool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// TestSlowNetworkCostsTimeNotErrors: 25 ms each way on every packet, below
// every timeout, with a pre-ping before each hand-out: every query is
// slower, none fails, and no connection is given up for being slow.
func TestSlowNetworkCostsTimeNotErrors(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "2", "pool_ping_idle_after", "0")
			if err := outageSelect1(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			px.Latency(25 * time.Millisecond)
			var wg sync.WaitGroup
			errs := make(chan error, 8*5)
			for g := range 8 {
				wg.Go(func() {
					for i := range 5 {
						var got int
						if err := db.QueryRow("SELECT $1::int * 2", g*10+i).Scan(&got); err != nil {
							errs <- err
						} else if got != (g*10+i)*2 {
							errs <- errors.New("wrong answer")
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("query over a slow network: %v", err)
			}
			s := stat(t, db)
			var destroyed int64
			for _, n := range s.Destroyed {
				destroyed += n
			}
			if destroyed != 0 || s.CreatedCount > 2 {
				t.Errorf("slow but healthy connections: %d destroyed, %d created; want 0 and at most 2", destroyed, s.CreatedCount)
			}
		})
	}
}

// TestSlowerThanTheAcquireTimeoutFailsAtTheAcquireTimeout: a network so slow
// that a connection cannot be made within pool_acquire_timeout fails the
// operation with ErrAcquireTimeout; once the network is fast again, the next
// operation succeeds and nothing is left over.
func TestSlowerThanTheAcquireTimeoutFailsAtTheAcquireTimeout(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, px, app := openBehindProxy(t, inner, "pool_max_conns", "2", "pool_acquire_timeout", "300ms")
			px.Latency(time.Second) // a handshake takes several round trips: seconds
			err := outageSelect1(context.Background(), db)
			if !errors.Is(err, sqlpool.ErrAcquireTimeout) {
				t.Fatalf("query when no connection can be made in time: %v, want ErrAcquireTimeout", err)
			}
			px.Latency(0)
			testdb.WaitFor(t, "a query once the network is fast again", func() bool {
				return outageSelect1(context.Background(), db) == nil
			})
			db.Close()
			px.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}
