package sqlpool_test

import (
	"context"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// TestBlackHoledIdleConnectionIsCaughtByPrePing: the path to the server dies
// silently under an idle connection (no FIN, no RST: its reads would hang).
// The pre-ping before hand-out times out after pool_ping_timeout, the
// connection is destroyed, and the query runs on a new one: the
// application sees nothing but the wait.
func TestBlackHoledIdleConnectionIsCaughtByPrePing(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner,
				"pool_max_conns", "2", "pool_ping_idle_after", "0", "pool_ping_timeout", "300ms")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := outageSelect1(ctx, db); err != nil {
				t.Fatal(err)
			}
			px.BlackHoleAll()
			if err := outageSelect1(ctx, db); err != nil {
				t.Fatalf("query after its idle connection was black-holed: %v", err)
			}
			s := stat(t, db)
			if got := s.DestroyedCount(pool.ReasonCheck); got != 1 {
				t.Errorf("connections destroyed by the pre-ping: %d, want the black-holed one", got)
			}
			if s.Total != 1 {
				t.Errorf("connections after recovery: %d, want 1 (the new one)", s.Total)
			}
		})
	}
}

// TestBlackHoledIdleConnectionsAreReplacedByKeepalive: the same silent
// failure under idle connections that nobody uses: the health check's
// keepalive ping times out on each, destroys it and dials a replacement,
// so the pool is whole again before the application asks.
func TestBlackHoledIdleConnectionsAreReplacedByKeepalive(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			const minConns = 2
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "4", "pool_min_conns", "2",
				"pool_health_check_period", "100ms", "pool_ping_timeout", "300ms")
			if err := outageSelect1(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			testdb.WaitFor(t, "pool_min_conns connections open", func() bool { return stat(t, db).Idle == minConns })
			dials := px.Dials()
			px.BlackHoleAll()
			var last sqlpool.Stat
			defer func() {
				if t.Failed() {
					t.Logf("last Stat: %+v", last)
				}
			}()
			testdb.WaitFor(t, "the black-holed connections replaced", func() bool {
				last = stat(t, db)
				return last.DestroyedCount(pool.ReasonCheck) >= minConns && last.Total == minConns && last.Idle == minConns
			})
			if px.Dials() < dials+minConns {
				t.Errorf("dials after the black hole: %d, want at least %d new connections", px.Dials()-dials, minConns)
			}
			if err := outageSelect1(context.Background(), db); err != nil {
				t.Errorf("query on the replaced connections: %v", err)
			}
		})
	}
}

// TestConnectToASilentServerEndsAtTheAcquireTimeout: new connections reach
// a server that never answers (the handshake hangs). lib/pq ignores the
// context during its handshake; sqlpool still gives the attempt up at
// pool_acquire_timeout, so the query fails instead of hanging and the
// pool's slot is free: once the server answers, queries succeed.
func TestConnectToASilentServerEndsAtTheAcquireTimeout(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "1", "pool_acquire_timeout", "500ms")
			px.BlackHole(true)
			err := outageSelect1(context.Background(), db)
			if err == nil {
				t.Fatal("query through a silent server succeeded")
			}
			t.Logf("query while the server is silent: %v", err)
			px.BlackHole(false)
			testdb.WaitFor(t, "a query once the server answers", func() bool {
				return outageSelect1(context.Background(), db) == nil
			})
			if s := stat(t, db); s.Total != 1 || s.Constructing != 0 {
				t.Errorf("pool after recovery: total %d, constructing %d; want 1 and 0", s.Total, s.Constructing)
			}
		})
	}
}
