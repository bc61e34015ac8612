package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRes is the pooled value in these tests: an id and flags that catch a
// resource destroyed twice, handed out after it was destroyed, or handed to
// two holders at once.
type fakeRes struct {
	id     int
	closed atomic.Bool
	held   atomic.Bool // set by tests that track holders (the stress test)
}

// factory makes and destroys fakeRes values and counts what it did.
type factory struct {
	t testing.TB

	// before, if set (before New), runs first in every Constructor call; a
	// non-nil error fails the construction. Use it to block or fail.
	before func(ctx context.Context) error

	mu          sync.Mutex
	err         error // returned by the Constructor while non-nil
	calls       int   // Constructor calls
	inFlight    int   // Constructor calls running now
	maxInFlight int   // high-water mark of inFlight
	created     int   // resources made
	destroyed   int   // Destructor calls
	ctxs        []context.Context
}

func newFactory(t testing.TB) *factory { return &factory{t: t} }

func (f *factory) construct(ctx context.Context) (*fakeRes, error) {
	f.mu.Lock()
	f.calls++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()

	if f.before != nil {
		if err := f.before(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.created++
	return &fakeRes{id: f.created}, nil
}

func (f *factory) destroy(r *fakeRes) {
	if !r.closed.CompareAndSwap(false, true) {
		f.t.Errorf("resource %d destroyed twice", r.id)
	}
	f.mu.Lock()
	f.destroyed++
	f.mu.Unlock()
}

func (f *factory) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// counts returns Constructor calls, resources made and resources destroyed.
func (f *factory) counts() (calls, created, destroyed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.created, f.destroyed
}

func (f *factory) resetMaxInFlight() {
	f.mu.Lock()
	f.maxInFlight = f.inFlight
	f.mu.Unlock()
}

func (f *factory) getMaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInFlight
}

// blockOn returns a factory.before that waits for a value on gate (or its
// close), or for the construction's context to end.
func blockOn(gate <-chan struct{}) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checker is a Config.Check that records what it checked and fails for the
// ids in fail.
type checker struct {
	mu      sync.Mutex
	checked []int
	fail    map[int]bool
}

func (c *checker) check(ctx context.Context, r *fakeRes) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = append(c.checked, r.id)
	if c.fail[r.id] {
		return fmt.Errorf("fake: resource %d is broken", r.id)
	}
	return nil
}

func (c *checker) failID(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		c.fail = make(map[int]bool)
	}
	c.fail[id] = true
}

func (c *checker) checkedIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.checked)
}

// newTestPool makes a pool of f's resources, closes it when the test ends and
// then verifies that every resource made was destroyed exactly once: tests
// must give back whatever they acquire.
func newTestPool(t *testing.T, f *factory, cfg Config[*fakeRes]) *Pool[*fakeRes] {
	t.Helper()
	cfg.Constructor = f.construct
	cfg.Destructor = f.destroy
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	t.Cleanup(func() {
		p.Close()
		if _, created, destroyed := f.counts(); destroyed != created {
			t.Errorf("after Close: got %d resources destroyed, want %d (every one made)", destroyed, created)
		}
	})
	return p
}

// waitFor polls cond every millisecond and fails the test if it is not true
// within 10 seconds.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func mustAcquire(t testing.TB, p *Pool[*fakeRes]) *Resource[*fakeRes] {
	t.Helper()
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: got error %v, want nil", err)
	}
	return r
}

// acquireAsync starts an Acquire in a goroutine; the result arrives on the
// returned channel.
type acquireResult struct {
	r   *Resource[*fakeRes]
	err error
}

func acquireAsync(ctx context.Context, p *Pool[*fakeRes]) <-chan acquireResult {
	ch := make(chan acquireResult, 1)
	go func() {
		r, err := p.Acquire(ctx)
		ch <- acquireResult{r, err}
	}()
	return ch
}

func receive(t testing.TB, ch <-chan acquireResult) acquireResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		t.Fatalf("Acquire did not return within 10s")
		return acquireResult{}
	}
}

// checkAccounts verifies the gauges of a Stat add up.
func checkAccounts(t testing.TB, st Stat) {
	t.Helper()
	if st.Total != st.Idle+st.InUse+st.Constructing {
		t.Errorf("Stat: got Total %d, want Idle %d + InUse %d + Constructing %d", st.Total, st.Idle, st.InUse, st.Constructing)
	}
	if st.Idle < 0 || st.InUse < 0 || st.Constructing < 0 || st.Waiting < 0 {
		t.Errorf("Stat: got a negative gauge: %+v", st)
	}
	if st.Total > st.MaxSize {
		t.Errorf("Stat: got Total %d, want at most MaxSize %d", st.Total, st.MaxSize)
	}
}

// fakeClock replaces nowFunc. Tests that use it must not call t.Parallel.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func useFakeClock(t *testing.T) *fakeClock {
	t.Helper()
	c := &fakeClock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	old := nowFunc
	nowFunc = c.Now
	t.Cleanup(func() { nowFunc = old })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// poolGoroutines counts goroutines running code of a Pool (construction,
// health check, Acquire waits).
func poolGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "pool.(*Pool[") {
			count++
		}
	}
	return count
}

// goroutineWaiting reports whether some goroutine's stack has the wait
// reason in its header and contains frame.
func goroutineWaiting(reason, frame string) bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "["+reason) && strings.Contains(g, frame) {
			return true
		}
	}
	return false
}

func TestNewRejectsInvalidConfigNamingTheField(t *testing.T) {
	t.Parallel()
	ctor := func(context.Context) (int, error) { return 0, nil }
	tests := []struct {
		name string
		cfg  Config[int]
		want string
	}{
		{"no constructor", Config[int]{MaxSize: 1}, "Constructor is required"},
		{"zero MaxSize", Config[int]{Constructor: ctor}, "MaxSize must be >= 1, got 0"},
		{"MinSize above MaxSize", Config[int]{Constructor: ctor, MaxSize: 2, MinSize: 3}, "MinSize must be between 0 and MaxSize (2), got 3"},
		{"negative MinIdle", Config[int]{Constructor: ctor, MaxSize: 2, MinIdle: -1}, "MinIdle must be between 0 and MaxSize (2), got -1"},
		{"negative jitter", Config[int]{Constructor: ctor, MaxSize: 1, MaxLifetimeJitter: -time.Second}, "MaxLifetimeJitter must be >= 0, got -1s"},
		{"negative backoff", Config[int]{Constructor: ctor, MaxSize: 1, Backoff: -1}, "Backoff and MaxBackoff must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("New: got nil error, want one containing %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "pool: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: got error %q, want it to start with %q and contain %q", err, "pool: ", tt.want)
			}
		})
	}
}

func TestDestroyReasonStringNamesEveryReason(t *testing.T) {
	t.Parallel()
	var got []string
	for _, r := range DestroyReasons() {
		got = append(got, r.String())
	}
	want := []string{"broken", "lifetime", "idle", "check_failed", "closed", "reclaimed", "retired", "reset", "resized"}
	if !slices.Equal(got, want) {
		t.Errorf("DestroyReasons: got %v, want %v", got, want)
	}
	if got, want := DestroyReason(200).String(), "DestroyReason(200)"; got != want {
		t.Errorf("String of an unknown reason: got %q, want %q", got, want)
	}
	if got := (Stat{}).DestroyedCount(DestroyReason(200)); got != 0 {
		t.Errorf("DestroyedCount of an unknown reason: got %d, want 0", got)
	}
}

func TestPoolAcquireReusesReleasedResourceWithoutConstructingAnother(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})

	r1 := mustAcquire(t, p)
	r1.Release()
	r2 := mustAcquire(t, p)
	defer r2.Release()

	if r1 != r2 {
		t.Errorf("second Acquire: got resource %d, want the released resource %d", r2.Value().id, r1.Value().id)
	}
	if calls, _, _ := f.counts(); calls != 1 {
		t.Errorf("Constructor calls: got %d, want 1", calls)
	}
	st := p.Stat()
	if st.AcquireCount != 2 || st.CreatedCount != 1 || st.Total != 1 || st.InUse != 1 {
		t.Errorf("Stat: got AcquireCount %d, CreatedCount %d, Total %d, InUse %d, want 2, 1, 1, 1",
			st.AcquireCount, st.CreatedCount, st.Total, st.InUse)
	}
	if p.Name() != "pool" {
		t.Errorf("Name: got %q, want %q", p.Name(), "pool")
	}
}

// acquireN acquires n resources, all new, and returns them in order.
func acquireN(t *testing.T, p *Pool[*fakeRes], n int) []*Resource[*fakeRes] {
	t.Helper()
	rs := make([]*Resource[*fakeRes], n)
	for i := range rs {
		rs[i] = mustAcquire(t, p)
	}
	return rs
}

func releaseAll(rs []*Resource[*fakeRes]) {
	for _, r := range rs {
		r.Release()
	}
}

func ids(rs []*Resource[*fakeRes]) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Value().id)
	}
	return out
}

func TestPoolAcquireHandsOutMostRecentlyReleasedResourceFirstByDefault(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 3})

	releaseAll(acquireN(t, p, 3)) // released in order 1, 2, 3
	got := acquireN(t, p, 3)
	defer releaseAll(got)
	if want := []int{3, 2, 1}; !slices.Equal(ids(got), want) {
		t.Errorf("LIFO hand-out order: got ids %v, want %v", ids(got), want)
	}
}

func TestPoolAcquireHandsOutFirstReleasedResourceFirstWithFIFO(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 3, FIFO: true})

	releaseAll(acquireN(t, p, 3)) // released in order 1, 2, 3
	got := acquireN(t, p, 3)
	defer releaseAll(got)
	if want := []int{1, 2, 3}; !slices.Equal(ids(got), want) {
		t.Errorf("FIFO hand-out order: got ids %v, want %v", ids(got), want)
	}
}

func TestPoolAcquirePreferredReturnsThePreferredResourceWhenIdle(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 3})
	ctx := context.Background()

	rs := acquireN(t, p, 3)
	releaseAll(rs) // rs[2] is the most recently released
	r, err := p.AcquirePreferred(ctx, rs[0])
	if err != nil {
		t.Fatalf("AcquirePreferred: got error %v, want nil", err)
	}
	if r != rs[0] {
		t.Errorf("AcquirePreferred of idle resource %d: got resource %d", rs[0].Value().id, r.Value().id)
	}

	// While the preferred resource is in use, another one is handed out.
	other, err := p.AcquirePreferred(ctx, rs[0])
	if err != nil {
		t.Fatalf("AcquirePreferred: got error %v, want nil", err)
	}
	if other == rs[0] {
		t.Errorf("AcquirePreferred of a resource in use: got that resource again")
	}
	other.Release()
	r.Destroy()

	// A destroyed preference is ignored.
	r2, err := p.AcquirePreferred(ctx, rs[0])
	if err != nil {
		t.Fatalf("AcquirePreferred of a destroyed resource: got error %v, want nil", err)
	}
	if r2 == rs[0] {
		t.Errorf("AcquirePreferred of a destroyed resource: got it back")
	}
	r2.Release()
}

func TestPoolNeverExceedsMaxSizeUnderConcurrentAcquires(t *testing.T) {
	t.Parallel()
	const maxSize, goroutines, iterations = 4, 32, 100
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: maxSize})

	var inUse, maxInUse, maxTotal atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range iterations {
				r, err := p.Acquire(context.Background())
				if err != nil {
					t.Errorf("Acquire: got error %v, want nil", err)
					return
				}
				storeMax(&maxInUse, inUse.Add(1))
				storeMax(&maxTotal, int64(p.Stat().Total))
				runtime.Gosched()
				inUse.Add(-1)
				r.Release()
			}
		})
	}
	wg.Wait()

	if got := maxInUse.Load(); got > maxSize {
		t.Errorf("resources held at once: got %d, want at most %d", got, maxSize)
	}
	if got := maxTotal.Load(); got > maxSize {
		t.Errorf("Stat().Total: got up to %d, want at most %d", got, maxSize)
	}
	if _, created, _ := f.counts(); created > maxSize {
		t.Errorf("resources made: got %d, want at most %d", created, maxSize)
	}
	st := p.Stat()
	checkAccounts(t, st)
	if st.AcquireCount != goroutines*iterations {
		t.Errorf("Stat().AcquireCount: got %d, want %d", st.AcquireCount, goroutines*iterations)
	}
}

// storeMax raises m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
	}
}

func TestPoolServesWaitersInArrivalOrder(t *testing.T) {
	t.Parallel()
	const waiters = 5
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	held := mustAcquire(t, p)

	served := make(chan int, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Go(func() {
			r, err := p.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter %d: got error %v, want nil", i, err)
				return
			}
			served <- i
			r.Release()
		})
		// Queue the next waiter only once this one is queued.
		waitFor(t, func() bool { return p.Stat().Waiting == i+1 })
	}
	held.Release()
	wg.Wait()
	close(served)

	var got []int
	for i := range served {
		got = append(got, i)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("waiters served in order %v, want %v", got, want)
	}
	// The first Acquire, of an empty pool, waited for its construction too.
	if st := p.Stat(); st.WaitCount != waiters+1 {
		t.Errorf("Stat().WaitCount: got %d, want %d", st.WaitCount, waiters+1)
	}
}

func TestPoolAcquireReturnsContextErrorWhenWaiterIsCanceled(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	held := mustAcquire(t, p)
	defer held.Release()

	ctx, cancel := context.WithCancel(context.Background())
	ch := acquireAsync(ctx, p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	cancel()
	if res := receive(t, ch); !errors.Is(res.err, context.Canceled) {
		t.Errorf("Acquire canceled while waiting: got (%v, %v), want context.Canceled", res.r, res.err)
	}

	// A cancellation cause is what the caller gets back.
	cause := errors.New("caller went away")
	cctx, ccancel := context.WithCancelCause(context.Background())
	ch = acquireAsync(cctx, p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	ccancel(cause)
	if res := receive(t, ch); !errors.Is(res.err, cause) {
		t.Errorf("Acquire canceled with a cause: got error %v, want it to wrap %v", res.err, cause)
	}

	// An Acquire whose context already ended does not queue.
	if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with an ended context: got error %v, want context.Canceled", err)
	}

	st := p.Stat()
	checkAccounts(t, st)
	if st.Waiting != 0 || st.CanceledCount != 2 || st.Total != 1 || st.InUse != 1 {
		t.Errorf("Stat: got Waiting %d, CanceledCount %d, Total %d, InUse %d, want 0, 2, 1, 1",
			st.Waiting, st.CanceledCount, st.Total, st.InUse)
	}
}

// A waiter that gives up just as a resource is handed to it must pass the
// resource on, not drop it. The test holds the pool's lock so that the
// waiter has seen its cancellation but not yet removed itself when the
// resource is handed over.
func TestPoolWaiterThatGivesUpDuringHandOffPassesResourceToNextWaiter(t *testing.T) {
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	held := mustAcquire(t, p)

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	chA := acquireAsync(ctxA, p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	chB := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Waiting == 2 })

	func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		cancelA()
		waitFor(t, func() bool { return goroutineWaiting("sync.Mutex.Lock", ").wait(") })
		// What held.Release() does, with the lock already held: the oldest
		// waiter, A, is handed the resource.
		held.releasedAt = nowFunc()
		held.verifiedAt = held.releasedAt
		p.putLocked(held)
	}()

	if res := receive(t, chA); !errors.Is(res.err, context.Canceled) {
		t.Errorf("waiter A: got (%v, %v), want context.Canceled", res.r, res.err)
	}
	resB := receive(t, chB)
	if resB.err != nil {
		t.Fatalf("waiter B: got error %v, want the resource A gave up", resB.err)
	}
	if resB.r != held {
		t.Errorf("waiter B: got resource %d, want %d", resB.r.Value().id, held.Value().id)
	}
	st := p.Stat()
	checkAccounts(t, st)
	if st.Total != 1 || st.InUse != 1 || st.Waiting != 0 || st.CanceledCount != 1 {
		t.Errorf("Stat: got Total %d, InUse %d, Waiting %d, CanceledCount %d, want 1, 1, 0, 1",
			st.Total, st.InUse, st.Waiting, st.CanceledCount)
	}
	resB.r.Release()
	if st := p.Stat(); st.Idle != 1 {
		t.Errorf("after release: got Idle %d, want 1", st.Idle)
	}
	if calls, _, _ := f.counts(); calls != 1 {
		t.Errorf("Constructor calls: got %d, want 1", calls)
	}
}

// Without holding the lock: cancellation racing with Release, many times.
// Whichever side wins, the resource is never lost.
func TestPoolWaiterCancellationRacingReleaseNeverLosesResource(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})

	for i := range 200 {
		held := mustAcquire(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		ch := acquireAsync(ctx, p)
		waitFor(t, func() bool { return p.Stat().Waiting == 1 })
		go cancel()
		held.Release()
		if res := receive(t, ch); res.err == nil {
			res.r.Release()
		} else if !errors.Is(res.err, context.Canceled) {
			t.Fatalf("iteration %d: got error %v, want nil or context.Canceled", i, res.err)
		}
		st := p.Stat()
		if st.Idle != 1 || st.Total != 1 || st.Waiting != 0 {
			t.Fatalf("iteration %d: got Idle %d, Total %d, Waiting %d, want 1, 1, 0", i, st.Idle, st.Total, st.Waiting)
		}
	}
	if calls, _, _ := f.counts(); calls != 1 {
		t.Errorf("Constructor calls: got %d, want 1", calls)
	}
}

func TestPoolAcquireTimeoutErrorSaysHowThePoolLooked(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{Name: "things", MaxSize: 1, AcquireTimeout: 50 * time.Millisecond})
	held := mustAcquire(t, p)
	defer held.Release()

	start := time.Now()
	r, err := p.Acquire(context.Background())
	if !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("Acquire: got (%v, %v), want an error wrapping ErrAcquireTimeout", r, err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("Acquire waited %v, want at least AcquireTimeout 50ms", waited)
	}
	for _, want := range []string{"pool: acquire timeout", "things", "1/1 in use", "0 waiting", "waited"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to contain %q", err, want)
		}
	}
	st := p.Stat()
	// WaitCount: the first Acquire waited for its construction.
	if st.TimeoutCount != 1 || st.WaitCount != 2 || st.CanceledCount != 0 {
		t.Errorf("Stat: got TimeoutCount %d, WaitCount %d, CanceledCount %d, want 1, 2, 0", st.TimeoutCount, st.WaitCount, st.CanceledCount)
	}

	// A context deadline shorter than AcquireTimeout is the context's error.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAcquireTimeout) {
		t.Errorf("Acquire with a short deadline: got error %v, want context.DeadlineExceeded", err)
	}
}

type ctxKey struct{}

func TestPoolAcquireCallsConstructorWithAcquireContextValuesButNotCancellation(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	gate := make(chan struct{})
	ctxs := make(chan context.Context, 1)
	f.before = func(ctx context.Context) error {
		ctxs <- ctx
		<-gate // deliberately ignores ctx: it must not end when the caller gives up
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})

	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "caller"), time.Hour)
	ch := acquireAsync(ctx, p)
	ctorCtx := <-ctxs
	if got := ctorCtx.Value(ctxKey{}); got != "caller" {
		t.Errorf("Constructor context value: got %v, want %q", got, "caller")
	}
	if d, ok := ctorCtx.Deadline(); ok {
		t.Errorf("Constructor context: got deadline %v, want none", d)
	}
	cancel()
	if res := receive(t, ch); !errors.Is(res.err, context.Canceled) {
		t.Errorf("Acquire: got error %v, want context.Canceled", res.err)
	}
	if err := ctorCtx.Err(); err != nil {
		t.Errorf("Constructor context after the caller gave up: got Err %v, want nil", err)
	}
	close(gate)
	waitFor(t, func() bool { return p.Stat().Idle == 1 })
}

func TestPoolConstructTimeoutBoundsEachConstruction(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	var first atomic.Bool
	f.before = func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		if first.CompareAndSwap(false, true) {
			<-ctx.Done() // the first construction hangs until ConstructTimeout
			return ctx.Err()
		}
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, ConstructTimeout: 10 * time.Millisecond, Backoff: time.Millisecond})

	r := mustAcquire(t, p) // the retry after the hung construction serves it
	r.Release()
	st := p.Stat()
	if st.CreateErrorCount != 1 || st.CreatedCount != 1 {
		t.Errorf("Stat: got CreateErrorCount %d, CreatedCount %d, want 1, 1", st.CreateErrorCount, st.CreatedCount)
	}
}

func TestPoolConstructionForWaiterThatGaveUpEndsIdle(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	gate := make(chan struct{})
	f.before = blockOn(gate)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2})

	ctx, cancel := context.WithCancel(context.Background())
	ch := acquireAsync(ctx, p)
	waitFor(t, func() bool { return p.Stat().Constructing == 1 })
	cancel()
	if res := receive(t, ch); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("Acquire: got error %v, want context.Canceled", res.err)
	}
	gate <- struct{}{}
	waitFor(t, func() bool { return p.Stat().Idle == 1 })

	r := mustAcquire(t, p)
	r.Release()
	if calls, _, _ := f.counts(); calls != 1 {
		t.Errorf("Constructor calls: got %d, want 1 (the construction for the canceled waiter is used)", calls)
	}
}

func TestPoolConstructionForWaiterThatGaveUpGoesToNextWaiter(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	gate := make(chan struct{})
	f.before = blockOn(gate)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2})

	ctx, cancel := context.WithCancel(context.Background())
	chA := acquireAsync(ctx, p)
	waitFor(t, func() bool { return p.Stat().Constructing == 1 })
	cancel()
	if res := receive(t, chA); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("waiter A: got error %v, want context.Canceled", res.err)
	}
	chB := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	if st := p.Stat(); st.Constructing != 1 {
		t.Errorf("with the construction for A in flight, B queued: got Constructing %d, want 1", st.Constructing)
	}
	gate <- struct{}{}
	resB := receive(t, chB)
	if resB.err != nil {
		t.Fatalf("waiter B: got error %v, want nil", resB.err)
	}
	resB.r.Release()
	if calls, _, _ := f.counts(); calls != 1 {
		t.Errorf("Constructor calls: got %d, want 1", calls)
	}
}

func TestPoolAcquireChecksResourceIdleForCheckIdleAfter(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: c.check, CheckIdleAfter: time.Minute})

	r := mustAcquire(t, p) // new: not checked
	r.Release()
	clk.Advance(59 * time.Second)
	r = mustAcquire(t, p)
	r.Release()
	if got := c.checkedIDs(); len(got) != 0 {
		t.Errorf("after 59s idle: got checks of %v, want none", got)
	}

	clk.Advance(time.Minute)
	r = mustAcquire(t, p)
	r.Release()
	if got, want := c.checkedIDs(), []int{1}; !slices.Equal(got, want) {
		t.Errorf("after 1m idle: got checks of %v, want %v", got, want)
	}
}

func TestPoolAcquireDestroysResourceThatFailsCheckAndReturnsAnother(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: c.check, CheckIdleAfter: time.Minute})

	broken := mustAcquire(t, p)
	broken.Release()
	c.failID(broken.Value().id)
	clk.Advance(time.Minute)

	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: got error %v, want nil (the failed check is hidden)", err)
	}
	defer r.Release()
	if r == broken {
		t.Fatalf("Acquire: got the resource that failed its check")
	}
	if !broken.Value().closed.Load() {
		t.Errorf("resource that failed its check: not destroyed")
	}
	st := p.Stat()
	if got := st.DestroyedCount(ReasonCheck); got != 1 {
		t.Errorf("Stat().Destroyed[ReasonCheck]: got %d, want 1", got)
	}
	if st.Total != 1 || st.InUse != 1 {
		t.Errorf("Stat: got Total %d, InUse %d, want 1, 1", st.Total, st.InUse)
	}
}

// A hand-out that had to replace a resource that failed its check is still
// one successful Acquire.
func TestPoolAcquireCountCountsAcquireThatReplacedFailedResourceOnce(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: c.check, CheckIdleAfter: time.Minute})

	r := mustAcquire(t, p)
	r.Release()
	c.failID(r.Value().id)
	clk.Advance(time.Minute)
	r = mustAcquire(t, p)
	r.Release()

	if got := p.Stat().AcquireCount; got != 2 {
		t.Errorf("Stat().AcquireCount after 2 Acquires: got %d, want 2", got)
	}
}

func TestPoolAcquireNeverChecksWhenCheckIdleAfterIsNegative(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, Check: c.check, CheckIdleAfter: -1})

	for range 3 {
		r := mustAcquire(t, p)
		r.Release()
		clk.Advance(24 * time.Hour)
	}
	if got := c.checkedIDs(); len(got) != 0 {
		t.Errorf("with CheckIdleAfter < 0: got checks of %v, want none", got)
	}
}

func TestPoolAcquireChecksEveryHandOutWhenCheckIdleAfterIsZero(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, Check: c.check})

	for range 3 {
		r := mustAcquire(t, p)
		r.Release()
		clk.Advance(time.Nanosecond)
	}
	if got, want := c.checkedIDs(), []int{1, 1}; !slices.Equal(got, want) {
		t.Errorf("with CheckIdleAfter 0: got checks of %v, want %v (every hand-out from idle)", got, want)
	}
}

func TestPoolSuspectIdleForcesCheckOfIdleResourcesRegardlessOfIdleTime(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: c.check, CheckIdleAfter: time.Hour})

	releaseAll(acquireN(t, p, 2))
	clk.Advance(time.Second)
	p.SuspectIdle()
	clk.Advance(time.Second)
	c.failID(2)

	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: got error %v, want nil", err)
	}
	// Resource 2 (most recently released) failed its check; resource 1 passed.
	if got, want := c.checkedIDs(), []int{2, 1}; !slices.Equal(got, want) {
		t.Errorf("after SuspectIdle: got checks of %v, want %v", got, want)
	}
	if got := r.Value().id; got != 1 {
		t.Errorf("Acquire: got resource %d, want 1", got)
	}
	r.Release()

	// Checked once, it is trusted again for CheckIdleAfter.
	r = mustAcquire(t, p)
	r.Release()
	if got := len(c.checkedIDs()); got != 2 {
		t.Errorf("Acquire after the suspect resources were checked: got %d checks in all, want 2", got)
	}
	if got := p.Stat().DestroyedCount(ReasonCheck); got != 1 {
		t.Errorf("Stat().Destroyed[ReasonCheck]: got %d, want 1", got)
	}
}

// SuspectIdle's doc: it marks resources "idle now, or in use now". One in
// use at the time must be checked after it is released.
func TestPoolSuspectIdleAlsoChecksResourcesInUseAtTheTime(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, Check: c.check, CheckIdleAfter: time.Hour})

	r := mustAcquire(t, p)
	clk.Advance(time.Second)
	p.SuspectIdle()
	clk.Advance(time.Second)
	r.Release()
	clk.Advance(time.Second)

	r = mustAcquire(t, p)
	r.Release()
	if got, want := c.checkedIDs(), []int{1}; !slices.Equal(got, want) {
		t.Errorf("resource in use during SuspectIdle, then released: got checks of %v, want %v", got, want)
	}
}

func TestPoolReleaseDestroysResourcePastMaxLifetime(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, MaxLifetime: time.Hour})

	r := mustAcquire(t, p)
	clk.Advance(time.Hour - time.Nanosecond)
	r.Release()
	if st := p.Stat(); st.Idle != 1 {
		t.Fatalf("released just before MaxLifetime: got Idle %d, want 1", st.Idle)
	}
	r = mustAcquire(t, p)
	clk.Advance(time.Nanosecond)
	r.Release()
	st := p.Stat()
	if st.Total != 0 || st.DestroyedCount(ReasonLifetime) != 1 {
		t.Errorf("released at MaxLifetime: got Total %d, Destroyed[ReasonLifetime] %d, want 0, 1", st.Total, st.DestroyedCount(ReasonLifetime))
	}
	if !r.Value().closed.Load() {
		t.Errorf("expired resource: not destroyed")
	}
}

func TestPoolAcquireDestroysIdleResourcesPastMaxLifetimeInsteadOfHandingThemOut(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 3, MaxLifetime: time.Hour})

	old := acquireN(t, p, 3)
	releaseAll(old)
	clk.Advance(time.Hour)

	r := mustAcquire(t, p)
	defer r.Release()
	if got := r.Value().id; got != 4 {
		t.Errorf("Acquire with every idle resource expired: got resource %d, want a new one (4)", got)
	}
	st := p.Stat()
	if st.DestroyedCount(ReasonLifetime) != 3 || st.Total != 1 {
		t.Errorf("Stat: got Destroyed[ReasonLifetime] %d, Total %d, want 3, 1", st.DestroyedCount(ReasonLifetime), st.Total)
	}
	for _, o := range old {
		if !o.Value().closed.Load() {
			t.Errorf("expired resource %d: not destroyed", o.Value().id)
		}
	}
}

func TestPoolMaxLifetimeJitterGivesResourcesDifferentLifetimes(t *testing.T) {
	clk := useFakeClock(t)
	const n, life, jitter = 100, time.Hour, 10 * time.Minute
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: n, MaxLifetime: life, MaxLifetimeJitter: jitter})

	rs := acquireN(t, p, n) // all made at the same (fake) instant
	lifetimes := make(map[time.Duration]bool)
	for _, r := range rs {
		l := r.expiresAt.Sub(r.CreatedAt())
		if l < life || l >= life+jitter {
			t.Errorf("resource %d: got lifetime %v, want within [%v, %v)", r.Value().id, l, life, life+jitter)
		}
		lifetimes[l] = true
	}
	if len(lifetimes) < n/2 {
		t.Errorf("got %d distinct lifetimes among %d resources, want them spread", len(lifetimes), n)
	}

	clk.Advance(life - time.Nanosecond)
	releaseAll(rs)
	if st := p.Stat(); st.Idle != n {
		t.Errorf("released before MaxLifetime: got Idle %d, want %d", st.Idle, n)
	}
	clk.Advance(jitter)
	p.HealthCheck()
	if st := p.Stat(); st.Total != 0 || st.DestroyedCount(ReasonLifetime) != n {
		t.Errorf("health check after MaxLifetime+MaxLifetimeJitter: got Total %d, Destroyed[ReasonLifetime] %d, want 0, %d",
			st.Total, st.DestroyedCount(ReasonLifetime), n)
	}
}

func TestPoolHealthCheckDestroysResourcesIdlePastMaxIdleTimeButNotBelowMinSize(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, MinSize: 1, MaxIdleTime: time.Minute})
	waitFor(t, func() bool { return p.Stat().Idle == 1 }) // MinSize, made by New

	rs := acquireN(t, p, 4)
	releaseAll(rs[:3])
	clk.Advance(30 * time.Second)
	rs[3].Release()
	clk.Advance(30 * time.Second) // rs[0..2] idle 1m, rs[3] idle 30s

	p.HealthCheck()
	st := p.Stat()
	if st.Total != 1 || st.DestroyedCount(ReasonIdle) != 3 {
		t.Errorf("health check: got Total %d, Destroyed[ReasonIdle] %d, want 1, 3", st.Total, st.DestroyedCount(ReasonIdle))
	}
	if rs[3].Value().closed.Load() {
		t.Errorf("resource idle for less than MaxIdleTime: destroyed")
	}

	clk.Advance(time.Hour)
	p.HealthCheck()
	st = p.Stat()
	if st.Total != 1 || st.DestroyedCount(ReasonIdle) != 3 {
		t.Errorf("health check at MinSize: got Total %d, Destroyed[ReasonIdle] %d, want 1, 3 (MinSize kept)", st.Total, st.DestroyedCount(ReasonIdle))
	}
}

func TestPoolKeepsMinSizeResourcesRefillingAfterDestroy(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, MinSize: 2})
	waitFor(t, func() bool { st := p.Stat(); return st.Idle == 2 && st.Total == 2 })

	r := mustAcquire(t, p)
	r.Destroy()
	waitFor(t, func() bool { st := p.Stat(); return st.Idle == 2 && st.Total == 2 })
	st := p.Stat()
	if st.CreatedCount != 3 || st.DestroyedCount(ReasonBroken) != 1 {
		t.Errorf("Stat: got CreatedCount %d, Destroyed[ReasonBroken] %d, want 3, 1", st.CreatedCount, st.DestroyedCount(ReasonBroken))
	}
}

func TestPoolHealthCheckRefillsMinIdleWithinMaxSize(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, MinIdle: 2})
	waitFor(t, func() bool { return p.Stat().Idle == 2 })

	held := mustAcquire(t, p)
	p.HealthCheck()
	waitFor(t, func() bool { st := p.Stat(); return st.Idle == 2 && st.Total == 3 })

	more := acquireN(t, p, 2) // Total 3, none idle
	p.HealthCheck()
	waitFor(t, func() bool { st := p.Stat(); return st.Idle == 1 && st.Total == 4 })
	if st := p.Stat(); st.Total > st.MaxSize {
		t.Errorf("MinIdle refill: got Total %d, want at most MaxSize %d", st.Total, st.MaxSize)
	}
	held.Release()
	releaseAll(more)
}

func TestPoolHealthCheckDestroysIdleResourcesThatFailKeepaliveCheck(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	c := &checker{}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, Check: c.check, CheckIdleAfter: time.Minute})

	rs := acquireN(t, p, 3)
	releaseAll(rs[:2])
	clk.Advance(time.Minute)
	rs[2].Release() // idle for less than the keepalive interval
	c.failID(2)

	p.HealthCheck()
	if got, want := slices.Sorted(slices.Values(c.checkedIDs())), []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("keepalive: got checks of %v, want %v (the resources idle for CheckIdleAfter)", got, want)
	}
	st := p.Stat()
	if st.Idle != 2 || st.Total != 2 || st.DestroyedCount(ReasonCheck) != 1 {
		t.Errorf("Stat: got Idle %d, Total %d, Destroyed[ReasonCheck] %d, want 2, 2, 1", st.Idle, st.Total, st.DestroyedCount(ReasonCheck))
	}
	if !rs[1].Value().closed.Load() {
		t.Errorf("resource that failed keepalive: not destroyed")
	}

	// The resource that passed keepalive is trusted at Acquire.
	r, _ := p.AcquirePreferred(context.Background(), rs[0])
	r.Release()
	if got := len(c.checkedIDs()); got != 2 {
		t.Errorf("Acquire after keepalive: got %d checks in all, want 2", got)
	}
}

func TestPoolHealthCheckKeepaliveKeepsIdleOrder(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		t.Run(fmt.Sprintf("FIFO=%v", fifo), func(t *testing.T) {
			clk := useFakeClock(t)
			f := newFactory(t)
			c := &checker{}
			p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 3, FIFO: fifo, Check: c.check, CheckIdleAfter: time.Minute})

			releaseAll(acquireN(t, p, 3)) // released in order 1, 2, 3
			clk.Advance(time.Minute)
			p.HealthCheck() // all three pass keepalive
			if got := len(c.checkedIDs()); got != 3 {
				t.Fatalf("keepalive: got %d checks, want 3", got)
			}
			got := acquireN(t, p, 3)
			defer releaseAll(got)
			want := []int{3, 2, 1}
			if fifo {
				want = []int{1, 2, 3}
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("hand-out order after keepalive: got ids %v, want %v (as before it)", ids(got), want)
			}
		})
	}
}

func TestPoolBackgroundHealthCheckRetiresIdleResources(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, HealthCheckPeriod: time.Millisecond, MaxIdleTime: time.Millisecond})

	r := mustAcquire(t, p)
	r.Release()
	waitFor(t, func() bool { st := p.Stat(); return st.Total == 0 && st.DestroyedCount(ReasonIdle) == 1 })
}

// outageConfig is the pool configuration for the outage tests.
func outageConfig(acquireTimeout time.Duration) Config[*fakeRes] {
	return Config[*fakeRes]{
		MaxSize:        4,
		AcquireTimeout: acquireTimeout,
		Backoff:        time.Millisecond,
		MaxBackoff:     4 * time.Millisecond,
	}
}

var errRefused = errors.New("fake: connection refused")

func TestPoolAcquireTimeoutDuringOutageWrapsConstructorError(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errRefused)
	p := newTestPool(t, f, outageConfig(100*time.Millisecond))

	start := time.Now()
	_, err := p.Acquire(context.Background())
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("Acquire during outage: waited %v, want AcquireTimeout 100ms", waited)
	}
	if !errors.Is(err, ErrAcquireTimeout) || !errors.Is(err, errRefused) {
		t.Errorf("Acquire during outage: got error %v, want one wrapping ErrAcquireTimeout and %v", err, errRefused)
	}
	if !errors.Is(p.LastError(), errRefused) {
		t.Errorf("LastError: got %v, want %v", p.LastError(), errRefused)
	}
	// A canceled waiter also learns why nothing came.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx); err != nil && !errors.Is(err, ErrUnavailable) &&
		(!errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errRefused)) {
		t.Errorf("Acquire with a short deadline during outage: got error %v, want one wrapping context.DeadlineExceeded and %v", err, errRefused)
	}
}

func TestPoolKeepsOneConstructionInFlightDuringOutage(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.before = func(ctx context.Context) error {
		// Fail slowly, so overlapping constructions would show.
		select {
		case <-time.After(2 * time.Millisecond):
			return errRefused
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := time.Now()
	p := newTestPool(t, f, outageConfig(100*time.Millisecond))

	first := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().CreateErrorCount >= 1 })
	f.resetMaxInFlight()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := p.Acquire(context.Background()); !errors.Is(err, errRefused) {
				t.Errorf("Acquire during outage: got error %v, want one wrapping %v", err, errRefused)
			}
		})
	}
	wg.Wait()
	receive(t, first)

	if got := f.getMaxInFlight(); got != 1 {
		t.Errorf("Constructor calls in flight at once during outage: got %d, want 1", got)
	}
	// One at a time, each taking 2ms and followed by at least the 1ms backoff.
	elapsed := time.Since(start)
	if calls, _, _ := f.counts(); calls > int(elapsed/(3*time.Millisecond))+2 {
		t.Errorf("Constructor calls during a %v outage: got %d, want at most one per 3ms", elapsed, calls)
	}
}

// TestPoolBacksOffOncePerTryNotPerAttemptInFlight: when a server restarts,
// every waiter's construction fails at about the same moment. That is one
// failed try; backing off once per failure would make the next try wait
// Backoff doubled seven times for eight waiters, here 12.8s, while the
// server is back at once. The waiters' 5s deadline is 50 times the one
// backoff the fix leaves.
func TestPoolBacksOffOncePerTryNotPerAttemptInFlight(t *testing.T) {
	t.Parallel()
	const waiters = 8
	gate := make(chan struct{})
	f := newFactory(t)
	f.before = blockOn(gate)
	f.setErr(errRefused)
	p := newTestPool(t, f, Config[*fakeRes]{
		MaxSize:        waiters,
		AcquireTimeout: time.Minute,
		Backoff:        100 * time.Millisecond,
		MaxBackoff:     time.Hour,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var results []<-chan acquireResult
	for range waiters {
		results = append(results, acquireAsync(ctx, p))
	}
	waitFor(t, func() bool { calls, _, _ := f.counts(); return calls == waiters })
	close(gate) // all fail at once
	waitFor(t, func() bool { return p.Stat().CreateErrorCount == waiters })
	f.setErr(nil) // and the server is back
	for _, ch := range results {
		res := receive(t, ch)
		if res.err != nil {
			t.Fatalf("Acquire after %d simultaneous failures and a recovery: %v", waiters, res.err)
		}
		res.r.Release()
	}
}

func TestPoolAcquireFailsFastWithErrUnavailableOnceOutageOutlastsAcquireTimeout(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errRefused)
	p := newTestPool(t, f, outageConfig(50*time.Millisecond))

	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("first Acquire: got error %v, want ErrAcquireTimeout", err)
	}
	// The outage counts from the first failure, a little after that Acquire
	// began to wait.
	waitFor(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.failSince.IsZero() && nowFunc().Sub(p.failSince) >= 50*time.Millisecond
	})
	waits := p.Stat().WaitCount
	_, err := p.Acquire(context.Background())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errRefused) {
		t.Fatalf("Acquire after a long outage: got error %v, want one wrapping ErrUnavailable and %v", err, errRefused)
	}
	if got := p.Stat().WaitCount; got != waits {
		t.Errorf("Acquire after a long outage: got WaitCount %d, want %d (it must fail at once, not queue)", got, waits)
	}
	if !strings.Contains(err.Error(), "has failed for") {
		t.Errorf("ErrUnavailable error %q: want it to say how long making a resource has failed", err)
	}
	if got := p.Stat().UnavailableCount; got != 1 {
		t.Errorf("Stat().UnavailableCount: got %d, want 1", got)
	}
}

func TestPoolRecoversWithoutPileUpWhenConstructorRecovers(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errRefused)
	p := newTestPool(t, f, outageConfig(20*time.Millisecond))

	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("Acquire during outage: got error %v, want ErrAcquireTimeout", err)
	}
	callsBefore, _, _ := f.counts()
	f.setErr(nil)

	// Acquires may fail fast until a probe construction succeeds (or, on a
	// starved machine, time out waiting for the retry that serves them).
	waitFor(t, func() bool {
		r, err := p.Acquire(context.Background())
		if err != nil {
			if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrAcquireTimeout) {
				t.Errorf("Acquire during recovery: got error %v, want nil, ErrUnavailable or ErrAcquireTimeout", err)
			}
			return false
		}
		r.Release()
		return true
	})
	calls, created, _ := f.counts()
	if created != 1 || calls-callsBefore > 2 {
		t.Errorf("recovery: got %d Constructor calls and %d resources made, want at most 2 calls and 1 resource", calls-callsBefore, created)
	}
	if err := p.LastError(); err != nil {
		t.Errorf("LastError after recovery: got %v, want nil", err)
	}
	st := p.Stat()
	if st.Total != 1 || st.Idle != 1 {
		t.Errorf("Stat after recovery: got Total %d, Idle %d, want 1, 1", st.Total, st.Idle)
	}
}

func TestPoolWaiterGetsResourceOnceConstructorRecovers(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errRefused)
	p := newTestPool(t, f, outageConfig(0)) // only the context bounds the wait

	ch := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().CreateErrorCount >= 3 }) // retried with backoff
	f.setErr(nil)
	res := receive(t, ch)
	if res.err != nil {
		t.Fatalf("waiter: got error %v, want the resource made once the Constructor recovered", res.err)
	}
	res.r.Release()
}

func TestPoolCloseFailsWaitersAndLaterAcquiresWithErrClosed(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2})
	held := acquireN(t, p, 2)

	var chs []<-chan acquireResult
	for i := range 3 {
		chs = append(chs, acquireAsync(context.Background(), p))
		waitFor(t, func() bool { return p.Stat().Waiting == i+1 })
	}
	p.Close()
	for i, ch := range chs {
		if res := receive(t, ch); !errors.Is(res.err, ErrClosed) {
			t.Errorf("waiter %d at Close: got (%v, %v), want ErrClosed", i, res.r, res.err)
		}
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: got error %v, want ErrClosed", err)
	}
	if st := p.Stat(); st.Waiting != 0 || st.InUse != 2 {
		t.Errorf("Stat after Close: got Waiting %d, InUse %d, want 0, 2", st.Waiting, st.InUse)
	}
	held[0].Release()
	held[1].Destroy()
	if got := p.Stat().DestroyedCount(ReasonClosed); got != 2 {
		t.Errorf("Stat().Destroyed[ReasonClosed] after Release and Destroy: got %d, want 2", got)
	}
}

func TestPoolCloseDestroysIdleResourcesAtOnceAndResourcesInUseAtRelease(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})
	rs := acquireN(t, p, 4)
	releaseAll(rs[:3])

	p.Close()
	for _, r := range rs[:3] {
		if !r.Value().closed.Load() {
			t.Errorf("idle resource %d: not destroyed by Close", r.Value().id)
		}
	}
	if rs[3].Value().closed.Load() {
		t.Errorf("resource in use: destroyed by Close, want it destroyed at Release")
	}
	st := p.Stat()
	if st.Total != 1 || st.InUse != 1 || st.DestroyedCount(ReasonClosed) != 3 {
		t.Errorf("Stat after Close: got Total %d, InUse %d, Destroyed[ReasonClosed] %d, want 1, 1, 3",
			st.Total, st.InUse, st.DestroyedCount(ReasonClosed))
	}
	rs[3].Release()
	if !rs[3].Value().closed.Load() {
		t.Errorf("resource released after Close: not destroyed")
	}
	st = p.Stat()
	if st.Total != 0 || st.DestroyedCount(ReasonClosed) != 4 {
		t.Errorf("Stat after the last Release: got Total %d, Destroyed[ReasonClosed] %d, want 0, 4", st.Total, st.DestroyedCount(ReasonClosed))
	}
}

func TestPoolCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, HealthCheckPeriod: time.Millisecond})
	r := mustAcquire(t, p)
	r.Release()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(p.Close)
	}
	wg.Wait()
	p.Close()
	if _, _, destroyed := f.counts(); destroyed != 1 {
		t.Errorf("after several Closes: got %d resources destroyed, want 1", destroyed)
	}
	p.HealthCheck() // a no-op once closed
	if st := p.Stat(); st.Total != 0 {
		t.Errorf("HealthCheck after Close: got Total %d, want 0", st.Total)
	}
}

// Not parallel: it counts every goroutine running pool code.
func TestPoolCloseCancelsConstructionsAndLeavesNoGoroutines(t *testing.T) {
	waitFor(t, func() bool { return poolGoroutines() == 0 }) // earlier tests are done
	f := newFactory(t)
	f.before = blockOn(nil) // constructions hang until Close cancels them
	p := newTestPool(t, f, Config[*fakeRes]{
		MaxSize:           3,
		MinSize:           1,
		HealthCheckPeriod: time.Millisecond,
	})
	chs := []<-chan acquireResult{acquireAsync(context.Background(), p), acquireAsync(context.Background(), p)}
	// The MinSize construction serves the first waiter; the second gets its own.
	waitFor(t, func() bool { st := p.Stat(); return st.Constructing == 2 && st.Waiting == 2 })
	if got := poolGoroutines(); got < 5 {
		t.Errorf("before Close: got %d pool goroutines, want at least 5 (2 constructions, the health check, 2 waiters)", got)
	}

	p.Close()
	for i, ch := range chs {
		if res := receive(t, ch); !errors.Is(res.err, ErrClosed) {
			t.Errorf("waiter %d: got error %v, want ErrClosed", i, res.err)
		}
	}
	f.mu.Lock()
	for i, ctx := range f.ctxs {
		if ctx.Err() == nil {
			t.Errorf("construction %d: context not canceled by Close", i)
		}
	}
	f.mu.Unlock()
	waitFor(t, func() bool { return poolGoroutines() == 0 })
	if st := p.Stat(); st.Total != 0 || st.Constructing != 0 {
		t.Errorf("Stat after Close: got Total %d, Constructing %d, want 0, 0", st.Total, st.Constructing)
	}
}

func expectPanic(t *testing.T, what, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		got := recover()
		if got == nil {
			t.Errorf("%s: did not panic, want a panic containing %q", what, want)
		} else if !strings.Contains(fmt.Sprint(got), want) {
			t.Errorf("%s: got panic %q, want one containing %q", what, got, want)
		}
	}()
	fn()
}

func TestResourceReleaseTwicePanics(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})

	r := mustAcquire(t, p)
	r.Release()
	expectPanic(t, "second Release", "not acquired", r.Release)
	expectPanic(t, "Destroy after Release", "not acquired", r.Destroy)

	r = mustAcquire(t, p)
	r.Destroy()
	expectPanic(t, "Release after Destroy", "not acquired", r.Release)
	expectPanic(t, "DestroyReclaimed after Destroy", "not acquired", r.DestroyReclaimed)
	if st := p.Stat(); st.Total != 0 || st.DestroyedCount(ReasonBroken) != 1 {
		t.Errorf("Stat: got Total %d, Destroyed[ReasonBroken] %d, want 0, 1", st.Total, st.DestroyedCount(ReasonBroken))
	}
}

func TestResourceDestroyReclaimedCountsAsReclaimed(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	r := mustAcquire(t, p)
	r.DestroyReclaimed()
	if got := p.Stat().DestroyedCount(ReasonReclaimed); got != 1 {
		t.Errorf("Stat().Destroyed[ReasonReclaimed]: got %d, want 1", got)
	}
}

// Many goroutines acquire (with short timeouts and cancellations), release,
// destroy, health-check and suspect at random, while constructions and
// checks fail now and then and resources expire; the accounts must add up
// throughout and at the end.
func TestPoolStressRandomActionsKeepInvariants(t *testing.T) {
	t.Parallel()
	const (
		maxSize    = 8
		minSize    = 2
		workers    = 16
		iterations = 300
	)
	f := newFactory(t)
	f.before = func(ctx context.Context) error {
		if rand.N(20) == 0 {
			return errRefused
		}
		if rand.N(4) == 0 {
			select {
			case <-time.After(rand.N(200 * time.Microsecond)):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	check := func(ctx context.Context, r *fakeRes) error {
		if rand.N(20) == 0 {
			return errors.New("fake: check failed")
		}
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{
		MaxSize:           maxSize,
		MinSize:           minSize,
		MinIdle:           1,
		MaxLifetime:       20 * time.Millisecond,
		MaxLifetimeJitter: 10 * time.Millisecond,
		MaxIdleTime:       5 * time.Millisecond,
		Check:             check,
		CheckIdleAfter:    time.Millisecond,
		AcquireTimeout:    50 * time.Millisecond,
		Backoff:           time.Millisecond,
		MaxBackoff:        2 * time.Millisecond,
	})

	stop := make(chan struct{})
	var monitor sync.WaitGroup
	monitor.Go(func() {
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				checkAccounts(t, p.Stat())
			}
		}
	})

	var acquired, held atomic.Int64
	take := func(r *Resource[*fakeRes], err error) *Resource[*fakeRes] {
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
				!errors.Is(err, ErrAcquireTimeout) && !errors.Is(err, ErrUnavailable) {
				t.Errorf("Acquire: got unexpected error %v", err)
			}
			return nil
		}
		acquired.Add(1)
		if n := held.Add(1); n > maxSize {
			t.Errorf("resources held at once: got %d, want at most %d", n, maxSize)
		}
		v := r.Value()
		if v.closed.Load() {
			t.Errorf("Acquire: got resource %d, which was destroyed", v.id)
		}
		if !v.held.CompareAndSwap(false, true) {
			t.Errorf("Acquire: got resource %d, which someone else holds", v.id)
		}
		return r
	}
	giveBack := func(r *Resource[*fakeRes], destroy bool) {
		r.Value().held.Store(false)
		held.Add(-1)
		if destroy {
			r.Destroy()
		} else {
			r.Release()
		}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var mine, last *Resource[*fakeRes]
			for range iterations {
				if mine != nil {
					switch rand.N(10) {
					case 0:
						giveBack(mine, true)
					case 1, 2:
						continue // keep it a while
					default:
						giveBack(mine, false)
					}
					mine = nil
					continue
				}
				switch rand.N(8) {
				case 0, 1:
					mine = take(p.Acquire(context.Background()))
				case 2:
					ctx, cancel := context.WithTimeout(context.Background(), rand.N(time.Millisecond))
					mine = take(p.Acquire(ctx))
					cancel()
				case 3:
					ctx, cancel := context.WithCancel(context.Background())
					time.AfterFunc(rand.N(500*time.Microsecond), cancel)
					mine = take(p.Acquire(ctx))
					cancel()
				case 4:
					mine = take(p.AcquirePreferred(context.Background(), last))
				case 5:
					p.HealthCheck()
				case 6:
					if rand.N(10) == 0 {
						p.SuspectIdle()
					}
				case 7:
					checkAccounts(t, p.Stat())
				}
				if mine != nil {
					last = mine
				}
			}
			if mine != nil {
				giveBack(mine, false)
			}
		})
	}
	wg.Wait()
	close(stop)
	monitor.Wait()

	// Constructions and retries settle once MinSize is made.
	waitFor(t, func() bool {
		st := p.Stat()
		return st.Constructing == 0 && st.InUse == 0 && st.Total >= minSize
	})
	st := p.Stat()
	checkAccounts(t, st)
	if st.Waiting != 0 || st.Idle != st.Total {
		t.Errorf("after the workers: got Waiting %d, Idle %d, Total %d, want 0 waiting and all idle", st.Waiting, st.Idle, st.Total)
	}
	if got, want := st.AcquireCount, acquired.Load(); got != want {
		t.Errorf("Stat().AcquireCount: got %d, want %d (the successful Acquires)", got, want)
	}

	p.Close()
	st = p.Stat()
	_, created, destroyed := f.counts()
	if st.Total != 0 || destroyed != created || int64(created) != st.CreatedCount {
		t.Errorf("after Close: got Total %d, %d destroyed, %d made, Stat().CreatedCount %d, want 0 and all equal",
			st.Total, destroyed, created, st.CreatedCount)
	}
	var byReason int64
	for _, r := range DestroyReasons() {
		byReason += st.DestroyedCount(r)
	}
	if byReason != st.CreatedCount {
		t.Errorf("Stat().Destroyed summed over reasons: got %d, want CreatedCount %d", byReason, st.CreatedCount)
	}
	t.Logf("stress: %d acquires, %d made, %d construction errors, destroyed %v, %d timeouts, %d canceled, %d unavailable",
		st.AcquireCount, st.CreatedCount, st.CreateErrorCount, st.Destroyed, st.TimeoutCount, st.CanceledCount, st.UnavailableCount)
}

// The outage is dated from the first failure, which comes only after the
// first caller started waiting (here, a dial takes 40ms to be refused). That
// caller waiting the whole AcquireTimeout in vain is itself proof that the
// outage outlasted it: the next Acquire must not wait another timeout.
func TestPoolAcquireFailsFastRightAfterAnAcquireTimedOutDuringOutage(t *testing.T) {
	t.Parallel()
	const acquireTimeout = 100 * time.Millisecond
	f := newFactory(t)
	f.before = func(ctx context.Context) error {
		select {
		case <-time.After(40 * time.Millisecond): // a slow refusal is the scenario
			return errRefused
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p := newTestPool(t, f, outageConfig(acquireTimeout))

	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrAcquireTimeout) || !errors.Is(err, errRefused) {
		t.Fatalf("first Acquire: got error %v, want ErrAcquireTimeout wrapping %v", err, errRefused)
	}
	waits := p.Stat().WaitCount
	_, err := p.Acquire(context.Background())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errRefused) {
		t.Fatalf("Acquire right after the timeout: got error %v, want one wrapping ErrUnavailable and %v", err, errRefused)
	}
	if got := p.Stat().WaitCount; got != waits {
		t.Errorf("Acquire right after the timeout: got WaitCount %d, want %d (it must fail at once, not queue)", got, waits)
	}
}

// A resource released to a queued waiter is handed out as surely as one taken
// from the idle list, so it gets the same check: with CheckIdleAfter 0 (check
// every hand-out) a broken one is destroyed and the waiter gets another
// without seeing the failure. A resource made for the waiter is not checked.
func TestPoolHandOffToWaiterChecksLikeAnIdleAcquire(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	c := &checker{fail: map[int]bool{}}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1, Check: c.check, CheckIdleAfter: 0})

	held := mustAcquire(t, p) // made for this Acquire: not checked
	if got := c.checkedIDs(); len(got) != 0 {
		t.Fatalf("checks of a resource made for its Acquire: got %v, want none", got)
	}
	waiting := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	c.mu.Lock()
	c.fail[held.Value().id] = true
	c.mu.Unlock()
	held.Release()

	res := receive(t, waiting)
	if res.err != nil {
		t.Fatalf("waiter: got error %v, want the replacement resource", res.err)
	}
	defer res.r.Release()
	if got, want := c.checkedIDs(), []int{held.Value().id}; !slices.Equal(got, want) {
		t.Errorf("checks: got %v, want %v (the handed-off resource, once)", got, want)
	}
	if res.r.Value().id == held.Value().id {
		t.Errorf("waiter got the resource that failed its check (id %d)", res.r.Value().id)
	}
	st := p.Stat()
	if got := st.DestroyedCount(ReasonCheck); got != 1 {
		t.Errorf("Destroyed[check_failed]: got %d, want 1", got)
	}
	if st.AcquireCount != 2 {
		t.Errorf("AcquireCount: got %d, want 2 (the failed hand-off is not an Acquire)", st.AcquireCount)
	}
}
