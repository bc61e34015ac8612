package pool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolResetDestroysIdleNowAndInUseAtRelease(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})
	rs := acquireN(t, p, 3)
	rs[0].Release()
	rs[1].Release()

	p.Reset()
	st := p.Stat()
	if got := st.DestroyedCount(ReasonReset); got != 2 {
		t.Errorf("after Reset: got %d destroyed as reset, want 2 (the idle ones)", got)
	}
	if rs[2].Value().closed.Load() {
		t.Errorf("after Reset: the resource in use was destroyed under its holder")
	}
	rs[2].Release()
	if !rs[2].Value().closed.Load() {
		t.Errorf("after its release: the resource made before Reset was kept")
	}
	if got := p.Stat().DestroyedCount(ReasonReset); got != 3 {
		t.Errorf("after the last release: got %d destroyed as reset, want 3", got)
	}
	r := mustAcquire(t, p)
	if r.Value().id <= 3 {
		t.Errorf("Acquire after Reset: got resource %d, want a new one (> 3)", r.Value().id)
	}
	r.Release()
	if p.Stat().Idle != 1 {
		t.Errorf("a resource made after Reset: got %d idle after release, want 1 (kept)", p.Stat().Idle)
	}
}

func TestPoolResetDiscardsConstructionInFlight(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	f := newFactory(t)
	var first atomic.Bool
	f.before = func(ctx context.Context) error {
		if first.CompareAndSwap(false, true) {
			return blockOn(gate)(ctx)
		}
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	ch := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Constructing == 1 })
	p.Reset()
	close(gate)
	res := receive(t, ch)
	if res.err != nil {
		t.Fatalf("Acquire: got error %v, want nil", res.err)
	}
	defer res.r.Release()
	if res.r.Value().id != 2 {
		t.Errorf("Acquire waiting across a Reset: got resource %d, want 2 (the one asked for after it)", res.r.Value().id)
	}
	if got := p.Stat().DestroyedCount(ReasonReset); got != 1 {
		t.Errorf("got %d destroyed as reset, want 1 (the construction started before Reset)", got)
	}
}

func TestPoolResetRetriesAFailingConstructorAtOnce(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	f.setErr(errors.New("password authentication failed"))
	cfg := outageConfig(0)
	cfg.Backoff, cfg.MaxBackoff = time.Hour, time.Hour // no retry but Reset's within the test
	p := newTestPool(t, f, cfg)
	ch := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.LastError() != nil })
	f.setErr(nil)
	p.Reset()
	if res := receive(t, ch); res.err != nil {
		t.Fatalf("Acquire: got error %v, want nil", res.err)
	} else {
		res.r.Release()
	}
	if err := p.LastError(); err != nil {
		t.Errorf("LastError after Reset and a success: got %v, want nil", err)
	}
}

func TestPoolResetUnderLoadHandsOutNoOlderResourceAfterIt(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})
	var (
		mu       sync.Mutex
		resetAt  int // highest id made before the last Reset; guarded by mu
		resets   int
		stale    atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		acquired atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				floor := resetAt
				mu.Unlock()
				r, err := p.Acquire(context.Background())
				if err != nil {
					t.Errorf("Acquire: got error %v, want nil", err)
					return
				}
				if r.Value().id <= floor {
					stale.Add(1)
				}
				acquired.Add(1)
				r.Release()
			}
		})
	}
	for range 50 {
		want := acquired.Load() + 20
		waitFor(t, func() bool { return acquired.Load() >= want })
		mu.Lock()
		_, created, _ := f.counts()
		resetAt = created
		p.Reset()
		resets++
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	if n := stale.Load(); n != 0 {
		t.Errorf("got %d Acquires started after a Reset that were handed a resource made before it, want 0", n)
	}
	if got := p.Stat().DestroyedCount(ReasonReset); got < int64(resets) {
		t.Errorf("got %d destroyed as reset over %d Resets, want at least one each", got, resets)
	}
	checkAccounts(t, p.Stat())
}

func TestPoolSetMaxSizeLowerDestroysIdleNowAndInUseAtRelease(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})
	rs := acquireN(t, p, 4)
	rs[0].Release()
	rs[1].Release()
	if err := p.SetMaxSize(1); err != nil {
		t.Fatalf("SetMaxSize(1): got error %v, want nil", err)
	}
	st := p.Stat()
	if st.MaxSize != 1 || st.Total != 2 || st.DestroyedCount(ReasonResized) != 2 {
		t.Errorf("after SetMaxSize(1): got MaxSize %d, Total %d, %d resized; want 1, 2 (the two in use), 2",
			st.MaxSize, st.Total, st.DestroyedCount(ReasonResized))
	}
	ch := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Waiting == 1 })
	rs[2].Release() // over the cap: destroyed, not handed to the waiter
	if st := p.Stat(); st.Total != 1 || st.Waiting != 1 {
		t.Errorf("after a release over the cap: got Total %d, Waiting %d; want 1, 1", st.Total, st.Waiting)
	}
	rs[3].Release() // at the cap: handed to the waiter
	res := receive(t, ch)
	if res.err != nil {
		t.Fatalf("Acquire: got error %v, want nil", res.err)
	}
	if res.r != rs[3] {
		t.Errorf("waiter: got resource %d, want %d (the one released at the cap)", res.r.Value().id, rs[3].Value().id)
	}
	res.r.Release()
	checkAccounts(t, p.Stat())
}

func TestPoolSetMaxSizeHigherServesWaitersInArrivalOrder(t *testing.T) {
	t.Parallel()
	const waiters = 4
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 1})
	held := mustAcquire(t, p)
	served := make(chan int, waiters)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range waiters {
		wg.Go(func() {
			r, err := p.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter %d: got error %v, want nil", i, err)
				return
			}
			served <- i
			<-release
			r.Release()
		})
		waitFor(t, func() bool { return p.Stat().Waiting == i+1 })
	}
	if err := p.SetMaxSize(3); err != nil {
		t.Fatalf("SetMaxSize(3): got error %v, want nil", err)
	}
	// Two new slots: the two oldest waiters are served, the others wait.
	first := []int{<-served, <-served}
	slices.Sort(first)
	if !slices.Equal(first, []int{0, 1}) {
		t.Errorf("after SetMaxSize(3): got waiters %v served, want [0 1] (the oldest)", first)
	}
	if st := p.Stat(); st.Waiting != 2 || st.Total != 3 {
		t.Errorf("after SetMaxSize(3): got Waiting %d, Total %d; want 2, 3", st.Waiting, st.Total)
	}
	held.Release()
	if got := <-served; got != 2 {
		t.Errorf("next release: got waiter %d served, want 2", got)
	}
	close(release)
	wg.Wait()
	checkAccounts(t, p.Stat())
}

func TestPoolSetMaxSizeUnderLoadKeepsTheCap(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 8})
	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		holders atomic.Int64
		over    atomic.Int64
		capNow  atomic.Int64
	)
	capNow.Store(8)
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := p.Acquire(context.Background())
				if err != nil {
					t.Errorf("Acquire: got error %v, want nil", err)
					return
				}
				if n := holders.Add(1); n > capNow.Load() {
					over.Add(1)
				}
				holders.Add(-1)
				r.Release()
			}
		})
	}
	for _, n := range []int{2, 6, 1, 8, 3} {
		// Lower the bound the holders are checked against only once the
		// pool has settled at the new cap; raise it before the pool can.
		if int64(n) > capNow.Load() {
			capNow.Store(int64(n))
		}
		if err := p.SetMaxSize(n); err != nil {
			t.Fatalf("SetMaxSize(%d): got error %v, want nil", n, err)
		}
		waitFor(t, func() bool { return p.Stat().Total <= n })
		capNow.Store(int64(n))
		for range 200 {
			if st := p.Stat(); st.Total > n {
				t.Fatalf("SetMaxSize(%d): got Total %d after it settled, want at most %d", n, st.Total, n)
			}
		}
	}
	close(stop)
	wg.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("got %d hand-outs over the cap in force, want 0", n)
	}
	if err := p.SetMaxSize(0); err == nil {
		t.Errorf("SetMaxSize(0): got nil error, want one")
	}
}

func TestPoolSetMinSizeFillsNowAndRejectsOutOfRange(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})
	if err := p.SetMinSize(3); err != nil {
		t.Fatalf("SetMinSize(3): got error %v, want nil", err)
	}
	waitFor(t, func() bool { return p.Stat().Idle == 3 })
	if st := p.Stat(); st.MinSize != 3 {
		t.Errorf("Stat().MinSize: got %d, want 3", st.MinSize)
	}
	if err := p.SetMinSize(5); err == nil {
		t.Errorf("SetMinSize(5) over MaxSize 4: got nil error, want one")
	}
	if err := p.SetMaxSize(2); err != nil {
		t.Fatalf("SetMaxSize(2): got error %v", err)
	}
	if st := p.Stat(); st.MinSize != 2 || st.Total != 2 {
		t.Errorf("after SetMaxSize(2): got MinSize %d, Total %d; want 2, 2", st.MinSize, st.Total)
	}
}
