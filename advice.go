package sqlpool

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/sqlpool/sqlpool/pool"
)

// Sizing advice: how many connections the load of the last minutes needs,
// by Little's law (connections busy = acquires per second × mean hold
// time), read from the pool's history.

// Verdict is the advice's judgment of pool_max_conns.
type Verdict string

const (
	VerdictNotEnoughData Verdict = "not enough data"
	VerdictUndersized    Verdict = "undersized" // the load needs more connections than the pool may open
	VerdictRight         Verdict = "right"
	VerdictOversized     Verdict = "oversized" // more than twice what the load needs
)

// Advice is what the load of the last minutes says of a pool's size.
type Advice struct {
	// Window is the span of history the advice reads: the last five
	// minutes, or a little more (from the last mark before), or less
	// while the pool is younger.
	Window time.Duration

	// ArrivalRate is acquires per second: those served, those that timed
	// out, and the growth of the queue (λ).
	ArrivalRate float64
	// HoldMean and HoldP99 are how long a connection was held, from the
	// hand-out to its return (W).
	HoldMean, HoldP99 time.Duration
	// BusyMean is the connections the load keeps busy on average,
	// ArrivalRate × HoldMean (L = λW): what it would keep busy had every
	// acquire been served. BusyP99 is the p99 of the connections in use,
	// sampled each second, scaled up by the load the pool turned away; at
	// least BusyMean.
	BusyMean, BusyP99 float64
	// WaitedShare is the share of acquires that queued; WaitP99 the p99 of
	// their waits.
	WaitedShare float64
	WaitP99     time.Duration
	Timeouts    int64 // acquires that failed at pool_acquire_timeout in the window

	MaxConns int // pool_max_conns in force
	MinConns int // pool_min_conns in force
	// RecommendedMaxConns is BusyP99 × 1.5 rounded up, at least
	// pool_min_conns and 1, and at most this pool's share of ServerLimit;
	// 0 with VerdictNotEnoughData.
	RecommendedMaxConns int

	// ServerLimit is how many connections the server accepts from this
	// pool's user: PostgreSQL's max_connections less
	// superuser_reserved_connections (for a role that is not a superuser),
	// or the role's CONNECTION LIMIT if lower; MySQL's and MariaDB's
	// max_connections, or max_user_connections if set and lower. 0 while
	// unknown: read once per pool, on an idle connection, at the first
	// Advise or Snapshot that finds one idle; other databases.
	ServerLimit int
	// PoolsOnServer counts the pools of this process on the same server,
	// database and user, this one included.
	PoolsOnServer int

	Verdict Verdict
	// Reason is one sentence of why, with the numbers.
	Reason string
	// Warning is set when the pools on this server could open more
	// connections than ServerLimit together.
	Warning string
}

// Sizing constants. The factor and the bounds of "right" are HikariCP's
// and PostgreSQL's advice: the connections busy at peak and half again for
// bursts; a pool more than twice that holds connections the server pays for.
const (
	adviceSamples     = 300 // five minutes of samples
	minAdviceAcquires = 20  // fewer acquires in the window say nothing of a size
	burstFactor       = 1.5
	// saturatedWaits is the share of acquires queuing that, with every
	// connection in use, says the pool holds its load back.
	saturatedWaits  = 0.25
	oversizedFactor = 2
)

// Advise returns the sizing advice of the pool under db (see Advice). Like
// DBStat, it takes a logical connection from db for a moment, and fails if
// db is not a sqlpool database.
func Advise(ctx context.Context, db *sql.DB) (Advice, error) {
	ps, err := dbPool(ctx, db, "Advise")
	if err != nil {
		return Advice{}, err
	}
	ps.readServerLimit(ctx)
	return ps.advise(time.Now()), nil
}

// Advise returns the sizing advice of the connector's pool (see Advice).
func (c *Connector) Advise() Advice {
	c.ps.readServerLimitBounded()
	return c.ps.advise(time.Now())
}

// readServerLimitBounded is readServerLimit within pool_ping_timeout, for
// callers without a context (Connector.Advise, Snapshot).
func (ps *poolState) readServerLimitBounded() {
	if ps.limitState.Load() != limitUnread {
		return
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if d := ps.cfg.pingTimeout; d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	defer cancel()
	ps.readServerLimit(ctx)
}

// adviceInput is what advise reads: the window's samples, the Stat at its
// start and now, and what the server allows.
type adviceInput struct {
	samples     []Sample
	from, to    time.Time
	start, end  pool.Stat
	serverLimit int
	pools       int // pools on the server
}

// advise reads the pool's history up to now.
func (ps *poolState) advise(now time.Time) Advice {
	span := adviceSamples * cmp.Or(pools.interval, historyInterval)
	sp := ps.hist.since(nil, now.Add(-span))
	in := adviceInput{samples: sp.samples, to: now, end: ps.pool.Stat(), serverLimit: int(ps.serverLimit.Load()), pools: pools.onServer(ps)}
	if sp.marked {
		in.from, in.start = sp.mark.at, sp.mark.s
	} else {
		in.from, in.start = now, in.end
	}
	return advise(in)
}

// advise is the arithmetic of Advice.
func advise(in adviceInput) Advice {
	a := Advice{
		Window: in.to.Sub(in.from), MaxConns: in.end.MaxSize, MinConns: in.end.MinSize,
		ServerLimit: in.serverLimit, PoolsOnServer: max(in.pools, 1),
	}
	if a.ServerLimit > 0 && a.MaxConns*a.PoolsOnServer > a.ServerLimit {
		a.Warning = fmt.Sprintf("%d pools × pool_max_conns=%d could open %d connections, more than the %d the server allows this user",
			a.PoolsOnServer, a.MaxConns, a.MaxConns*a.PoolsOnServer, a.ServerLimit)
		if a.PoolsOnServer == 1 {
			a.Warning = fmt.Sprintf("pool_max_conns=%d is more than the %d connections the server allows this user", a.MaxConns, a.ServerLimit)
		}
	}
	// Served: the hand-outs that were held, counted by their returns and
	// the change in what is held, so that a hand-out the pool took back at
	// once (a session it could not reset) is not counted as load.
	served := max(in.end.HoldCount-in.start.HoldCount+int64(in.end.InUse-in.start.InUse), 0)
	a.Timeouts = in.end.TimeoutCount - in.start.TimeoutCount
	queued := int64(max(in.end.Waiting-in.start.Waiting, 0))
	offered := served + a.Timeouts + queued
	secs := a.Window.Seconds()
	if len(in.samples) < markEvery || secs <= 0 || offered < minAdviceAcquires {
		a.Verdict = VerdictNotEnoughData
		a.Reason = fmt.Sprintf("%d acquires in %v of history: the advice needs at least %d over %d samples", offered, a.Window.Round(time.Second), minAdviceAcquires, markEvery)
		return a
	}
	a.ArrivalRate = float64(offered) / secs
	holds := in.end.HoldBuckets.Sub(in.start.HoldBuckets)
	if n := in.end.HoldCount - in.start.HoldCount; n > 0 {
		a.HoldMean = (in.end.HoldDuration - in.start.HoldDuration) / time.Duration(n)
	}
	a.HoldP99 = holds.Quantile(0.99)
	waits := in.end.WaitBuckets.Sub(in.start.WaitBuckets)
	if finished := in.end.WaitCount - in.start.WaitCount; served+a.Timeouts > 0 {
		a.WaitedShare = math.Min(float64(finished)/float64(served+a.Timeouts), 1)
	}
	a.WaitP99 = waits.Quantile(0.99)
	a.BusyMean = a.ArrivalRate * a.HoldMean.Seconds()

	inUse := make([]int, len(in.samples))
	for i, s := range in.samples {
		inUse[i] = s.InUse
	}
	slices.Sort(inUse)
	p99 := float64(inUse[min(len(inUse)-1, int(math.Ceil(0.99*float64(len(inUse))))-1)])
	// At its cap with most acquires queuing, a pool shows what it has, not
	// what the load wants, even when no acquire timed out (workers that
	// wait as long as it takes).
	saturated := p99 >= float64(a.MaxConns) && a.WaitedShare >= saturatedWaits
	if served > 0 && offered > served {
		// The pool turned load away (it queued or timed out): what was in
		// use is what it had, not what the load wanted.
		p99 *= float64(offered) / float64(served)
	}
	a.BusyP99 = math.Max(p99, a.BusyMean)

	rec := max(int(math.Ceil(a.BusyP99*burstFactor)), a.MinConns, 1)
	if saturated {
		rec = max(rec, int(math.Ceil(float64(a.MaxConns)*burstFactor)))
	}
	share := 0
	if a.ServerLimit > 0 {
		share = max(a.ServerLimit/a.PoolsOnServer, 1)
		rec = min(rec, share)
	}
	a.RecommendedMaxConns = rec

	load := fmt.Sprintf("%.1f acquires/s held %v on average keep %.1f connections busy (p99 %.1f)",
		a.ArrivalRate, a.HoldMean.Round(100*time.Microsecond), a.BusyMean, a.BusyP99)
	waited := fmt.Sprintf("%.0f%% of acquires waited (p99 %v)", 100*a.WaitedShare, a.WaitP99.Round(time.Millisecond))
	if a.Timeouts > 0 {
		waited += fmt.Sprintf(", %d timed out", a.Timeouts)
	}
	switch over := a.BusyP99 > float64(a.MaxConns)+0.05; {
	case over || a.Timeouts > 0 || saturated:
		a.Verdict = VerdictUndersized
		switch {
		case over:
			a.Reason = fmt.Sprintf("%s, more than pool_max_conns=%d; %s: set pool_max_conns=%d", load, a.MaxConns, waited, rec)
		case a.Timeouts > 0:
			a.Reason = fmt.Sprintf("%s, but at peaks more than pool_max_conns=%d; %s: set pool_max_conns=%d", load, a.MaxConns, waited, rec)
		default:
			a.Reason = fmt.Sprintf("%s, at the cap of pool_max_conns=%d; %s, so the load wants more than it could show: set pool_max_conns=%d and read the advice again", load, a.MaxConns, waited, rec)
		}
		if share > 0 && rec == share && float64(share) < a.BusyP99 {
			a.Reason += fmt.Sprintf(", this pool's share of the server's %d, and make the queries shorter or the server's limit higher", a.ServerLimit)
		}
	case a.MaxConns > oversizedFactor*rec && a.MaxConns > a.MinConns:
		a.Verdict = VerdictOversized
		a.Reason = fmt.Sprintf("%s, less than half of pool_max_conns=%d: pool_max_conns=%d would do", load, a.MaxConns, rec)
	default:
		a.Verdict = VerdictRight
		a.Reason = fmt.Sprintf("%s, within pool_max_conns=%d with room for bursts; %s", load, a.MaxConns, waited)
	}
	return a
}

// serverLimitQuery is the statement that reads how many connections the
// server accepts from the session's user, or "" where sqlpool knows of none.
func serverLimitQuery(k driverKind) string {
	switch {
	case k.postgres():
		// Connections past max_connections less the reserved ones are
		// refused to roles that are not superusers; a role's or a
		// database's CONNECTION LIMIT (-1: none) bounds them too.
		return `SELECT least(
	current_setting('max_connections')::int - CASE WHEN r.rolsuper THEN 0 ELSE
		current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0) END,
	CASE WHEN r.rolconnlimit >= 0 THEN r.rolconnlimit ELSE 2147483647 END,
	CASE WHEN d.datconnlimit >= 0 THEN d.datconnlimit ELSE 2147483647 END)
FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`
	case k == kindMySQL:
		// The session's max_user_connections is the account's limit where
		// one is set (MAX_USER_CONNECTIONS), else the global one; 0 is none.
		return "SELECT IF(@@SESSION.max_user_connections > 0, LEAST(@@GLOBAL.max_connections, @@SESSION.max_user_connections), @@GLOBAL.max_connections)"
	}
	return ""
}

// The states of poolState.limitState.
const (
	limitUnread = iota
	limitReading
	limitRead
)

// readServerLimit reads how many connections the server accepts from the
// pool's user (Advice.ServerLimit), once per pool, when someone first asks
// for the advice (Advise, a Snapshot): never at a dial, where the query
// would be one the application did not send, in the order its server sees
// (the drivers' own suites, run through sqlpool, check that order). It runs
// on an idle connection only, taken without counting (pool.TryAcquireIdle),
// so the pool's numbers and waiters see nothing of it; with none idle it
// is left for the next ask. ctx bounds the query.
func (ps *poolState) readServerLimit(ctx context.Context) {
	q := serverLimitQuery(ps.kind)
	if q == "" || ps.scoped || !ps.limitState.CompareAndSwap(limitUnread, limitReading) {
		return
	}
	state := int32(limitUnread)
	defer func() { ps.limitState.Store(state) }()
	res := ps.pool.TryAcquireIdle()
	if res == nil {
		return
	}
	v, err := queryValue(ctx, res.Value().inner, q)
	if err != nil {
		// Whatever failed, the connection is not trusted with the next
		// operation: a new one replaces it.
		res.Retire()
		return
	}
	res.Release()
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		ps.serverLimit.Store(int64(n))
	}
	state = limitRead
}

// onServer counts the open pools on ps's server and database, ps included.
func (r *registry) onServer(ps *poolState) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for o := range r.open {
		if o.target == ps.target && o.kind == ps.kind {
			n++
		}
	}
	return n
}
