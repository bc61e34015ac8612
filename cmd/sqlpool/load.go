package main

import (
	"cmp"
	"context"
	"database/sql"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// probe is what the load's sampler reads from a database while it runs.
type probe struct {
	open     int   // physical connections open now
	created  int64 // physical connections made so far (sqlpool only)
	lifetime int64 // physical connections retired by lifetime so far (sqlpool only)
}

// poolProbe reads the sqlpool pool named name through sqlpool.Stats, which
// takes no connection from database/sql.
func poolProbe(name string) probe {
	for _, s := range sqlpool.Snapshots() {
		if s.Name == name {
			return probe{open: s.Total, created: s.CreatedCount, lifetime: s.DestroyedCount(pool.ReasonLifetime)}
		}
	}
	return probe{}
}

// point is a probe taken at some time into a load run.
type point struct {
	at time.Duration
	probe
}

// loadResult is what one load run did.
type loadResult struct {
	queries, errors int64
	firstErr        error
	elapsed         time.Duration
	peak            int     // most physical connections seen open at once (sampled)
	timeline        []point // before the run, about each quarter of it, and at its end
	seen            []span  // physical connections seen by observed queries, by last use
}

// span is when queries were seen on one physical connection, as times into
// the run.
type span struct{ first, last time.Duration }

// connWatcher records which physical connection each observed query ran on.
type connWatcher struct {
	start time.Time
	mu    sync.Mutex
	spans map[any]*span // by inner driver connection; guarded by mu
}

// see records a query on the inner connection ic now.
func (cw *connWatcher) see(ic any) {
	if reflect.ValueOf(ic).Kind() != reflect.Pointer {
		return // no identity to go by
	}
	at := time.Since(cw.start)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if s := cw.spans[ic]; s != nil {
		s.last = at
		return
	}
	cw.spans[ic] = &span{at, at}
}

// sorted returns the spans by last use.
func (cw *connWatcher) sorted() []span {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	out := make([]span, 0, len(cw.spans))
	for _, s := range cw.spans {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.last, b.last) })
	return out
}

// observeEvery: on a sqlpool database, one query in observeEvery per worker
// runs on a sql.Conn whose physical connection is looked at first
// (sqlpool.UnwrapContext), to time each connection's service. It is the same
// single query per hand-out as db.QueryRowContext.
const observeEvery = 4

// observedQuery runs one query on its own sql.Conn and records the physical
// connection it ran on.
func observedQuery(ctx context.Context, db *sql.DB, cw *connWatcher, query string, args []any, dest *any) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		ic, err := sqlpool.UnwrapContext(ctx, dc)
		if err == nil {
			cw.see(ic)
		}
		return err
	})
	if err != nil {
		return err
	}
	return c.QueryRowContext(ctx, query, args...).Scan(dest)
}

// sampleEvery is how often the sampler probes during a load run.
const sampleEvery = 2 * time.Millisecond

// runLoad runs o.workers goroutines querying db for o.duration. Queries run
// on ctx, not on a deadline, so the run ends without canceling any: a query
// that fails is a real error. With watch set (db is a sqlpool database) it
// times each physical connection's service. It returns ctx's error if ctx
// ends first.
func runLoad(ctx context.Context, db *sql.DB, o options, t target, watch bool, sample func() probe) (loadResult, error) {
	var (
		res           loadResult
		queries, errs atomic.Int64
		firstErrOnce  sync.Once
		firstErr      error
		wg            sync.WaitGroup
		start         = time.Now()
		deadline      = start.Add(o.duration)
		first         = sample()
		done          = make(chan struct{})
		nextQuarter   = 1
		cw            = &connWatcher{start: start, spans: map[any]*span{}}
	)
	res.peak = first.open
	res.timeline = append(res.timeline, point{0, first})

	for i := range o.workers {
		wg.Go(func() {
			var v any
			for n := i; ctx.Err() == nil && time.Now().Before(deadline); n += o.workers {
				var args []any
				if t.queryArgs != nil {
					args = t.queryArgs(n)
				}
				var err error
				if watch && (n/o.workers)%observeEvery == 0 {
					err = observedQuery(ctx, db, cw, t.query, args, &v)
				} else {
					err = db.QueryRowContext(ctx, t.query, args...).Scan(&v)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					firstErrOnce.Do(func() { firstErr = err })
					continue
				}
				queries.Add(1)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
sampling:
	for {
		select {
		case <-done:
			break sampling
		case <-tick.C:
		}
		p, at := sample(), time.Since(start)
		res.peak = max(res.peak, p.open)
		// One row per sample, even if a late sample passes two marks.
		if passed := func() bool { return nextQuarter < 4 && at >= o.duration*time.Duration(nextQuarter)/4 }; passed() {
			res.timeline = append(res.timeline, point{at, p})
			for passed() {
				nextQuarter++
			}
		}
	}
	res.elapsed = time.Since(start)
	p := sample()
	res.peak = max(res.peak, p.open)
	res.timeline = append(res.timeline, point{res.elapsed, p})
	res.seen = cw.sorted()
	res.queries, res.errors, res.firstErr = queries.Load(), errs.Load(), firstErr
	return res, ctx.Err()
}
