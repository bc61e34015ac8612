package sqlpool

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// The registry of the process's pools: every open pool, for Snapshots and
// the history sampler, and the shared ones by key, for the sql.Opens that
// share one (pool_share, pool_name).

// registry holds the shared pools (pool_share=true, or an explicit
// pool_name), so that every sql.DB opened with the same DSN, or name,
// shares one.
var registry = struct {
	mu    sync.Mutex
	pools map[string]*poolState // by poolSpec.shareKey; guarded by mu
}{pools: map[string]*poolState{}}

// openPools lists every open pool of the process, however it was opened, for
// Stats and Snapshots; it runs the history sampler while any is open.
var openPools = &poolSet{pools: map[*poolState]struct{}{}}

type poolSet struct {
	interval time.Duration // between samples; 0 means historyInterval (tests shorten it)

	mu     sync.Mutex
	pools  map[*poolState]struct{} // open pools; guarded by mu
	seq    uint64                  // numbers pools in opening order; guarded by mu
	record bool                    // RecordHistory was called; guarded by mu
	stop   chan struct{}           // closed to stop the sampler; nil while none runs; guarded by mu
}

func (s *poolSet) add(ps *poolState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	ps.opened = s.seq
	s.pools[ps] = struct{}{}
	if s.record {
		s.startSamplerLocked()
	}
}

// remove forgets ps; it is idempotent. The sampler stops with the last pool.
func (s *poolSet) remove(ps *poolState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pools, ps)
	if len(s.pools) == 0 && s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
}

// list returns the open pools by name, then in opening order.
func (s *poolSet) list() []*poolState {
	s.mu.Lock()
	out := make([]*poolState, 0, len(s.pools))
	for ps := range s.pools {
		out = append(out, ps)
	}
	s.mu.Unlock()
	// opened is written once, under mu, before the pool is listed.
	slices.SortFunc(out, func(a, b *poolState) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.opened, b.opened))
	})
	return out
}

// startSamplerLocked starts the sampler if a pool is open and none runs.
func (s *poolSet) startSamplerLocked() {
	if s.stop != nil || len(s.pools) == 0 {
		return
	}
	s.stop = make(chan struct{})
	go s.sample(s.stop)
}

// sample records a Sample of every open pool each historyInterval until
// stop is closed.
func (s *poolSet) sample(stop <-chan struct{}) {
	t := time.NewTicker(cmp.Or(s.interval, historyInterval))
	defer t.Stop()
	var pools []*poolState
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for ps := range s.pools {
			pools = append(pools, ps)
		}
		s.mu.Unlock()
		now := time.Now()
		for _, ps := range pools {
			ps.hist.add(now, ps.pool.Stat())
		}
		clear(pools)
		pools = pools[:0]
	}
}

// RecordHistory makes every sqlpool pool of the process, open now or opened
// later, keep the last ten minutes of its gauges: one Sample a second, which
// Snapshot.History returns (about 50 KB per pool). One goroutine samples
// every pool, taking each pool's lock once a second for a Stat; it runs while
// at least one pool is open, and stops when the last one closes (to start
// again with the next). Operations pay nothing for it. Calling it again does
// nothing, and it cannot be undone. dashboard.Handler calls it.
func RecordHistory() {
	openPools.mu.Lock()
	defer openPools.mu.Unlock()
	openPools.record = true
	openPools.startSamplerLocked()
}
