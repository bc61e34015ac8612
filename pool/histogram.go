package pool

import (
	"math/bits"
	"time"
)

// Histograms of durations, kept in a Stat: how long resources were held
// (HoldBuckets) and how long Acquires queued (WaitBuckets). A bucket is two
// per doubling of the duration, so a bound is 1.5 or 1.33 times the one
// before, from about 1µs to about 73 minutes; what is longer is counted in
// the last bucket. Counting one is a shift and a bit count, done
// under the pool's lock the pool takes anyway.

// NumBuckets is the number of buckets of a Histogram.
const NumBuckets = 64

// Histogram counts durations by bucket: Histogram[i] counts those in
// (BucketBound(i-1), BucketBound(i)].
type Histogram [NumBuckets]int64

// BucketBound returns the upper bound of bucket i: 1024ns for bucket 0,
// then alternately 1.5 and 2 times the power of two nanoseconds before.
func BucketBound(i int) time.Duration {
	if i <= 0 {
		return 1 << minExp
	}
	e := uint(minExp + (i+1)/2) // bucket 2k-1 ends at 1.5×2^(e-1)ns, bucket 2k at 2^e
	if i%2 == 1 {
		return time.Duration(3) << (e - 2)
	}
	return time.Duration(1) << e
}

// minExp is bucket 0's bound, as a power of two nanoseconds.
const minExp = 10

// bucketOf returns the bucket that counts d.
func bucketOf(d time.Duration) int {
	if d <= 1<<minExp {
		return 0
	}
	// d is in (2^(e-1), 2^e]: its bucket is 2k-1 up to 1.5×2^(e-1), 2k above.
	e := bits.Len64(uint64(d - 1))
	i := 2 * (e - minExp)
	if d <= time.Duration(3)<<(e-2) {
		i--
	}
	return min(i, NumBuckets-1)
}

// add counts d.
func (h *Histogram) add(d time.Duration) { h[bucketOf(d)]++ }

// Count returns how many durations h counts.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Sub returns the counts of h less those of old: what was counted between
// two Stats.
func (h Histogram) Sub(old Histogram) Histogram {
	for i := range h {
		h[i] -= old[i]
	}
	return h
}

// Quantile returns the duration below which the fraction q (0 to 1) of the
// counted durations fall, interpolated within its bucket; 0 if h counts
// none. It overstates by at most the bucket's width, a factor 1.5.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = BucketBound(i - 1)
			}
			hi := BucketBound(i)
			frac := (rank - seen) / float64(c)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += float64(c)
	}
	return BucketBound(NumBuckets - 1)
}
