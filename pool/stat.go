package pool

import "time"

// Stat is a snapshot of a pool: gauges as of the call and counters since New.
type Stat struct {
	MaxSize      int // Config.MaxSize, or the last SetMaxSize
	MinSize      int // Config.MinSize, or the last SetMinSize
	MinIdle      int // Config.MinIdle (lowered to MaxSize by SetMaxSize)
	Total        int // resources open or being made
	Idle         int // resources in the idle list
	InUse        int // resources handed out (or being checked)
	Constructing int // constructions in flight
	Waiting      int // Acquire calls queued for a resource

	AcquireCount        int64         // successful Acquires
	WaitCount           int64         // Acquires that had to queue, whatever their outcome
	WaitDuration        time.Duration // total time Acquires spent queued
	TimeoutCount        int64         // Acquires that failed on Config.AcquireTimeout
	CanceledCount       int64         // Acquires whose context ended while queued
	UnavailableCount    int64         // Acquires that failed at once with ErrUnavailable
	PermanentErrorCount int64         // Acquires that failed with a permanent Constructor error (Config.Permanent)
	CreatedCount        int64         // resources the Constructor made
	CreateErrorCount    int64         // Constructor calls that failed
	CreateDuration      time.Duration // total time of successful Constructor calls

	// HoldCount and HoldDuration count the resources given back by Release
	// or destroyed by Destroy (not Retire), and how long they had been held in all
	// (from the hand-out, including any check): HoldDuration / HoldCount is
	// the mean hold time, W in Little's law.
	HoldCount    int64
	HoldDuration time.Duration
	// HoldBuckets counts those hold times, WaitBuckets the time each
	// finished wait queued (those counted in WaitCount).
	HoldBuckets Histogram
	WaitBuckets Histogram

	// Destroyed counts destroyed resources by reason; index it with a
	// DestroyReason, or use DestroyedCount.
	Destroyed [numReasons]int64
}

// DestroyedCount returns how many resources were destroyed for reason.
func (s Stat) DestroyedCount(reason DestroyReason) int64 {
	if reason >= numReasons {
		return 0
	}
	return s.Destroyed[reason]
}

// DestroyReasons lists every DestroyReason, in order.
func DestroyReasons() []DestroyReason {
	rs := make([]DestroyReason, numReasons)
	for i := range rs {
		rs[i] = DestroyReason(i)
	}
	return rs
}

// Stat returns a snapshot of the pool. It takes the pool's lock briefly.
func (p *Pool[T]) Stat() Stat {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Total = p.total
	s.Idle = p.idle.len()
	s.Constructing = p.creating
	s.InUse = p.total - p.idle.len() - p.creating
	s.Waiting = p.waiters.len()
	return s
}
