package sqlpool

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

func TestHistoryKeepsTheLastSamplesOldestFirstWithWhatEachIntervalCounted(t *testing.T) {
	var h history
	if got := h.appendTo(nil); len(got) != 0 {
		t.Fatalf("empty history: got %d samples", len(got))
	}
	t0 := time.Unix(1_700_000_000, 0)
	const n = historyLen + 5
	for i := range n {
		h.add(t0.Add(time.Duration(i)*time.Second), pool.Stat{
			InUse: i % 7, Waiting: i % 3,
			AcquireCount: int64(10 * i), WaitCount: int64(2 * i), WaitDuration: time.Duration(i) * 6 * time.Millisecond, TimeoutCount: int64(i / 100),
		})
	}
	got := h.appendTo(nil)
	if len(got) != historyLen {
		t.Fatalf("after %d samples: got %d kept, want the last %d", n, len(got), historyLen)
	}
	for j, s := range got {
		i := n - historyLen + j
		if !s.At.Equal(t0.Add(time.Duration(i)*time.Second)) || s.InUse != i%7 || s.Waiting != i%3 {
			t.Fatalf("sample %d: got at %v, in use %d, waiting %d; want sample %d of those added", j, s.At, s.InUse, s.Waiting, i)
		}
		if s.Acquires != 10 || s.Waits != 2 || s.WaitTime != 6*time.Millisecond || s.MeanWait() != 3*time.Millisecond {
			t.Fatalf("sample %d: got %d acquires, %d waits of %v (mean %v); want the interval's 10, 2, 6ms (3ms)", j, s.Acquires, s.Waits, s.WaitTime, s.MeanWait())
		}
	}

	// The first sample has nothing to count from.
	var fresh history
	fresh.add(t0, pool.Stat{AcquireCount: 99, WaitCount: 9, WaitDuration: time.Second})
	if s := fresh.appendTo(nil)[0]; s.Acquires != 0 || s.Waits != 0 || s.WaitTime != 0 || s.MeanWait() != 0 {
		t.Errorf("first sample: got %+v, want no counts", s)
	}
}

// samplers counts the goroutines running r's sampler: those whose stack
// has r's sample method with r as its receiver (the first argument).
func samplers(r *registry) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fmt.Sprintf("sqlpool.(*registry).sample(%p", r))
}

func TestSamplerRunsWhileAPoolIsOpenAndStopsWithTheLast(t *testing.T) {
	// A registry of its own, so the process's pools are not involved.
	set := &registry{interval: time.Millisecond, open: map[*poolState]struct{}{}, shared: map[string]*poolState{}}
	newPS := func(name string) *poolState {
		p, err := pool.New(pool.Config[*pconn]{
			MaxSize:     1,
			Constructor: func(context.Context) (*pconn, error) { return &pconn{}, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return &poolState{name: name, pool: p}
	}
	const before = 0 // this registry's samplers

	set.mu.Lock()
	set.record = true
	set.startSamplerLocked() // no pool open: nothing to sample, no goroutine
	set.mu.Unlock()
	if got := samplers(set); got != before {
		t.Fatalf("sampler goroutines with no pool open: got %d, want %d", got, before)
	}

	a, b := newPS("a"), newPS("b")
	set.add(a)
	set.add(b)
	testdb.WaitFor(t, "samples of both pools", func() bool {
		return len(a.hist.appendTo(nil)) >= 2 && len(b.hist.appendTo(nil)) >= 2
	})
	if got := samplers(set); got != before+1 {
		t.Errorf("sampler goroutines with two pools open: got %d, want one more than the %d before", got, before)
	}
	if got := set.list(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("list: got %v, want a then b", got)
	}

	set.remove(a)
	set.remove(a) // idempotent
	set.remove(b)
	testdb.WaitFor(t, "the sampler to stop with the last pool", func() bool { return samplers(set) == before })

	// The next pool starts it again.
	c := newPS("c")
	set.add(c)
	testdb.WaitFor(t, "a sample of the pool opened after", func() bool { return len(c.hist.appendTo(nil)) >= 1 })
	set.remove(c)
	testdb.WaitFor(t, "the sampler to stop again", func() bool { return samplers(set) == before })
}

func TestFormatDurationWritesWhatADSNWould(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", time.Hour: "1h", 2 * time.Minute: "2m", 90 * time.Minute: "1h30m", 150 * time.Second: "2m30s",
		30 * time.Second: "30s", 250 * time.Millisecond: "250ms", time.Hour + time.Second: "1h0m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
