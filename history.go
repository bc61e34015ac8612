package sqlpool

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/sqlpool/sqlpool/pool"
)

// The history RecordHistory keeps: a sample every historyInterval, the last
// historyLen of them.
const (
	historyInterval = time.Second
	historyLen      = 600 // ten minutes
)

// Sample is one point of a pool's history (RecordHistory): its gauges at At,
// and what its counters counted in the interval since the sample before.
type Sample struct {
	At      time.Time
	InUse   int // physical connections in use (or being checked)
	Idle    int
	Waiting int // operations queued for a connection
	Dialing int // connections being dialed

	// In the interval since the sample before; zero in the first sample.
	Acquires int64         // connections handed out
	Waits    int64         // hand-outs that had to queue and ended (served, timed out or canceled)
	WaitTime time.Duration // how long those queued in all: WaitTime / Waits is their mean wait
	Timeouts int64         // waits that ended at pool_acquire_timeout
}

// MeanWait returns the mean time the waits of the interval spent queued, or
// 0 if none queued.
func (s Sample) MeanWait() time.Duration {
	if s.Waits == 0 {
		return 0
	}
	return s.WaitTime / time.Duration(s.Waits)
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

// history is a pool's ring of samples.
type history struct {
	mu      sync.Mutex
	samples []Sample  // the ring, allocated at the first sample; guarded by mu
	next    int       // where the next sample goes; guarded by mu
	prev    pool.Stat // the counters at the last sample; guarded by mu
}

// add records the sample of s taken at now.
func (h *history) add(now time.Time, s pool.Stat) {
	smp := Sample{At: now, InUse: s.InUse, Idle: s.Idle, Waiting: s.Waiting, Dialing: s.Constructing}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.samples == nil {
		h.samples = make([]Sample, 0, historyLen)
	} else {
		smp.Acquires = s.AcquireCount - h.prev.AcquireCount
		smp.Waits = s.WaitCount - h.prev.WaitCount
		smp.WaitTime = s.WaitDuration - h.prev.WaitDuration
		smp.Timeouts = s.TimeoutCount - h.prev.TimeoutCount
	}
	h.prev = s
	if len(h.samples) < historyLen {
		h.samples = append(h.samples, smp)
		return
	}
	h.samples[h.next] = smp
	h.next = (h.next + 1) % historyLen
}

// appendTo appends the samples to dst, oldest first.
func (h *history) appendTo(dst []Sample) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	dst = append(dst, h.samples[h.next:]...)
	return append(dst, h.samples[:h.next]...)
}
