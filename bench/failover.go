package bench

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/internal/faultproxy"
	"github.com/sqlpool/sqlpool/internal/pgtemp"
)

// The failover experiment: a write load through a stable "service address"
// (a fault proxy, as a DNS name, a virtual IP, a Kubernetes Service or
// PgBouncer would be) to a primary with a streaming standby. In the middle
// of it the primary is demoted to read-only under its open connections,
// the standby promoted, and the address moved to it for new connections:
// the failover that leaves the old primary reachable, where a ping passes
// and only writes fail.

// Failover runs the experiment on each of its peers, each with a primary
// and standby of its own.
type Failover struct {
	// LoadTime is how long each peer's write load runs; the failover comes
	// at a third of it.
	LoadTime time.Duration
	// Peers are the configurations measured; FailoverPeers when nil.
	Peers []PGPeer
	Log   *log.Logger
}

// The failover load: this many goroutines writing over this many
// connections, each write bounded by failoverOpTimeout.
const (
	failoverGoroutines = 16
	failoverConns      = 8
	failoverOpTimeout  = 5 * time.Second
	failoverWrite      = "INSERT INTO failover_writes DEFAULT VALUES RETURNING id"
)

// Peer names of the failover experiment.
const PeerSQLPoolWritable = "sqlpool, pool_require_writable=true"

// FailoverPeers are raw database/sql over lib/pq and pgx, pgxpool, and
// sqlpool with its defaults and with pool_require_writable=true over both.
func FailoverPeers() []PGPeer {
	return []PGPeer{
		RawPeer("pq"), RawPeer("pgx"), PGXPoolPeer(),
		SQLPoolPeer(PeerSQLPool, "pq"), SQLPoolPeer(PeerSQLPool, "pgx"),
		SQLPoolPeer(PeerSQLPoolWritable, "pq", "pool_require_writable", "true"),
		SQLPoolPeer(PeerSQLPoolWritable, "pgx", "pool_require_writable", "true"),
	}
}

// FailoverRun is the experiment on one peer.
type FailoverRun struct {
	Peer PGPeer
	// Switch is when the failover began, from the start of the load, and
	// how long demoting, promoting and moving the address took.
	Switch, SwitchTook time.Duration
	Writes             int64 // writes that succeeded, over the whole load
	Before             int64 // writes that failed before the failover (none expected)
	Failed             int64 // writes that failed from the failover on
	// LastFailure is when the last failed write ended, from the failover;
	// Recovered is false when writes were still failing in the load's last
	// second, so that no time of recovery can be told.
	LastFailure time.Duration
	Recovered   bool
	FailedLast  int64 // failed writes in the load's last second
	FirstError  string
	Elapsed     time.Duration
}

// Run runs the experiment on every peer.
func (f *Failover) Run(ctx context.Context) ([]FailoverRun, error) {
	peers := f.Peers
	if peers == nil {
		peers = FailoverPeers()
	}
	var runs []FailoverRun
	for _, p := range peers {
		f.Log.Printf("failover: %s (%s)", p.Name, p.Driver)
		run, err := f.runOne(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("failover on %s (%s): %w", p.Name, p.Driver, err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}

func (f *Failover) runOne(ctx context.Context, p PGPeer) (FailoverRun, error) {
	primary, err := pgtemp.Start(pgtemp.Options{})
	if err != nil {
		return FailoverRun{}, fmt.Errorf("needs a throwaway PostgreSQL: %w", err)
	}
	defer primary.Stop()
	padmin, err := sql.Open("pgx", primary.URL())
	if err != nil {
		return FailoverRun{}, err
	}
	defer padmin.Close()
	if _, err := padmin.ExecContext(ctx, "CREATE TABLE failover_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return FailoverRun{}, err
	}
	standby, err := pgtemp.StartStandby(primary)
	if err != nil {
		return FailoverRun{}, err
	}
	defer standby.Stop()
	px, err := faultproxy.New(net.JoinHostPort("127.0.0.1", strconv.Itoa(primary.Port())))
	if err != nil {
		return FailoverRun{}, err
	}
	defer px.Close()
	service := strings.Replace(primary.URL(), "127.0.0.1:"+strconv.Itoa(primary.Port()), px.Addr(), 1)
	standbyAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(standby.Port()))

	t, _, err := openPeer(ctx, p, service, failoverConns)
	if err != nil {
		return FailoverRun{}, err
	}
	defer t.Close()
	var took time.Duration
	at := &Event{After: f.LoadTime / 3, Do: func() error {
		start := time.Now()
		defer func() { took = time.Since(start) }()
		// The old primary is fenced first (its sessions, open ones too,
		// turn read-only at their next statement), then the standby is
		// promoted and the address moved to it.
		if _, err := padmin.ExecContext(ctx, "ALTER SYSTEM SET default_transaction_read_only = on"); err != nil {
			return err
		}
		if _, err := padmin.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
			return err
		}
		if err := standby.Promote(); err != nil {
			return err
		}
		px.SetTarget(standbyAddr)
		return nil
	}}
	res := Load{
		Goroutines: failoverGoroutines,
		Query:      failoverWrite,
		Duration:   f.LoadTime,
		Worker:     t.Worker,
		At:         at,
		OpTimeout:  failoverOpTimeout,
	}.Run(ctx)
	if at.Err != nil {
		return FailoverRun{}, fmt.Errorf("the failover: %w", at.Err)
	}
	run := FailoverRun{Peer: p, Switch: at.Start, SwitchTook: took, Writes: res.Ops, Elapsed: res.Elapsed, Recovered: true}
	for _, e := range res.ErrorAt {
		switch {
		case e < at.Start:
			run.Before++
			continue
		case e > res.Elapsed-time.Second:
			run.FailedLast++
			run.Recovered = false
		}
		run.Failed++
		run.LastFailure = max(run.LastFailure, e-at.Start)
	}
	if len(res.FirstErrors) > 0 {
		run.FirstError = res.FirstErrors[0]
	}
	return run, nil
}

// failoverGoal is the goal sqlpool with pool_require_writable=true is held
// to: at most one failed
// write per connection in flight at the failover, and every write
// succeeding again well within one health-check period (1 min by default)
// plus the longest backoff (1 s).
func failoverGoal(run FailoverRun) bool {
	return run.Before == 0 && run.Failed <= failoverConns && run.Recovered
}

// writeFailover writes the failover section of docs/reliability.md.
func writeFailover(b *strings.Builder, f *Failover, runs []FailoverRun) {
	b.WriteString("## Failover to a standby, the old primary left reachable\n\n")
	fmt.Fprintf(b, "The load: %d goroutines over %d connections write back to back (`%s`, each bounded by %s) for %s, through a fault proxy that stands for the service address (a DNS name, a virtual IP, a Kubernetes Service, PgBouncer). Behind it, a throwaway primary and its streaming standby (`pg_basebackup -R`), new for each peer. At a third of the load comes the failover: the old primary is demoted under its open connections (`ALTER SYSTEM SET default_transaction_read_only = on` and a reload: each session turns read-only at its next statement), the standby is promoted (`pg_ctl promote`), and the proxy sends new connections to it; the connections already open stay with the old primary, which answers pings and fails writes with SQLSTATE 25006.\n\n",
		failoverGoroutines, failoverConns, failoverWrite, fmtDur(failoverOpTimeout), fmtDur(f.LoadTime))
	b.WriteString("**Failed** counts writes that failed from the failover on; **failing at the end** those in the load's last second. **All writes succeed again after** is the time from the failover to the end of the last failed write. The goal of sqlpool with `pool_require_writable=true`: at most one failed write per connection in flight at the failover (8), and every write succeeding again within one health-check period plus the backoff (1 min + 1 s with the defaults). With its defaults sqlpool evicts each connection on its first read-only error but does not check a new one, which may reach the old primary until the address moves.\n\n")
	b.WriteString("| peer | driver | failed writes | all writes succeed again after | failing at the end | writes that succeeded | goal met | first error |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range runs {
		after := "never, within the run"
		if run.Recovered {
			after = fmtDur(run.LastFailure)
			if run.Failed == 0 {
				after = "no write failed"
			}
		}
		goal := "–"
		if run.Peer.Name == PeerSQLPoolWritable {
			goal = "yes"
			if !failoverGoal(run) {
				goal = "**no**"
			}
		}
		first := run.FirstError
		if len(first) > 90 {
			first = first[:90] + "…"
		}
		if first != "" {
			first = "`" + strings.ReplaceAll(first, "|", "\\|") + "`"
		}
		failed := fmt.Sprint(run.Failed)
		if isOurs(run.Peer.Name) {
			failed = "**" + failed + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s | %s |\n", run.Peer.Name, run.Peer.Driver, failed, after, run.FailedLast, fmtInt(run.Writes), goal, first)
	}
	b.WriteString("\nThe peers' connections stay with the old primary until they are retired: never, for `database/sql` without `SetConnMaxLifetime`; after `MaxConnLifetime` (1 h by default) for pgxpool, whose `target_session_attrs` checks only new dials. sqlpool evicts a connection on its first read-only error (and checks the idle ones); with `pool_require_writable=true` it also refuses connections to a read-only server, so none is handed out while the address still leads to the old primary.\n\n")
}
