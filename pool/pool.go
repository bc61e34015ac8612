// Package pool is a generic pool of resources that knows nothing of what it
// pools: database connections, HTTP clients, gRPC streams or workers.
//
// A Pool keeps at most MaxSize resources, hands idle ones out most recently
// used first (or FIFO), queues callers that find none in strict FIFO order,
// checks (pings) resources that sat idle before handing them out, retires them
// by lifetime (with jitter) and idle time, keeps a minimum warm, and keeps
// trying to make new ones with backoff while the thing behind them is down.
//
// The package is the pool under sqlpool's database/sql driver but does not
// import database/sql.
package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrClosed is returned by Acquire once Close has been called.
var ErrClosed = errors.New("pool: closed")

// ErrAcquireTimeout is wrapped by the error Acquire returns when
// Config.AcquireTimeout passes before a resource is available. The message
// says how the pool looked.
var ErrAcquireTimeout = errors.New("pool: acquire timeout")

// ErrUnavailable is wrapped, together with the Constructor's last error, by
// the error Acquire returns at once, without waiting, when the Constructor has
// failed without a success for longer than Config.AcquireTimeout.
var ErrUnavailable = errors.New("pool: resource unavailable")

// ErrRetire is wrapped by an error of Config.Check that says the resource
// works but must not be handed out again (its state cannot be restored,
// say). The pool destroys it as ReasonRetired, without counting a failed
// check, and Acquire takes or makes another.
var ErrRetire = errors.New("pool: retire the resource")

// nowFunc is the clock; tests may replace it.
var nowFunc = time.Now

type resState uint8

const (
	stateIdle     resState = iota // in the idle list
	stateAcquired                 // handed out, or being handed to a waiter
	stateChecking                 // taken out of the idle list by the health check
	stateDestroyed
)

// Resource is one pooled value. It is handed out by Acquire and must be given
// back exactly once, with Release or Destroy.
type Resource[T any] struct {
	value     T
	pool      *Pool[T]
	createdAt time.Time
	expiresAt time.Time // zero: never expires
	gen       uint64    // Pool.gen when its construction was asked for

	// Guarded by pool.mu.
	state      resState
	releasedAt time.Time // last Release, or creation; drives idle time
	verifiedAt time.Time // last time it was known to work: creation, release, check
	acquiredAt time.Time
	uses       int64
	quiet      bool              // taken by TryAcquireIdle: not counted in Stat
	link       link[Resource[T]] // in Pool.idle while idle
	allIdx     int               // position in Pool.all; -1 once out of it
}

func (r *Resource[T]) links() *link[Resource[T]] { return &r.link }

// Value returns the pooled value. It may be called at any time.
func (r *Resource[T]) Value() T { return r.value }

// CreatedAt returns when the Constructor returned the resource.
func (r *Resource[T]) CreatedAt() time.Time { return r.createdAt }

// AcquiredAt returns when the current holder acquired the resource. Only the
// holder may call it, while it holds the resource.
func (r *Resource[T]) AcquiredAt() time.Time { return r.acquiredAt }

// Release gives the resource back to the pool: to the longest waiting Acquire,
// or to the idle list, or, if it has outlived its lifetime or the pool is
// closed, to its Destructor. It does not block on I/O unless the resource is
// destroyed.
func (r *Resource[T]) Release() { r.pool.release(r) }

// Destroy gives the resource back to the pool to be destroyed: use it when the
// resource is broken or its state is unknown. It counts as ReasonBroken.
func (r *Resource[T]) Destroy() { r.pool.destroyAcquired(r, ReasonBroken) }

// Retire gives the resource back to the pool to be destroyed although it
// works: use it when it must not serve anyone else. It counts as
// ReasonRetired.
func (r *Resource[T]) Retire() { r.pool.destroyAcquired(r, ReasonRetired) }

// DestroyReason says why a resource was destroyed.
type DestroyReason uint8

// The reasons a resource is destroyed, as counted in Stat.Destroyed.
const (
	ReasonBroken    DestroyReason = iota // Resource.Destroy
	ReasonLifetime                       // MaxLifetime passed
	ReasonIdle                           // MaxIdleTime passed
	ReasonCheck                          // Check failed
	ReasonClosed                         // the pool closed
	ReasonReclaimed                      // DestroyReclaimed (taken back from its holder)
	ReasonRetired                        // Resource.Retire, or a Check that returned ErrRetire
	ReasonReset                          // made before the last Reset
	ReasonResized                        // over MaxSize after SetMaxSize lowered it
	numReasons
)

var reasonNames = [numReasons]string{"broken", "lifetime", "idle", "check_failed", "closed", "reclaimed", "retired", "reset", "resized"}

// String returns the reason's name as Stat reports it: "broken", "lifetime",
// "idle", "check_failed", "closed", "reclaimed", "retired", "reset" or
// "resized".
func (r DestroyReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("DestroyReason(%d)", uint8(r))
}

// DestroyReclaimed destroys a resource on behalf of a pool-level policy (leak
// reclaim) rather than its holder; it counts as ReasonReclaimed.
func (r *Resource[T]) DestroyReclaimed() { r.pool.destroyAcquired(r, ReasonReclaimed) }

type waiter[T any] struct {
	ch    chan *Resource[T] // 1-buffered; closed when the pool closes; nil sent with err
	check bool              // the resource sent on ch must be checked first; set with the send
	err   error             // sent instead of a resource (a nil one): a permanent Constructor error; set with the send
	since time.Time
	timer *time.Timer // the acquire timeout, reused with the waiter

	link link[waiter[T]] // in Pool.waiters while queued; guarded by Pool.mu
}

func (w *waiter[T]) links() *link[waiter[T]] { return &w.link }

// Pool is a pool of resources of type T. It is safe for concurrent use.
// Create one with New and Close it when done.
type Pool[T any] struct {
	cfg Config[T]

	closeCtx    context.Context // done when Close starts; bounds constructions
	cancelClose context.CancelFunc
	wg          sync.WaitGroup // construction goroutines and the health check
	closeOnce   sync.Once
	waiterPool  sync.Pool // of *waiter[T], free for reuse
	healthStop  chan struct{}

	mu         sync.Mutex
	closed     bool
	total      int                              // resources in any state but destroyed, including those being made
	creating   int                              // constructions in flight
	idle       ilist[Resource[T], *Resource[T]] // front: most recently released
	waiters    ilist[waiter[T], *waiter[T]]     // front: oldest
	suspectAt  time.Time                        // idle resources verified before this are checked before use
	failSince  time.Time                        // when the first construction that failed since the last success was asked for; zero when healthy
	timedOut   bool                             // an Acquire timed out while constructions were failing; cleared by a success
	lastErr    error                            // last construction error; nil once one succeeds
	permErr    error                            // the last construction failed with a permanent error (Config.Permanent); nil once one succeeds
	backoff    time.Duration                    // current delay between failed constructions
	failedAt   time.Time                        // when the last construction failed
	nextTry    time.Time                        // no construction before this while failing
	retry      *time.Timer                      // pending retry of a failed construction, nil if none
	rechecks   []*Resource[T]                   // taken out of the idle list by Recheck, to be checked (stateChecking)
	recheck    bool                             // a goroutine is checking rechecks
	rechecking int                              // resources taken out by Recheck and not back yet: queued or being checked
	gen        uint64                           // incremented by Reset; a resource of an older generation is not handed out again
	stats      Stat                             // cumulative counters; gauges are computed in Stat

	// For AppendResources only (resources.go): touched only when a
	// resource is asked for, made or destroyed, never on the path of an
	// Acquire served by an idle resource or of a Release that keeps it.
	all     []*Resource[T] // every resource made and not destroyed, in any state; Resource.allIdx indexes it
	dialing []time.Time    // when each construction in flight was asked for (a multiset: len is creating)
}

// New creates a pool and starts its health check goroutine (if
// Config.HealthCheckPeriod > 0), which also makes MinSize resources in the
// background. It does not block on the Constructor.
func New[T any](cfg Config[T]) (*Pool[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "pool"
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 25 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Second
	}
	p := &Pool[T]{cfg: cfg, healthStop: make(chan struct{})}
	p.closeCtx, p.cancelClose = context.WithCancel(context.Background())
	p.stats.MaxSize, p.stats.MinSize, p.stats.MinIdle = cfg.MaxSize, cfg.MinSize, cfg.MinIdle
	if cfg.HealthCheckPeriod > 0 {
		p.wg.Add(1)
		go p.healthLoop()
	}
	p.mu.Lock()
	p.fillLocked(context.Background())
	p.mu.Unlock()
	return p, nil
}

// Name returns Config.Name.
func (p *Pool[T]) Name() string { return p.cfg.Name }

// Acquire returns an idle resource, or waits (FIFO) for one to be released or
// made. It blocks until a resource is available, ctx ends, AcquireTimeout
// passes or the pool closes. A resource that was idle for at least
// CheckIdleAfter is checked first; one that fails the check is destroyed and
// another taken, so the caller never sees it.
func (p *Pool[T]) Acquire(ctx context.Context) (*Resource[T], error) {
	return p.AcquirePreferred(ctx, nil)
}

// AcquirePreferred is Acquire, but hands out prefer if it is idle in this
// pool (affinity: a caller that had a resource gets the same one back, with
// whatever it keeps warm). prefer may be nil or a resource since destroyed.
func (p *Pool[T]) AcquirePreferred(ctx context.Context, prefer *Resource[T]) (*Resource[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		now := nowFunc()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		r, expired := p.takeIdleLocked(prefer, now)
		prefer = nil
		if r != nil {
			check := p.needsCheckLocked(r, now)
			r.acquiredAt = now
			r.uses++
			if !check {
				p.stats.AcquireCount++
			}
			p.mu.Unlock()
			p.destroyAll(expired)
			if check {
				if err := p.check(ctx, r); err != nil {
					p.destroyAcquired(r, checkReason(err))
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					continue
				}
				// Counted only once it passed: a resource that failed its
				// check is not an Acquire, the one that replaces it is.
				if !p.countCheckedLocked(r) {
					continue
				}
			}
			return r, nil
		}
		if err := p.failFastLocked(now); err != nil {
			p.stats.UnavailableCount++
			p.fillLocked(ctx)
			p.mu.Unlock()
			p.destroyAll(expired)
			return nil, err
		}
		w := p.newWaiter(now)
		p.waiters.pushBack(w)
		p.fillLocked(ctx)
		p.mu.Unlock()
		p.destroyAll(expired)
		r, check, err := p.wait(ctx, w)
		if err != nil || !check {
			return r, err
		}
		if err := p.check(ctx, r); err != nil {
			p.destroyAcquired(r, checkReason(err))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			continue
		}
		if !p.countCheckedLocked(r) {
			continue
		}
		return r, nil
	}
}

// TryAcquireIdle takes an idle resource at once, or returns nil if none is
// idle (or the pool is closed). It waits for nothing and makes nothing, the
// resource is not checked first, and neither its hand-out nor its hold is
// counted in Stat, nor does it count as use for MaxIdleTime: it is for a
// look the pool's users should not see in its numbers, such as a
// monitoring query. Give it back with Release, Retire or Destroy.
func (p *Pool[T]) TryAcquireIdle() *Resource[T] {
	now := nowFunc()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	r, expired := p.takeIdleLocked(nil, now)
	if r != nil {
		r.quiet = true
		r.acquiredAt = now
	}
	p.mu.Unlock()
	p.destroyAll(expired)
	return r
}

// countCheckedLocked counts the Acquire of r, which just passed its check,
// and reports true; or, if Reset or SetMaxSize made r unfit while it was being
// checked, destroys it and reports false, and the caller takes another.
// It takes the pool's lock.
func (p *Pool[T]) countCheckedLocked(r *Resource[T]) bool {
	p.mu.Lock()
	if reason, unfit := p.unfitLocked(r); unfit {
		p.markDestroyedLocked(r, reason)
		p.fillLocked(context.Background())
		p.mu.Unlock()
		p.destructor(r)
		return false
	}
	p.stats.AcquireCount++
	p.mu.Unlock()
	return true
}

// unfitLocked reports whether r, which works, must not be handed out or kept
// idle: it was made before the last Reset, or the pool holds more than
// MaxSize since SetMaxSize lowered it.
func (p *Pool[T]) unfitLocked(r *Resource[T]) (DestroyReason, bool) {
	switch {
	case r.gen != p.gen:
		return ReasonReset, true
	case p.total > p.cfg.MaxSize:
		return ReasonResized, true
	}
	return 0, false
}

// wait blocks until w is handed a resource, ctx ends, the acquire timeout
// passes or the pool closes.
// It also reports whether the resource must be checked before use.
func (p *Pool[T]) wait(ctx context.Context, w *waiter[T]) (*Resource[T], bool, error) {
	var timeout <-chan time.Time
	if p.cfg.AcquireTimeout > 0 {
		if w.timer == nil {
			w.timer = time.NewTimer(p.cfg.AcquireTimeout)
		} else {
			w.timer.Reset(p.cfg.AcquireTimeout)
		}
		timeout = w.timer.C
	}
	var cause error
	select {
	case r, ok := <-w.ch:
		if !ok {
			return nil, false, ErrClosed
		}
		if r == nil { // a permanent Constructor error, written before the send
			err := w.err
			w.err = nil
			p.noteWait(w, waitFailed)
			p.recycle(w)
			return nil, false, err
		}
		check := w.check // written before the send
		p.noteWait(w, waitServed)
		p.recycle(w)
		return r, check, nil
	case <-ctx.Done():
		cause = context.Cause(ctx)
	case <-timeout:
	}

	p.mu.Lock()
	removed := p.waiters.contains(w)
	if removed {
		p.waiters.remove(w)
	}
	p.mu.Unlock()
	reusable := true
	if !removed {
		// A resource is already on its way (or the pool closed, or the
		// Constructor failed for good): take it and put it back, so it goes
		// to the next waiter and is not lost.
		r, ok := <-w.ch
		if r != nil {
			p.putBack(r, false) // nobody held it: no hold to count
		}
		w.err = nil
		reusable = ok
	}
	outcome := waitTimedOut
	if cause != nil {
		outcome = waitCanceled
	}
	err := p.noteWait(w, outcome)
	if reusable {
		p.recycle(w)
	}
	if cause != nil {
		err = cause
		if last := p.LastError(); last != nil {
			err = fmt.Errorf("%w; last error making a resource: %w", cause, last)
		}
	}
	return nil, false, err
}

// newWaiter returns a waiter with an empty channel, recycled when possible:
// under contention every Acquire waits, and waiting should not allocate.
func (p *Pool[T]) newWaiter(now time.Time) *waiter[T] {
	w, _ := p.waiterPool.Get().(*waiter[T])
	if w == nil {
		w = &waiter[T]{ch: make(chan *Resource[T], 1)}
	}
	w.since = now
	return w
}

// recycle returns a waiter whose channel is empty and open, and which is out
// of the queue, for reuse.
func (p *Pool[T]) recycle(w *waiter[T]) {
	if w.timer != nil {
		w.timer.Stop() // Go >= 1.23: no stale value can arrive after Stop
	}
	p.waiterPool.Put(w)
}

// How a wait ended, for noteWait.
type waitOutcome uint8

const (
	waitServed   waitOutcome = iota // handed a resource
	waitFailed                      // handed a permanent Constructor error
	waitCanceled                    // its context ended
	waitTimedOut                    // AcquireTimeout passed
)

// noteWait records a finished wait and, for one that timed out, builds its
// error.
func (p *Pool[T]) noteWait(w *waiter[T], outcome waitOutcome) error {
	waited := nowFunc().Sub(w.since)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.WaitCount++
	p.stats.WaitDuration += waited
	p.stats.WaitBuckets.add(waited)
	switch outcome {
	case waitServed:
		if !w.check {
			p.stats.AcquireCount++ // else counted once the check passed
		}
		return nil
	case waitFailed:
		p.stats.PermanentErrorCount++
		return nil
	case waitCanceled:
		p.stats.CanceledCount++
		return nil // the caller builds the context's error
	}
	p.stats.TimeoutCount++
	if !p.failSince.IsZero() {
		// This caller waited the whole AcquireTimeout while every
		// construction failed: the outage has outlasted the timeout, as far
		// as any caller can tell, even if failSince (the first failure, which
		// came after this caller started waiting) is a little younger.
		p.timedOut = true
	}
	inUse := p.total - p.idle.len() - p.creating
	err := fmt.Errorf("%w: %s: %d/%d in use, %d waiting, waited %v",
		ErrAcquireTimeout, p.cfg.Name, inUse, p.cfg.MaxSize, p.waiters.len(), waited.Round(time.Millisecond))
	if p.lastErr != nil {
		err = fmt.Errorf("%w; last error making a resource: %w", err, p.lastErr)
	}
	return err
}

// takeIdleLocked unlinks and returns the idle resource to hand out (prefer if
// it is idle here), and the expired ones it skipped, which the caller must
// destroy after unlocking.
func (p *Pool[T]) takeIdleLocked(prefer *Resource[T], now time.Time) (r *Resource[T], expired []*Resource[T]) {
	if prefer != nil && prefer.pool == p && prefer.state == stateIdle && !prefer.expiredAt(now) {
		p.idle.remove(prefer)
		prefer.state = stateAcquired
		return prefer, nil
	}
	for p.idle.len() > 0 {
		r = p.idle.front()
		if p.cfg.FIFO {
			r = p.idle.back()
		}
		p.idle.remove(r)
		if r.expiredAt(now) {
			p.markDestroyedLocked(r, ReasonLifetime)
			expired = append(expired, r)
			continue
		}
		r.state = stateAcquired
		return r, expired
	}
	return nil, expired
}

func (r *Resource[T]) expiredAt(now time.Time) bool {
	return !r.expiresAt.IsZero() && !now.Before(r.expiresAt)
}

// needsCheckLocked reports whether r must be checked before it is handed out:
// it sat idle for CheckIdleAfter, or was last known good before SuspectIdle.
func (p *Pool[T]) needsCheckLocked(r *Resource[T], now time.Time) bool {
	if p.cfg.Check == nil {
		return false
	}
	if r.verifiedAt.Before(p.suspectAt) {
		return true
	}
	return p.cfg.CheckIdleAfter >= 0 && now.Sub(r.verifiedAt) >= p.cfg.CheckIdleAfter
}

// check runs Config.Check on an acquired resource and returns its error.
func (p *Pool[T]) check(ctx context.Context, r *Resource[T]) error {
	if p.cfg.CheckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.CheckTimeout)
		defer cancel()
	}
	if err := p.cfg.Check(ctx, r.value); err != nil {
		return err
	}
	now := nowFunc()
	p.mu.Lock()
	r.verifiedAt = now
	p.mu.Unlock()
	return nil
}

// checkReason is the reason a resource that failed its check with err is
// destroyed for.
func checkReason(err error) DestroyReason {
	if errors.Is(err, ErrRetire) {
		return ReasonRetired
	}
	return ReasonCheck
}

// failFastLocked returns the error for an Acquire that must not wait: the
// Constructor has been failing for longer than AcquireTimeout, or for as long
// as an Acquire that timed out waited.
func (p *Pool[T]) failFastLocked(now time.Time) error {
	if p.cfg.AcquireTimeout <= 0 || p.failSince.IsZero() || p.lastErr == nil {
		return nil
	}
	if down := now.Sub(p.failSince); down >= p.cfg.AcquireTimeout || p.timedOut {
		return fmt.Errorf("%w: %s: making a resource has failed for %v: %w",
			ErrUnavailable, p.cfg.Name, down.Round(time.Millisecond), p.lastErr)
	}
	return nil
}

func (p *Pool[T]) release(r *Resource[T]) { p.putBack(r, true) }

// putBack gives back r, acquired; held says a holder had it, whose hold
// Stat counts.
func (p *Pool[T]) putBack(r *Resource[T], held bool) {
	now := nowFunc()
	p.mu.Lock()
	if r.state != stateAcquired {
		p.mu.Unlock()
		panic("pool: Release of a resource that is not acquired")
	}
	if r.quiet {
		r.quiet = false
	} else {
		r.releasedAt = now
		if held {
			p.noteHoldLocked(r, now)
		}
	}
	// A release vouches for the resource, unless SuspectIdle was called while
	// it was in use: then it stays suspect until checked.
	if !r.verifiedAt.Before(p.suspectAt) {
		r.verifiedAt = now
	}
	reason := DestroyReason(numReasons)
	switch {
	case p.closed:
		reason = ReasonClosed
	case r.expiredAt(now):
		reason = ReasonLifetime
	default:
		if why, unfit := p.unfitLocked(r); unfit {
			reason = why
		}
	}
	if reason != numReasons {
		p.markDestroyedLocked(r, reason)
		p.fillLocked(context.Background())
		p.mu.Unlock()
		p.destructor(r)
		return
	}
	p.putLocked(r)
	p.mu.Unlock()
}

func (p *Pool[T]) destroyAcquired(r *Resource[T], reason DestroyReason) {
	p.mu.Lock()
	if r.state != stateAcquired && r.state != stateChecking {
		p.mu.Unlock()
		panic("pool: Destroy of a resource that is not acquired")
	}
	if p.closed {
		reason = ReasonClosed
	}
	// Retired is not a holder's doing: a session that could not be reset
	// at the hand-out, or a pinned connection given up with its holder.
	if r.state == stateAcquired && reason != ReasonRetired && !r.quiet {
		p.noteHoldLocked(r, nowFunc())
	}
	p.markDestroyedLocked(r, reason)
	p.fillLocked(context.Background())
	p.mu.Unlock()
	p.destructor(r)
}

// noteHoldLocked counts the hold of r, acquired and given back at now.
func (p *Pool[T]) noteHoldLocked(r *Resource[T], now time.Time) {
	held := now.Sub(r.acquiredAt)
	p.stats.HoldCount++
	p.stats.HoldDuration += held
	p.stats.HoldBuckets.add(held)
}

// putLocked hands r to the oldest waiter, or makes it idle.
func (p *Pool[T]) putLocked(r *Resource[T]) {
	if w := p.waiters.popFront(); w != nil {
		now := nowFunc()
		// A hand-off is a hand-out like any other: check the resource if an
		// idle one would be (with CheckIdleAfter 0, or after SuspectIdle),
		// unless it was made just now for this waiter.
		w.check = r.uses > 0 && p.needsCheckLocked(r, now)
		r.state = stateAcquired
		r.acquiredAt = now
		r.uses++
		w.ch <- r
		return
	}
	r.state = stateIdle
	p.idle.pushFront(r)
}

// markDestroyedLocked takes r out of the pool's accounts. The caller must run
// the Destructor after unlocking.
func (p *Pool[T]) markDestroyedLocked(r *Resource[T], reason DestroyReason) {
	r.state = stateDestroyed
	p.total--
	p.stats.Destroyed[reason]++
	p.forgetLocked(r)
}

func (p *Pool[T]) destructor(r *Resource[T]) {
	if p.cfg.Destructor != nil {
		p.cfg.Destructor(r.value)
	}
}

func (p *Pool[T]) destroyAll(rs []*Resource[T]) {
	for _, r := range rs {
		p.destructor(r)
	}
}

// fillLocked starts the constructions the pool needs now: one per waiter not
// already covered by a construction in flight, and enough to reach MinSize
// and MinIdle, within MaxSize. While constructions are failing it keeps a
// single one in flight, spaced by the backoff, so an outage costs no pile-up
// of goroutines or connection attempts. ctx supplies the values the
// Constructor sees.
func (p *Pool[T]) fillLocked(ctx context.Context) {
	if p.closed {
		return
	}
	// A resource being rechecked (Recheck) is back within a check's time,
	// sooner than a new one would be made.
	want := p.waiters.len() - p.creating - p.rechecking
	if p.permErr != nil {
		// After a permanent failure, only an Acquire that asks makes the
		// pool try again: nobody would see the errors of its own attempts.
		want = min(want, p.cfg.MaxSize-p.total)
		if want > 0 {
			p.startLocked(ctx, want)
		}
		return
	}
	want = max(want, p.cfg.MinSize-p.total, p.cfg.MinIdle-p.idle.len()-p.creating)
	if !p.failSince.IsZero() {
		// While constructions are failing, the next attempt is started (once
		// the backoff allows) whether or not anyone waits: the pool notices
		// by itself that the resource is back, and failFastLocked never
		// judges by a failure nobody retried (a blip whose only waiter gave
		// up would otherwise fail Acquires long after the resource is back).
		// A construction can always start: failSince is set only by a
		// failure, which leaves total below MaxSize.
		want = max(want, 1)
	}
	want = min(want, p.cfg.MaxSize-p.total)
	if want <= 0 {
		return
	}
	if !p.failSince.IsZero() {
		if p.creating > 0 {
			return
		}
		if wait := p.nextTry.Sub(nowFunc()); wait > 0 {
			if p.retry == nil {
				p.retry = time.AfterFunc(wait, p.retryConstruct)
			}
			return
		}
		want = 1
	}
	p.startLocked(ctx, want)
}

// startLocked starts n constructions.
func (p *Pool[T]) startLocked(ctx context.Context, n int) {
	cctx := context.WithoutCancel(ctx)
	requested := nowFunc()
	for range n {
		p.total++
		p.creating++
		p.dialing = append(p.dialing, requested)
		p.wg.Add(1)
		go p.construct(cctx, requested, p.gen)
	}
}

func (p *Pool[T]) retryConstruct() {
	p.mu.Lock()
	p.retry = nil
	p.fillLocked(context.Background())
	p.mu.Unlock()
}

// construct runs the Constructor for a slot already counted in total and
// creating, and hands the result to a waiter or the idle list.
func (p *Pool[T]) construct(ctx context.Context, requested time.Time, gen uint64) {
	defer p.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.closeCtx, cancel)
	defer stop()
	if p.cfg.ConstructTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, p.cfg.ConstructTimeout)
		defer cancel()
	}
	start := nowFunc()
	v, err := p.cfg.Constructor(ctx)
	now := nowFunc()

	p.mu.Lock()
	p.creating--
	p.doneDialingLocked(requested)
	if err != nil {
		p.total--
		p.stats.CreateErrorCount++
		p.lastErr = err
		if p.cfg.Permanent != nil && p.cfg.Permanent(err) {
			p.failPermanentlyLocked(err)
			p.mu.Unlock()
			return
		}
		p.permErr = nil
		if p.failSince.IsZero() {
			// The resource has been unreachable since this attempt was
			// asked for, which is when its waiter started waiting: a
			// goroutine starved of CPU must not make the outage look younger.
			p.failSince = requested
			p.backoff = p.cfg.Backoff
		} else if !requested.Before(p.failedAt) {
			// A retry, started after the last failure, failed too. The
			// attempts that were already in flight when the outage began
			// (one per waiter, say all eight connections of a restarted
			// server) are one try, not eight: doubling for each would
			// leave the pool waiting the longest backoff for a server
			// that is back within the first.
			p.backoff = min(2*p.backoff, p.cfg.MaxBackoff)
		}
		p.failedAt = now
		p.nextTry = now.Add(p.backoff)
		p.fillLocked(context.Background())
		p.mu.Unlock()
		return
	}
	p.failSince, p.lastErr, p.permErr, p.backoff, p.timedOut = time.Time{}, nil, nil, 0, false
	p.stats.CreatedCount++
	p.stats.CreateDuration += now.Sub(start)
	r := &Resource[T]{value: v, pool: p, createdAt: now, releasedAt: now, verifiedAt: now, gen: gen, allIdx: -1}
	if p.cfg.MaxLifetime > 0 {
		life := p.cfg.MaxLifetime
		if p.cfg.MaxLifetimeJitter > 0 {
			life += rand.N(p.cfg.MaxLifetimeJitter)
		}
		r.expiresAt = now.Add(life)
	}
	reason, unfit := p.unfitLocked(r)
	if p.closed {
		reason, unfit = ReasonClosed, true
	}
	if unfit {
		// Made for the pool as it was before a Reset or a smaller
		// SetMaxSize: not handed out. A waiter it was meant for gets the
		// next one.
		p.markDestroyedLocked(r, reason)
		p.fillLocked(context.Background())
		p.mu.Unlock()
		p.destructor(r)
		return
	}
	r.allIdx = len(p.all)
	p.all = append(p.all, r)
	p.putLocked(r)
	p.fillLocked(context.Background())
	p.mu.Unlock()
}

// failPermanentlyLocked hands err, a permanent Constructor error, to every
// waiting Acquire, and ends the retrying of an outage: the resource is not
// coming back by itself. Whoever asks next tries again.
func (p *Pool[T]) failPermanentlyLocked(err error) {
	p.permErr = err
	p.failSince, p.backoff, p.timedOut = time.Time{}, 0, false
	if p.retry != nil {
		p.retry.Stop()
		p.retry = nil
	}
	for w := p.waiters.popFront(); w != nil; w = p.waiters.popFront() {
		w.err = err
		w.ch <- nil
	}
}

// SuspectIdle marks every resource that is idle now, or in use now, to be
// checked before it is next handed out, whatever its idle time. Call it when
// one resource failed in a way that suggests the others did too (the server
// behind them restarted).
func (p *Pool[T]) SuspectIdle() {
	now := nowFunc()
	p.mu.Lock()
	p.suspectAt = now
	p.mu.Unlock()
}

// LastError returns the Constructor's last error if it has failed since its
// last success, or nil.
func (p *Pool[T]) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Close closes the pool: waiting and future Acquires fail with ErrClosed,
// idle resources are destroyed, constructions in flight are cancelled, and
// resources in use are destroyed when they are released. It waits for the
// pool's goroutines to end, not for resources in use. It is idempotent.
func (p *Pool[T]) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		for w := p.waiters.popFront(); w != nil; w = p.waiters.popFront() {
			close(w.ch)
		}
		var idle []*Resource[T]
		for r := p.idle.popFront(); r != nil; r = p.idle.popFront() {
			p.markDestroyedLocked(r, ReasonClosed)
			idle = append(idle, r)
		}
		if p.retry != nil {
			p.retry.Stop()
			p.retry = nil
		}
		p.mu.Unlock()

		p.cancelClose()
		close(p.healthStop)
		p.destroyAll(idle)
		p.wg.Wait()
	})
}

func (p *Pool[T]) healthLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.HealthCheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-p.healthStop:
			return
		case <-t.C:
			p.HealthCheck()
		}
	}
}

// HealthCheck runs one round of the background health check now: it destroys
// idle resources past their lifetime or MaxIdleTime (not below MinSize),
// checks those idle for at least HealthCheckPeriod (keepalive; with no period,
// for at least CheckIdleAfter), and starts constructions up to MinSize and
// MinIdle. It blocks while it checks.
func (p *Pool[T]) HealthCheck() {
	now := nowFunc()
	keepaliveAfter := p.cfg.HealthCheckPeriod
	if keepaliveAfter <= 0 {
		keepaliveAfter = max(p.cfg.CheckIdleAfter, 0)
	}
	var destroy, checks []*Resource[T]
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	// Walk from the least recently released end.
	for r := p.idle.back(); r != nil; {
		prev := p.idle.prev(r)
		switch {
		case r.expiredAt(now):
			p.idle.remove(r)
			p.markDestroyedLocked(r, ReasonLifetime)
			destroy = append(destroy, r)
		case p.cfg.MaxIdleTime > 0 && now.Sub(r.releasedAt) >= p.cfg.MaxIdleTime && p.total > p.cfg.MinSize:
			p.idle.remove(r)
			p.markDestroyedLocked(r, ReasonIdle)
			destroy = append(destroy, r)
		case p.cfg.Check != nil && (now.Sub(r.verifiedAt) >= keepaliveAfter || r.verifiedAt.Before(p.suspectAt)):
			p.idle.remove(r)
			r.state = stateChecking
			checks = append(checks, r)
		}
		r = prev
	}
	p.mu.Unlock()
	p.destroyAll(destroy)

	// checks runs least recently released first; each resource that passes is
	// pushed to the tail, so put them back most recently released first to
	// keep their order (FIFO hands out the tail first, LIFO last).
	slices.Reverse(checks)
	for _, r := range checks {
		// Back where it was in idle order: at the least recently used end.
		p.checkTaken(r, true, false)
	}

	p.mu.Lock()
	p.fillLocked(context.Background())
	p.mu.Unlock()
}

// checkTaken checks r, which the caller took out of the idle list
// (stateChecking; by Recheck if recheck), and gives it back: to the oldest
// waiter or the idle list (at the least recently used end if last) when it
// passed, to its Destructor when it failed or the pool closed meanwhile.
func (p *Pool[T]) checkTaken(r *Resource[T], last, recheck bool) {
	err := p.check(p.closeCtx, r)
	p.mu.Lock()
	if recheck {
		p.rechecking--
	}
	if err != nil {
		if p.closed {
			p.markDestroyedLocked(r, ReasonClosed)
		} else {
			p.markDestroyedLocked(r, checkReason(err))
		}
		p.fillLocked(context.Background())
		p.mu.Unlock()
		p.destructor(r)
		return
	}
	reason, unfit := p.unfitLocked(r)
	if p.closed {
		reason, unfit = ReasonClosed, true
	}
	if unfit {
		p.markDestroyedLocked(r, reason)
		p.fillLocked(context.Background())
		p.mu.Unlock()
		p.destructor(r)
		return
	}
	p.putLocked(r)
	if last && r.state == stateIdle && p.idle.len() > 1 {
		p.idle.remove(r)
		p.idle.pushBack(r)
	}
	p.mu.Unlock()
}

// Recheck checks r again soon if it is idle now: it takes r out of the idle
// list and, on a goroutine of the pool's, runs Config.Check on it and puts
// it back or destroys it, as the health check does. Call it when something
// may have made an idle resource unfit for its next holder. A resource that
// is not idle (in use, being checked, destroyed) is left alone: its holder
// sees to it. Recheck does not block; the pool's Close waits for the check
// in progress and destroys those not begun.
func (p *Pool[T]) Recheck(r *Resource[T]) {
	if p.cfg.Check == nil || r == nil || r.pool != p {
		return
	}
	p.mu.Lock()
	if p.closed || r.state != stateIdle {
		p.mu.Unlock()
		return
	}
	p.idle.remove(r)
	r.state = stateChecking
	p.rechecks = append(p.rechecks, r)
	p.rechecking++
	start := !p.recheck
	if start {
		p.recheck = true
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if start {
		go p.recheckLoop()
	}
}

// recheckLoop checks what Recheck queued, one resource at a time, until the
// queue is empty or the pool closes.
func (p *Pool[T]) recheckLoop() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(p.rechecks) == 0 || p.closed {
			left := p.rechecks
			p.rechecks, p.recheck = nil, false
			p.rechecking -= len(left)
			for _, r := range left {
				p.markDestroyedLocked(r, ReasonClosed)
			}
			p.mu.Unlock()
			p.destroyAll(left)
			return
		}
		r := p.rechecks[0]
		p.rechecks[0] = nil
		p.rechecks = p.rechecks[1:]
		p.mu.Unlock()
		p.checkTaken(r, false, true)
	}
}
