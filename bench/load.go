package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// QueryFunc runs query and returns the integer it selects.
type QueryFunc func(ctx context.Context, query string) (int64, error)

// Load is a closed-loop load: Goroutines each run Query back to back for
// Duration, after a Warmup whose operations are not counted.
type Load struct {
	Goroutines int
	Query      string
	Warmup     time.Duration
	Duration   time.Duration
	// Worker returns the function goroutine i runs its queries with.
	Worker func(i int) QueryFunc
	// Bucket, when set, counts completed operations per interval of this
	// length (Result.Series), to see throughput fall and come back.
	Bucket time.Duration
	// At, when set, is called once, At.After into the measured period,
	// while the load goes on; its own duration is part of the load.
	At *Event
	// OpTimeout bounds each operation (default 30s).
	OpTimeout time.Duration
}

// An Event is something done to the server in the middle of a load.
type Event struct {
	After time.Duration
	Do    func() error
	// Err and Took are filled in when the event has run.
	Err        error
	Start, End time.Duration // from the start of the measured period
}

// Result is what a Load measured.
type Result struct {
	Ops, Errors int64
	Elapsed     time.Duration
	Latencies   []time.Duration // of every counted operation, sorted
	Series      []int64         // completed operations per Bucket
	ErrorAt     []time.Duration // when each counted error happened
	FirstErrors []string        // the first few distinct error messages
}

// Throughput is operations per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Quantile returns the q quantile of the latencies (nearest rank).
func (r *Result) Quantile(q float64) time.Duration {
	return quantile(r.Latencies, q)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// Run runs the load.
func (l Load) Run(ctx context.Context) *Result {
	if l.OpTimeout == 0 {
		l.OpTimeout = 30 * time.Second
	}
	var (
		begin    = time.Now()
		measured = begin.Add(l.Warmup)
		end      = measured.Add(l.Duration)
		mu       sync.Mutex
		res      = &Result{}
		stop     atomic.Bool
		wg       sync.WaitGroup
		buckets  []atomic.Int64
	)
	if l.Bucket > 0 {
		buckets = make([]atomic.Int64, int(l.Duration/l.Bucket)+1)
	}
	for i := range l.Goroutines {
		q := l.Worker(i)
		wg.Go(func() {
			var (
				lat    []time.Duration
				errAt  []time.Duration
				errs   []string
				ops, n int64
			)
			for !stop.Load() {
				start := time.Now()
				if start.After(end) {
					break
				}
				octx, cancel := context.WithTimeout(ctx, l.OpTimeout)
				_, err := q(octx, l.Query)
				cancel()
				done := time.Now()
				if start.Before(measured) {
					continue
				}
				if err != nil {
					n++
					errAt = append(errAt, done.Sub(measured))
					if len(errs) < 3 {
						errs = append(errs, err.Error())
					}
					continue
				}
				ops++
				lat = append(lat, done.Sub(start))
				if buckets != nil {
					if b := int(done.Sub(measured) / l.Bucket); b < len(buckets) {
						buckets[b].Add(1)
					}
				}
			}
			mu.Lock()
			res.Ops += ops
			res.Errors += n
			res.Latencies = append(res.Latencies, lat...)
			res.ErrorAt = append(res.ErrorAt, errAt...)
			for _, e := range errs {
				if len(res.FirstErrors) < 3 && !slices.Contains(res.FirstErrors, e) {
					res.FirstErrors = append(res.FirstErrors, e)
				}
			}
			mu.Unlock()
		})
	}
	if l.At != nil {
		wg.Go(func() {
			time.Sleep(time.Until(measured.Add(l.At.After)))
			l.At.Start = time.Since(measured)
			l.At.Err = l.At.Do()
			l.At.End = time.Since(measured)
		})
	}
	time.Sleep(time.Until(end))
	stop.Store(true)
	wg.Wait()
	// Operations that began before the end count; the period is until the
	// last of them finished.
	res.Elapsed = max(time.Since(measured), l.Duration)
	slices.Sort(res.Latencies)
	slices.Sort(res.ErrorAt)
	for i := range buckets {
		res.Series = append(res.Series, buckets[i].Load())
	}
	return res
}

// Shared returns a Worker that gives every goroutine the same f.
func Shared(f QueryFunc) func(int) QueryFunc {
	return func(int) QueryFunc { return f }
}
