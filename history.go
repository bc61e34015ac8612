package sqlpool

import (
	"sync"
	"time"

	"github.com/sqlpool/sqlpool/pool"
)

// The history of a pool's gauges: a sample a second, taken by the
// registry's sampler once RecordHistory was called.

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
