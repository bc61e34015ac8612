package pool

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errBadPassword = errors.New("fake: password authentication failed")

// permanentConfig is a pool whose Constructor errors are permanent when they
// are errBadPassword, with every background construction that could hide
// the difference turned on.
func permanentConfig() Config[*fakeRes] {
	return Config[*fakeRes]{
		MaxSize:        4,
		MinSize:        2,
		AcquireTimeout: time.Minute,
		Backoff:        time.Millisecond,
		MaxBackoff:     time.Millisecond,
		Permanent:      func(err error) bool { return errors.Is(err, errBadPassword) },
	}
}

func TestPoolPermanentConstructorErrorReachesEveryWaiterAtOnceAsItIs(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	gate := make(chan struct{})
	f.before = blockOn(gate)
	f.setErr(errBadPassword)
	p := newTestPool(t, f, permanentConfig())

	results := []<-chan acquireResult{acquireAsync(context.Background(), p), acquireAsync(context.Background(), p)}
	waitFor(t, func() bool { return p.Stat().Waiting == 2 })
	close(gate)
	for i, ch := range results {
		// Within the test's wait, far below the one-minute AcquireTimeout.
		res := receive(t, ch)
		if res.err != errBadPassword {
			t.Errorf("waiter %d: got error %v, want the Constructor's own error value %v", i, res.err, errBadPassword)
		}
	}
	st := p.Stat()
	if st.PermanentErrorCount != 2 || st.TimeoutCount != 0 {
		t.Errorf("Stat: got PermanentErrorCount %d and TimeoutCount %d, want 2 and 0", st.PermanentErrorCount, st.TimeoutCount)
	}
	if !errors.Is(p.LastError(), errBadPassword) {
		t.Errorf("LastError: got %v, want %v", p.LastError(), errBadPassword)
	}
}

func TestPoolAfterPermanentErrorOnlyAnAcquireMakesThePoolTryAgain(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errBadPassword)
	cfg := permanentConfig()
	cfg.HealthCheckPeriod = time.Millisecond
	p := newTestPool(t, f, cfg)

	if _, err := p.Acquire(context.Background()); err != errBadPassword {
		t.Fatalf("Acquire: got %v, want %v", err, errBadPassword)
	}
	// The health check runs every millisecond and MinSize is 2: a pool
	// that still tried on its own would call the Constructor again.
	waitFor(t, func() bool { return p.Stat().Constructing == 0 })
	calls, _, _ := f.counts()
	for range 20 {
		p.HealthCheck()
	}
	if again, _, _ := f.counts(); again != calls {
		t.Errorf("Constructor calls after a permanent error with nobody asking: got %d more, want 0", again-calls)
	}

	// The next Acquire tries again, and once the cause is fixed it works and
	// the pool goes back to keeping MinSize.
	if _, err := p.Acquire(context.Background()); err != errBadPassword {
		t.Fatalf("second Acquire: got %v, want %v", err, errBadPassword)
	}
	if again, _, _ := f.counts(); again <= calls {
		t.Errorf("the second Acquire called the Constructor %d more times, want at least 1", again-calls)
	}
	f.setErr(nil)
	r := mustAcquire(t, p)
	r.Release()
	waitFor(t, func() bool { return p.Stat().Total >= cfg.MinSize })
	if err := p.LastError(); err != nil {
		t.Errorf("LastError after a success: got %v, want nil", err)
	}
}

func TestPoolPermanentErrorEndsTheRetriesOfAnOutage(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errRefused)
	cfg := permanentConfig()
	cfg.MinSize = 1
	cfg.AcquireTimeout = 50 * time.Millisecond
	p := newTestPool(t, f, cfg)
	// The outage: the pool retries by itself with backoff.
	waitFor(t, func() bool { return p.Stat().CreateErrorCount >= 3 })

	// The server comes back with the wrong password: the retries stop.
	f.setErr(errBadPassword)
	waitFor(t, func() bool { return errors.Is(p.LastError(), errBadPassword) })
	waitFor(t, func() bool { return p.Stat().Constructing == 0 })
	calls, _, _ := f.counts()
	deadline := time.Now().Add(20 * time.Millisecond) // 20 backoffs of the outage
	for time.Now().Before(deadline) {
		p.HealthCheck()
	}
	if again, _, _ := f.counts(); again != calls {
		t.Errorf("Constructor calls after the permanent error: got %d more, want 0", again-calls)
	}
	// And an Acquire does not fail fast with ErrUnavailable: it tries.
	if _, err := p.Acquire(context.Background()); err != errBadPassword {
		t.Errorf("Acquire: got %v, want %v", err, errBadPassword)
	}
}

func TestPoolWaiterThatGaveUpWhileAPermanentErrorWasOnItsWayLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errBadPassword)
	gate := make(chan struct{})
	f.before = blockOn(gate)
	cfg := permanentConfig()
	cfg.MinSize = 0 // one construction per Acquire, released by one send on gate
	p := newTestPool(t, f, cfg)

	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		ch := acquireAsync(ctx, p)
		waitFor(t, func() bool { return p.Stat().Waiting == 1 })
		go cancel()
		gate <- struct{}{}
		res := receive(t, ch)
		if res.err != errBadPassword && !errors.Is(res.err, context.Canceled) {
			t.Fatalf("Acquire: got %v, want %v or context.Canceled", res.err, errBadPassword)
		}
		waitFor(t, func() bool { st := p.Stat(); return st.Waiting == 0 && st.Constructing == 0 })
	}
	close(gate)
	st := p.Stat()
	checkAccounts(t, st)
	if st.Total != 0 {
		t.Errorf("Total after every Acquire failed: got %d, want 0", st.Total)
	}
}

func TestPoolRetireDestroysAWorkingResourceAsRetired(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2})
	r := mustAcquire(t, p)
	r.Retire()
	st := p.Stat()
	if st.DestroyedCount(ReasonRetired) != 1 || st.DestroyedCount(ReasonBroken) != 0 || st.Total != 0 {
		t.Errorf("after Retire: got %d retired, %d broken, Total %d; want 1, 0, 0", st.DestroyedCount(ReasonRetired), st.DestroyedCount(ReasonBroken), st.Total)
	}
}

func TestPoolRecheckChecksAnIdleResourceInTheBackground(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	var c checker
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: c.check, CheckIdleAfter: -1})
	r := mustAcquire(t, p)
	r.Release()
	p.Recheck(r)
	waitFor(t, func() bool { return len(c.checkedIDs()) == 1 && p.Stat().Idle == 1 })
	if got := mustAcquire(t, p); got != r {
		t.Errorf("Acquire after a Recheck that passed: got resource %d, want %d back", got.Value().id, r.Value().id)
	} else {
		got.Release()
	}

	// A resource in use is left to its holder.
	r = mustAcquire(t, p)
	p.Recheck(r)
	r.Release()
	if got := c.checkedIDs(); len(got) != 1 {
		t.Errorf("checks after a Recheck of a resource in use: got %v, want only the first", got)
	}

	// One that fails is destroyed; one that must be retired is retired.
	c.failID(r.Value().id)
	p.Recheck(r)
	waitFor(t, func() bool { return p.Stat().DestroyedCount(ReasonCheck) == 1 })
	if st := p.Stat(); st.Total != 0 {
		t.Errorf("Total after the failed Recheck: got %d, want 0", st.Total)
	}
}

func TestPoolRecheckWithErrRetireRetiresTheResource(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	retire := func(ctx context.Context, r *fakeRes) error {
		return errors.Join(errors.New("fake: session dirty"), ErrRetire)
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: retire, CheckIdleAfter: -1})
	r := mustAcquire(t, p)
	r.Release()
	p.Recheck(r)
	waitFor(t, func() bool { return p.Stat().DestroyedCount(ReasonRetired) == 1 })
	if st := p.Stat(); st.DestroyedCount(ReasonCheck) != 0 || st.Total != 0 {
		t.Errorf("after a retiring Recheck: got %d check failures and Total %d, want 0 and 0", st.DestroyedCount(ReasonCheck), st.Total)
	}
}

func TestPoolCloseDestroysResourcesWaitingForARecheck(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	gate := make(chan struct{})
	slow := func(ctx context.Context, r *fakeRes) error {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return nil
	}
	cfg := Config[*fakeRes]{MaxSize: 3, Check: slow, CheckIdleAfter: -1, Constructor: f.construct, Destructor: f.destroy}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs := []*Resource[*fakeRes]{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
	for _, r := range rs {
		r.Release()
	}
	for _, r := range rs {
		p.Recheck(r)
	}
	waitFor(t, func() bool { return p.Stat().Idle == 0 })
	p.Close() // cancels the check in progress; the others never begin
	close(gate)
	if _, created, destroyed := f.counts(); destroyed != created || created != 3 {
		t.Errorf("after Close: %d made, %d destroyed; want 3 and 3", created, destroyed)
	}
	if st := p.Stat(); st.Total != 0 {
		t.Errorf("Total after Close: got %d, want 0", st.Total)
	}
}
