package bench

import (
	"context"
	"io"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/pgtemp"
)

// TestFailoverQuick runs the failover experiment for a few seconds on raw
// database/sql, pgxpool and sqlpool with pool_require_writable=true, over
// pgx: sqlpool's failed writes stay within one per connection and stop,
// while the peers' connections keep failing on the demoted primary to the
// end. scripts/reliability runs it longer, on every peer.
func TestFailoverQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the quick failover run takes about 15 s")
	}
	if _, err := pgtemp.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: the failover experiment needs PostgreSQL's server binaries)", err)
		}
		t.Skip(err)
	}
	f := &Failover{
		LoadTime: 3 * time.Second,
		Peers: []PGPeer{
			RawPeer("pgx"), PGXPoolPeer(),
			SQLPoolPeer(PeerSQLPoolWritable, "pgx", "pool_require_writable", "true"),
			SQLPoolPeer(PeerSQLPool, "pq"),
		},
		Log: log.New(io.Discard, "", 0),
	}
	runs, err := f.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		t.Logf("%s (%s): %d failed, recovered %v after %v, %d failing at the end, %d written", run.Peer.Name, run.Peer.Driver, run.Failed, run.Recovered, run.LastFailure, run.FailedLast, run.Writes)
		name := run.Peer.Name + " (" + run.Peer.Driver + ")"
		if run.Writes == 0 || run.Before != 0 {
			t.Errorf("%s: %d writes succeeded, %d failed before the failover; want some, and none", name, run.Writes, run.Before)
		}
		if run.Peer.Name == PeerSQLPool {
			// Evicted on the first error; new connections may reach the
			// old primary until the address moves, and fail once each.
			if !run.Recovered {
				t.Errorf("%s: writes still failing at the end (%d in the last second), want them to recover once the address moved: %q", name, run.FailedLast, run.FirstError)
			}
			continue
		}
		if isOurs(run.Peer.Name) {
			if !failoverGoal(run) {
				t.Errorf("%s: %d writes failed, recovered %v (last failure %v after the failover, %d in the last second); want at most %d and recovered: %q",
					name, run.Failed, run.Recovered, run.LastFailure, run.FailedLast, failoverConns, run.FirstError)
			}
			continue
		}
		if run.Failed == 0 || run.Recovered || !strings.Contains(run.FirstError, "25006") {
			t.Errorf("%s: %d writes failed, recovered %v, first error %q; want its connections failing with 25006 to the end (nothing retires them)",
				name, run.Failed, run.Recovered, run.FirstError)
		}
	}
	var b strings.Builder
	writeFailover(&b, f, runs)
	for _, want := range []string{"## Failover to a standby", "| sqlpool, pool_require_writable=true | pgx | **", "| database/sql | pgx | ", "never, within the run"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}
