package sqlpool_test

import (
	"context"
	"testing"
	"time"

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
