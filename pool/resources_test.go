package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// byID returns the listed resources that have a value, by the value's id.
func byID(infos []ResourceInfo[*fakeRes]) map[int]ResourceInfo[*fakeRes] {
	m := map[int]ResourceInfo[*fakeRes]{}
	for _, ri := range infos {
		if ri.Value != nil {
			m[ri.Value.id] = ri
		}
	}
	return m
}

func TestAppendResourcesListsEveryResourceWithItsStateAndTimes(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, MaxLifetime: time.Hour})

	made := clk.Now()
	rs := acquireN(t, p, 2)
	clk.Advance(time.Second)
	taken := clk.Now()
	rs[0].Release()
	rs[0] = mustAcquire(t, p) // the same one, used twice
	clk.Advance(time.Second)
	released := clk.Now()
	rs[1].Release()
	defer rs[0].Release()

	got := p.AppendResources(nil)
	if st := p.Stat(); len(got) != st.Total || len(got) != 2 {
		t.Fatalf("AppendResources: got %d resources, want 2 (Stat.Total %d)", len(got), st.Total)
	}
	m := byID(got)
	inUse, idle := m[rs[0].Value().id], m[rs[1].Value().id]
	if inUse.State != ResourceInUse || !inUse.AcquiredAt.Equal(taken) || inUse.Uses != 2 {
		t.Errorf("resource in use: got state %v, AcquiredAt %v, Uses %d; want in_use, %v, 2", inUse.State, inUse.AcquiredAt, inUse.Uses, taken)
	}
	if idle.State != ResourceIdle || !idle.ReleasedAt.Equal(released) || idle.Uses != 1 {
		t.Errorf("idle resource: got state %v, ReleasedAt %v, Uses %d; want idle, %v, 1", idle.State, idle.ReleasedAt, idle.Uses, released)
	}
	for _, ri := range got {
		if !ri.CreatedAt.Equal(made) || !ri.ExpiresAt.Equal(made.Add(time.Hour)) {
			t.Errorf("resource %d: got CreatedAt %v, ExpiresAt %v; want %v and an hour later", ri.Value.id, ri.CreatedAt, ri.ExpiresAt, made)
		}
	}

	// dst is appended to.
	dst := make([]ResourceInfo[*fakeRes], 1, 8)
	if got := p.AppendResources(dst); len(got) != 3 || &got[0] != &dst[0] {
		t.Errorf("AppendResources(dst with 1 element and room): got %d elements (same array: %v), want 3 in dst's array", len(got), &got[0] == &dst[0])
	}
}

func TestAppendResourcesListsConstructionsInFlight(t *testing.T) {
	clk := useFakeClock(t)
	f := newFactory(t)
	gate := make(chan struct{})
	f.before = blockOn(gate)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2})

	asked := clk.Now()
	ch := acquireAsync(context.Background(), p)
	waitFor(t, func() bool { return p.Stat().Constructing == 1 })
	got := p.AppendResources(nil)
	if len(got) != 1 || got[0].State != ResourceConstructing || got[0].Value != nil || !got[0].CreatedAt.Equal(asked) {
		t.Fatalf("AppendResources while constructing: got %+v, want one constructing since %v, with no value", got, asked)
	}

	close(gate)
	res := receive(t, ch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.r.Release()
	got = p.AppendResources(nil)
	if len(got) != 1 || got[0].State != ResourceInUse || got[0].Value != res.r.Value() {
		t.Errorf("AppendResources once made: got %+v, want the one resource, in use", got)
	}
}

func TestAppendResourcesForgetsDestroyedResources(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4})

	rs := acquireN(t, p, 3)
	rs[0].Destroy()
	rs[1].Release()
	if got := byID(p.AppendResources(nil)); len(got) != 2 || got[rs[1].Value().id].State != ResourceIdle || got[rs[2].Value().id].State != ResourceInUse {
		t.Errorf("after a Destroy: got %v, want resource %d idle and %d in use", got, rs[1].Value().id, rs[2].Value().id)
	}

	// Close destroys the idle one; the one in use is listed until released.
	p.Close()
	if got := p.AppendResources(nil); len(got) != 1 || got[0].Value != rs[2].Value() || got[0].State != ResourceInUse {
		t.Errorf("after Close: got %+v, want only resource %d, in use", got, rs[2].Value().id)
	}
	rs[2].Release()
	if got := p.AppendResources(nil); len(got) != 0 {
		t.Errorf("after Close and the last Release: got %+v, want none", got)
	}
}

func TestAppendResourcesListsAResourceBeingCheckedByTheHealthCheck(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	entered, gate := make(chan struct{}), make(chan struct{})
	check := func(ctx context.Context, r *fakeRes) error {
		close(entered)
		<-gate
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 2, Check: check, CheckIdleAfter: -1})
	mustAcquire(t, p).Release()

	done := make(chan struct{})
	go func() {
		defer close(done)
		p.HealthCheck() // CheckIdleAfter < 0, no period: keepalive checks every idle resource
	}()
	<-entered
	got := p.AppendResources(nil)
	close(gate)
	<-done
	if len(got) != 1 || got[0].State != ResourceChecking {
		t.Errorf("AppendResources during a keepalive check: got %+v, want one resource, checking", got)
	}
	if got := p.AppendResources(nil); len(got) != 1 || got[0].State != ResourceIdle {
		t.Errorf("after the check: got %+v, want one resource, idle", got)
	}
}

func TestAppendResourcesAllocatesNothingWhenDstHasRoom(t *testing.T) {
	f := newFactory(t)
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 8})
	rs := acquireN(t, p, 8)
	releaseAll(rs[:4])
	defer releaseAll(rs[4:])
	dst := make([]ResourceInfo[*fakeRes], 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst = p.AppendResources(dst[:0]) }); n != 0 {
		t.Errorf("AppendResources into a slice with room: got %v allocations, want 0", n)
	}
}

// A random mix of Acquire, Release, Destroy and failing constructions,
// listed concurrently: the race detector checks the listing's locking, and
// once quiet the list matches Stat.
func TestAppendResourcesMatchesStatAfterRandomActions(t *testing.T) {
	t.Parallel()
	f := newFactory(t)
	var fails sync.Mutex
	failNext := false
	f.before = func(ctx context.Context) error {
		fails.Lock()
		defer fails.Unlock()
		if failNext {
			failNext = false
			return errors.New("fake: construction failed")
		}
		return nil
	}
	p := newTestPool(t, f, Config[*fakeRes]{MaxSize: 4, MaxLifetime: 5 * time.Millisecond, AcquireTimeout: time.Second, Backoff: time.Millisecond, MaxBackoff: time.Millisecond})

	stop := make(chan struct{})
	var lister sync.WaitGroup
	lister.Go(func() {
		var buf []ResourceInfo[*fakeRes]
		for {
			select {
			case <-stop:
				return
			default:
			}
			buf = p.AppendResources(buf[:0])
			if len(buf) > 4 {
				t.Errorf("AppendResources: got %d resources, want at most MaxSize 4", len(buf))
				return
			}
		}
	})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				if rng.IntN(10) == 0 {
					fails.Lock()
					failNext = true
					fails.Unlock()
				}
				r, err := p.Acquire(context.Background())
				if err != nil {
					continue
				}
				if rng.IntN(4) == 0 {
					r.Destroy()
				} else {
					r.Release()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	lister.Wait()

	waitFor(t, func() bool { return p.Stat().Constructing == 0 })
	st := p.Stat()
	got := p.AppendResources(nil)
	idle := 0
	for _, ri := range got {
		if ri.State == ResourceIdle {
			idle++
		}
		if ri.State != ResourceIdle {
			t.Errorf("quiet pool: got a resource %v, want every one idle", ri.State)
		}
	}
	if len(got) != st.Total || idle != st.Idle {
		t.Errorf("quiet pool: listed %d resources, %d idle; Stat says Total %d, Idle %d", len(got), idle, st.Total, st.Idle)
	}
}

func TestResourceStateString(t *testing.T) {
	t.Parallel()
	for s, want := range map[ResourceState]string{
		ResourceIdle: "idle", ResourceInUse: "in_use", ResourceChecking: "checking", ResourceConstructing: "constructing", 9: "ResourceState(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("ResourceState(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
}
