package pool

import (
	"context"
	"testing"
	"time"
)

func TestBucketsHoldTheirBounds(t *testing.T) {
	for i := 0; i < NumBuckets-1; i++ {
		lo, hi := BucketBound(i), BucketBound(i+1)
		if hi <= lo {
			t.Fatalf("BucketBound(%d) = %v is not above BucketBound(%d) = %v", i+1, hi, i, lo)
		}
		if got := bucketOf(hi); got != i+1 {
			t.Errorf("bucketOf(%v) = %d, want %d (its upper bound)", hi, got, i+1)
		}
		if got := bucketOf(lo + time.Nanosecond); got != i+1 {
			t.Errorf("bucketOf(%v) = %d, want %d (just above the bound below)", lo+time.Nanosecond, got, i+1)
		}
	}
	if got := bucketOf(0); got != 0 {
		t.Errorf("bucketOf(0) = %d, want 0", got)
	}
	if got := bucketOf(1000 * time.Hour); got != NumBuckets-1 {
		t.Errorf("bucketOf(1000h) = %d, want the last bucket", got)
	}
}

func TestQuantileIsWithinABucketOfTheTruth(t *testing.T) {
	var h Histogram
	// 1..1000 ms, each once: the p50 is 500ms, the p99 990ms.
	for ms := 1; ms <= 1000; ms++ {
		h.add(time.Duration(ms) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.1, 100 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if got < tc.want*2/3 || got > tc.want*3/2 {
			t.Errorf("Quantile(%v) = %v, want within a factor 1.5 of %v", tc.q, got, tc.want)
		}
	}
	var empty Histogram
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("Quantile of an empty histogram = %v, want 0", got)
	}
	if d := h.Sub(h); d.Count() != 0 {
		t.Errorf("h.Sub(h).Count() = %d, want 0", d.Count())
	}
}

func TestStatCountsHoldTimes(t *testing.T) {
	clock := useFakeClock(t)
	p := newTestPool(t, &factory{}, Config[*fakeRes]{MaxSize: 2})
	ctx := context.Background()
	for _, held := range []time.Duration{10 * time.Millisecond, 30 * time.Millisecond} {
		r, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(held)
		r.Release()
	}
	r, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Millisecond)
	r.Destroy()

	s := p.Stat()
	if s.HoldCount != 3 || s.HoldDuration != 60*time.Millisecond {
		t.Errorf("HoldCount, HoldDuration = %d, %v; want 3, 60ms", s.HoldCount, s.HoldDuration)
	}
	if n := s.HoldBuckets.Count(); n != 3 {
		t.Errorf("HoldBuckets counts %d holds, want 3", n)
	}
	if got := s.HoldBuckets.Quantile(1); got < 30*time.Millisecond || got > 45*time.Millisecond {
		t.Errorf("the longest hold is %v by the histogram, want 30ms to 45ms", got)
	}
}

func TestTryAcquireIdleIsNotCounted(t *testing.T) {
	clock := useFakeClock(t)
	p := newTestPool(t, &factory{}, Config[*fakeRes]{MaxSize: 1})
	if r := p.TryAcquireIdle(); r != nil {
		t.Fatal("TryAcquireIdle of an empty pool returned a resource; want nil, and nothing made")
	}
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	before := p.Stat()
	q := p.TryAcquireIdle()
	if q == nil {
		t.Fatal("TryAcquireIdle with one idle: got nil")
	}
	if p.TryAcquireIdle() != nil {
		t.Fatal("TryAcquireIdle took the resource twice")
	}
	clock.Advance(time.Second)
	q.Release()
	after := p.Stat()
	if after.AcquireCount != before.AcquireCount || after.HoldCount != before.HoldCount || after.Idle != 1 {
		t.Errorf("after a quiet acquire: acquires %d→%d, holds %d→%d, idle %d; want unchanged, 1 idle",
			before.AcquireCount, after.AcquireCount, before.HoldCount, after.HoldCount, after.Idle)
	}
}
