package sqlpool

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/sqlpool/sqlpool/internal/redact"
	"github.com/sqlpool/sqlpool/internal/sqltext"
	"github.com/sqlpool/sqlpool/leakdetect"
	"github.com/sqlpool/sqlpool/pool"
)

// Inspection: Stat, a pool's gauges and counters, and Snapshot, all of a
// pool at one moment; per connector, per sql.DB, and Snapshots per process.

// Stat is a snapshot of a sqlpool pool: its name and the pool package's
// gauges and counters.
type Stat struct {
	Name string
	pool.Stat

	// Leaks counts the connections reported as held longer than
	// pool_leak_threshold (each once). Those reclaimed are counted in
	// Destroyed, as pool.ReasonReclaimed.
	Leaks int64

	// Resets counts the sessions reset by a statement before they served
	// a logical connection that must not see their state
	// (pool_reset_session). Those replaced by a new connection instead are
	// counted in Destroyed, as pool.ReasonRetired.
	Resets int64
}

func (ps *poolState) stat() Stat {
	s := Stat{Name: ps.name, Stat: ps.pool.Stat(), Resets: ps.resetCount.Load()}
	s.Leaks = ps.leaks.Leaks()
	return s
}

// Stat returns a snapshot of the connector's pool.
func (c *Connector) Stat() Stat { return c.ps.stat() }

// DBStat returns a snapshot of the pool under db. It takes a logical
// connection from db for a moment (which dials nothing) and fails if db is
// not a sqlpool database.
func DBStat(ctx context.Context, db *sql.DB) (Stat, error) {
	ps, err := dbPool(ctx, db, "DBStat")
	if err != nil {
		return Stat{}, err
	}
	return ps.stat(), nil
}

// dbPool returns the pool under db; fn names the caller in its error.
func dbPool(ctx context.Context, db *sql.DB, fn string) (*poolState, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var ps *poolState
	err = c.Raw(func(dc any) error {
		sc, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("sqlpool: %s: %T is not a sqlpool connection", fn, dc)
		}
		ps = sc.ps
		return nil
	})
	return ps, err
}

// Snapshot is a view of one pool at one moment, for dashboards and
// diagnostics (package dashboard renders it): its settings, its Stat, each of
// its physical connections (who holds it, since when, from which line) and,
// once RecordHistory was called, the last minutes of its gauges.
//
// It holds no password and no bound argument: no DSN, only the database's
// system, name and server; statements with their literals replaced by "?"
// (none with pool_trace_query_text=off).
type Snapshot struct {
	Stat
	TakenAt time.Time

	// Driver is the inner driver's name ("postgres", "sqlite3"); for Wrap,
	// the type of the connector's driver.
	Driver string
	// The database, as the DSN names it (the OpenTelemetry attributes
	// db.system.name, db.namespace, server.address and server.port): ""
	// where unknown.
	System    string // "postgresql", "mysql", "sqlite" or "other_sql"
	Namespace string // the database's name (SQLite: its file)
	Server    string // "host:port" or a unix socket path

	// Settings are the pool's settings in force, defaults included, as
	// pool_* parameters in DSN syntax, in the README's order.
	Settings []Setting
	// LeakThreshold is pool_leak_threshold; 0 when leak detection is off.
	LeakThreshold time.Duration
	// LastError is the last dial's error while dials fail (every password of
	// the DSN masked); "" once a dial succeeded.
	LastError string

	// Conns are the pool's physical connections: in use first, longest held
	// first; then those being checked, those being dialed, and the idle ones
	// by ID.
	Conns []ConnInfo
	// Suspects counts the Conns held longer than LeakThreshold now.
	Suspects int

	// History is the last minutes of the gauges, oldest first; empty unless
	// the pool's alerts are on (pool_alert_window) or RecordHistory was
	// called.
	History []Sample

	// Advice is the sizing advice of the last minutes' load (Advise).
	Advice Advice
	// Alerts are the pool's alerts that are on, as they stand, in the order
	// of the Alert* names; AlertEvents the last times they fired or cleared,
	// oldest first.
	Alerts, AlertEvents []Alert
}

// Setting is one pool setting, as a pool_* DSN parameter would set it.
type Setting struct {
	Name  string // "pool_max_conns"
	Value string // "20", "30s", "true"; durations as short as Go parses them ("1h", "2m30s"); "0" is off
}

// ConnInfo is one physical connection of a Snapshot.
type ConnInfo struct {
	// ID numbers the pool's physical connections from 1, as leak reports
	// (leakdetect.Report.Conn) do; 0 while it is being dialed.
	ID uint64
	// State is idle, in use, being checked (the health check's keepalive
	// ping) or being dialed (pool.ResourceConstructing).
	State pool.ResourceState

	CreatedAt  time.Time // when it connected; while dialing, when the dial was asked for
	IdleSince  time.Time // while idle: when it was given back (or connected); else zero
	AcquiredAt time.Time // while in use: when it was taken; else zero
	ExpiresAt  time.Time // when its lifetime ends (pool_max_conn_lifetime plus its jitter); zero if never
	Uses       int64     // times it was handed out

	// Borrow says who holds a connection in use, with leak detection on: where
	// it was taken (Stack, AcquiredAt), what is open (rows, a transaction),
	// the last statement (literals replaced by "?"; "" with
	// pool_trace_query_text=off) and for how long. nil otherwise.
	Borrow *leakdetect.Report
	// Suspect says it has been in use for longer than pool_leak_threshold.
	Suspect bool
}

// HeldFor returns how long a connection in use had been held when the
// snapshot was taken at now; 0 if it is not in use.
func (c ConnInfo) HeldFor(now time.Time) time.Duration {
	if c.AcquiredAt.IsZero() {
		return 0
	}
	return now.Sub(c.AcquiredAt)
}

// Snapshots returns a snapshot of every sqlpool pool of the process that is
// still open, whether opened through sql.Open, NewConnector or Wrap, ordered
// by name. It does not block on the pools' connections: each pool's lock is
// taken once, as long as copying its connections' times takes; the stacks of
// connections in use are symbolized after. Once per pool, on PostgreSQL and
// MySQL, it reads the server's connection limit for the advice on an idle
// connection, if one is idle, bounded by pool_ping_timeout.
func Snapshots() []Snapshot {
	states := pools.list()
	out := make([]Snapshot, 0, len(states))
	for _, ps := range states {
		out = append(out, ps.snapshot())
	}
	return out
}

// Snapshot returns a snapshot of the connector's pool (see Snapshots).
func (c *Connector) Snapshot() Snapshot { return c.ps.snapshot() }

// DBSnapshot returns a snapshot of the pool under db (see Snapshots). Like
// DBStat, it takes a logical connection from db for a moment (which dials
// nothing) and fails if db is not a sqlpool database.
func DBSnapshot(ctx context.Context, db *sql.DB) (Snapshot, error) {
	ps, err := dbPool(ctx, db, "DBSnapshot")
	if err != nil {
		return Snapshot{}, err
	}
	return ps.snapshot(), nil
}

func (ps *poolState) snapshot() Snapshot {
	s := Snapshot{
		TakenAt:   time.Now(),
		Driver:    ps.innerName,
		System:    ps.target.System,
		Namespace: ps.target.Namespace,
		Settings:  ps.settingsInForce(),
	}
	s.Server = ps.target.Address
	if ps.target.Port != 0 {
		s.Server = net.JoinHostPort(ps.target.Address, strconv.Itoa(ps.target.Port))
	}
	s.LeakThreshold = ps.leaks.Threshold()
	if err := ps.pool.LastError(); err != nil {
		// Dial errors are masked when they are made (ps.dial); once more,
		// in case one came another way.
		s.LastError = redact.Error(err, ps.secrets).Error()
	}
	res := ps.pool.AppendResources(nil)
	s.Stat = ps.stat() // after the resources, so Leaks counts any suspect listed
	s.Conns = make([]ConnInfo, 0, len(res))
	for _, r := range res {
		ci := ConnInfo{State: r.State, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, Uses: r.Uses}
		if pc := r.Value; pc != nil {
			ci.ID = pc.id
		}
		switch r.State {
		case pool.ResourceIdle:
			ci.IdleSince = r.ReleasedAt
		case pool.ResourceInUse:
			ci.AcquiredAt = r.AcquiredAt
			if rep, ok := ps.leaks.Current(&r.Value.borrow); ok {
				if ps.cfg.queryText == QueryTextOff {
					rep.Statement = ""
				}
				ci.Borrow = &rep
			}
			ci.Suspect = s.LeakThreshold > 0 && s.TakenAt.Sub(ci.AcquiredAt) >= s.LeakThreshold
		}
		if ci.Suspect {
			s.Suspects++
		}
		s.Conns = append(s.Conns, ci)
	}
	slices.SortFunc(s.Conns, compareConns)
	s.History = ps.hist.appendTo(nil)
	ps.readServerLimitBounded()
	s.Advice = ps.advise(s.TakenAt)
	s.Alerts, s.AlertEvents = ps.alerts.list(&ps.cfg, ps.name)
	return s
}

// compareConns orders a snapshot's connections: in use (longest held first),
// being checked, being dialed (oldest first), idle (by ID).
func compareConns(a, b ConnInfo) int {
	if c := cmp.Compare(connRank(a.State), connRank(b.State)); c != 0 {
		return c
	}
	switch a.State {
	case pool.ResourceInUse:
		return cmp.Or(a.AcquiredAt.Compare(b.AcquiredAt), cmp.Compare(a.ID, b.ID))
	case pool.ResourceConstructing:
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	return cmp.Compare(a.ID, b.ID)
}

func connRank(s pool.ResourceState) int {
	switch s {
	case pool.ResourceInUse:
		return 0
	case pool.ResourceChecking:
		return 1
	case pool.ResourceConstructing:
		return 2
	}
	return 3
}

// statementText is query as a snapshot shows it: with its literals replaced
// by "?", as leak reports show statements, or "" with
// pool_trace_query_text=off.
func (ps *poolState) statementText(query string) string {
	if ps.cfg.queryText == QueryTextOff {
		return ""
	}
	return sqltext.Sanitize(query, sqltext.Options{DoubleQuotedStrings: ps.kind.doubleQuotedStrings(), MaxLen: reportedQueryLen})
}

// settingsInForce returns the pool's settings in force, defaults included,
// as DSN parameters, in the README's order.
func (ps *poolState) settingsInForce() []Setting {
	v := inForce{cfg: &ps.cfg, name: ps.name, maxConns: ps.cfg.maxConns, minConns: ps.cfg.minConns, stmtLimit: ps.stmtLimit.Load(), statement: ps.shownStatement}
	if ps.pool != nil { // SetMaxConns and SetMinConns change these at run time
		st := ps.pool.Stat()
		v.maxConns, v.minConns = st.MaxSize, st.MinSize
	}
	out := make([]Setting, 0, numSettings)
	for i := range settings {
		s := &settings[i]
		if s.param == "" || s.show == nil {
			continue
		}
		if shown := s.show(v); shown != "" {
			out = append(out, Setting{Name: s.param, Value: shown})
		}
	}
	return out
}

// shownStatement is a statement setting as a snapshot shows it (see
// statementText); "" when not set.
func (ps *poolState) shownStatement(q string) string {
	if q == "" {
		return ""
	}
	if s := ps.statementText(q); s != "" {
		return s
	}
	return "(hidden: pool_trace_query_text=off)"
}
