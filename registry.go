package sqlpool

import (
	"cmp"
	"database/sql/driver"
	"fmt"
	"slices"
	"sync"
	"time"
)

// pools is the process's registry of pools: every open pool, however it
// was opened (for Snapshots and the history sampler), and the shared ones
// by key (pool_share, pool_name), with their counts of Connectors.
var pools = &registry{open: map[*poolState]struct{}{}, shared: map[string]*poolState{}}

// registry is the type of pools; one lock guards it all, and the
// poolState fields it keeps (opened, key, identity, refs).
type registry struct {
	interval time.Duration // between samples; 0 means historyInterval (tests shorten it)

	mu     sync.Mutex
	open   map[*poolState]struct{} // every open pool
	shared map[string]*poolState   // the shared pools, by poolSpec.shareKey
	seq    uint64                  // numbers pools in opening order
	record bool                    // RecordHistory was called
	stop   chan struct{}           // closed to stop the sampler; nil while none runs
}

// openPool makes a pool (newPoolState) and lists it.
func (r *registry) openPool(o poolOrigin, inner driver.Connector, cfg config) (*poolState, error) {
	ps, err := newPoolState(o, inner, cfg)
	if err != nil {
		return nil, err
	}
	r.add(ps)
	return ps, nil
}

// closePool unlists ps and closes it.
func (r *registry) closePool(ps *poolState) {
	r.remove(ps)
	ps.close()
}

// add lists a new pool.
func (r *registry) add(ps *poolState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	ps.opened = r.seq
	r.open[ps] = struct{}{}
	if r.record || ps.sampled() {
		r.startSamplerLocked()
	}
}

// remove forgets ps, shared or not; it is idempotent. The sampler stops
// with the last pool.
func (r *registry) remove(ps *poolState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, ps)
	if ps.key != "" && r.shared[ps.key] == ps {
		delete(r.shared, ps.key)
	}
	if len(r.open) == 0 && r.stop != nil {
		close(r.stop)
		r.stop = nil
	}
}

// share returns the shared pool registered under key, with one more
// Connector counted on it, or nil if there is none. identity is the
// caller's driver name and DSN: a pool_name in use by another DSN is an
// error.
func (r *registry) share(key, identity string) (*poolState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.shared[key]
	if ps == nil {
		return nil, nil
	}
	if ps.identity != identity {
		return nil, fmt.Errorf("sqlpool: pool_name %q is the name of an open pool with another DSN; sql.DBs share a pool by name only with the same DSN, so give this one another pool_name", echoParam(ps.cfg.name))
	}
	ps.refs++
	return ps, nil
}

// publish registers ps, new, as the shared pool of key, with its first
// Connector counted; false if another Open of the same key won the race.
func (r *registry) publish(key, identity string, ps *poolState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shared[key] != nil {
		return false
	}
	ps.key, ps.identity, ps.refs = key, identity, 1
	r.shared[key] = ps
	return true
}

// release drops one Connector of the shared pool ps, and reports whether it
// was the last, which must close the pool.
func (r *registry) release(ps *poolState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps.refs--
	if ps.refs > 0 {
		return false
	}
	delete(r.shared, ps.key)
	return true
}

// list returns the open pools by name, then in opening order.
func (r *registry) list() []*poolState {
	r.mu.Lock()
	out := make([]*poolState, 0, len(r.open))
	for ps := range r.open {
		out = append(out, ps)
	}
	r.mu.Unlock()
	// opened is written once, under mu, before the pool is listed.
	slices.SortFunc(out, func(a, b *poolState) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.opened, b.opened))
	})
	return out
}

// startSamplerLocked starts the sampler if a pool is open and none runs.
func (r *registry) startSamplerLocked() {
	if r.stop != nil || len(r.open) == 0 {
		return
	}
	r.stop = make(chan struct{})
	go r.sample(r.stop)
}

// sample records a Sample of every open pool that keeps a history each
// historyInterval, and evaluates its alerts, until stop is closed.
func (r *registry) sample(stop <-chan struct{}) {
	t := time.NewTicker(cmp.Or(r.interval, historyInterval))
	defer t.Stop()
	var open []*poolState
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		for ps := range r.open {
			if r.record || ps.sampled() {
				open = append(open, ps)
			}
		}
		r.mu.Unlock()
		now := time.Now()
		for _, ps := range open {
			ps.hist.add(now, ps.pool.Stat())
			ps.evaluateAlerts(now)
		}
		clear(open)
		open = open[:0]
	}
}

// RecordHistory makes every sqlpool pool of the process, open now or opened
// later, keep the last ten minutes of its gauges: one Sample a second, which
// Snapshot.History returns (about 150 KB per pool, with the counters Advise reads). A pool whose alerts are
// on (pool_alert_window, on by default) keeps it anyway: its alerts and its
// Advice read it. One goroutine samples every such pool, taking each pool's
// lock once a second for a Stat; it runs while at least one pool is open,
// and stops when the last one closes (to start again with the next).
// Operations pay nothing for it. Calling it again does nothing, and it
// cannot be undone. dashboard.Handler calls it.
func RecordHistory() {
	pools.mu.Lock()
	defer pools.mu.Unlock()
	pools.record = true
	pools.startSamplerLocked()
}

// sampled reports whether ps keeps a history whether or not RecordHistory
// was called: its alerts are on.
func (ps *poolState) sampled() bool { return ps.cfg.alertWindow > 0 }
