package sqlpool

import (
	"sync"
	"time"

	"github.com/sqlpool/sqlpool/pool"
)

// The history of a pool's gauges: a sample a second, taken by the
// registry's sampler while the pool's alerts are on (pool_alert_window) or
// once RecordHistory was called. Every markEvery samples it also keeps the
// pool's whole Stat, histograms included, from which Advise reads the
// last minutes' counters.

// The history RecordHistory keeps: a sample every historyInterval, the last
// historyLen of them.
const (
	historyInterval = time.Second
	historyLen      = 600 // ten minutes

	markEvery = 5                           // samples between two marks
	marksLen  = adviceSamples/markEvery + 2 // marks cover what Advise reads
)

// Sample is one point of a pool's history (RecordHistory): its gauges at At,
// and what its counters counted in the interval since the sample before.
type Sample struct {
	At      time.Time
	InUse   int // physical connections in use (or being checked)
	Idle    int
	Waiting int // operations queued for a connection
	Dialing int // connections being dialed
	// MaxConns is pool_max_conns then (SetMaxConns changes it).
	MaxConns int

	// In the interval since the sample before; zero in the first sample.
	Acquires   int64         // connections handed out
	Waits      int64         // hand-outs that had to queue and ended (served, timed out or canceled)
	WaitTime   time.Duration // how long those queued in all: WaitTime / Waits is their mean wait
	Timeouts   int64         // waits that ended at pool_acquire_timeout
	Holds      int64         // hand-outs that ended (connections given back or destroyed by their holder)
	HoldTime   time.Duration // how long those were held in all
	Dials      int64         // connections dialed
	DialErrors int64         // dials that failed
}

// MeanWait returns the mean time the waits of the interval spent queued, or
// 0 if none queued.
func (s Sample) MeanWait() time.Duration {
	if s.Waits == 0 {
		return 0
	}
	return s.WaitTime / time.Duration(s.Waits)
}

// history is a pool's ring of samples, and a ring of marks.
type history struct {
	mu       sync.Mutex
	samples  []Sample  // the ring, allocated at the first sample; guarded by mu
	next     int       // where the next sample goes; guarded by mu
	prev     pool.Stat // the counters at the last sample; guarded by mu
	count    int       // samples taken; guarded by mu
	marks    []mark    // the ring of marks, oldest at nextMark once full; guarded by mu
	nextMark int
}

// mark is a pool's Stat when a sample was taken.
type mark struct {
	at time.Time
	s  pool.Stat
}

// add records the sample of s taken at now.
func (h *history) add(now time.Time, s pool.Stat) {
	smp := Sample{At: now, InUse: s.InUse, Idle: s.Idle, Waiting: s.Waiting, Dialing: s.Constructing, MaxConns: s.MaxSize}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.samples == nil {
		h.samples = make([]Sample, 0, historyLen)
	} else {
		smp.Acquires = s.AcquireCount - h.prev.AcquireCount
		smp.Waits = s.WaitCount - h.prev.WaitCount
		smp.WaitTime = s.WaitDuration - h.prev.WaitDuration
		smp.Timeouts = s.TimeoutCount - h.prev.TimeoutCount
		smp.Holds = s.HoldCount - h.prev.HoldCount
		smp.HoldTime = s.HoldDuration - h.prev.HoldDuration
		smp.Dials = s.CreatedCount - h.prev.CreatedCount
		smp.DialErrors = s.CreateErrorCount - h.prev.CreateErrorCount
	}
	h.prev = s
	if h.count%markEvery == 0 {
		if h.marks == nil {
			h.marks = make([]mark, 0, marksLen)
		}
		if len(h.marks) < marksLen {
			h.marks = append(h.marks, mark{now, s})
		} else {
			h.marks[h.nextMark] = mark{now, s}
			h.nextMark = (h.nextMark + 1) % marksLen
		}
	}
	h.count++
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

// span is what history.since returns: a window of a pool's history.
type span struct {
	samples []Sample  // taken after the window's start, oldest first
	mark    mark      // the newest mark at or before the start, or, if none, the oldest
	marked  bool      // mark is set: the history holds a mark
	covered bool      // the history reaches back to the start: a sample was taken at or before it
	last    pool.Stat // the Stat of the last sample
}

// since returns the window of the history that starts at from, its
// samples appended to dst.
func (h *history) since(dst []Sample, from time.Time) span {
	h.mu.Lock()
	defer h.mu.Unlock()
	sp := span{last: h.prev}
	n := len(h.samples)
	for i := range n {
		smp := h.samples[(h.next+i)%n]
		if smp.At.After(from) {
			dst = append(dst, smp)
		} else {
			sp.covered = true
		}
	}
	sp.samples = dst
	for i := range len(h.marks) {
		mk := h.marks[(h.nextMark+i)%len(h.marks)]
		if i > 0 && mk.at.After(from) {
			break
		}
		sp.mark, sp.marked = mk, true
	}
	return sp
}
