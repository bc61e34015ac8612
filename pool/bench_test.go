package pool_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sqlpool/sqlpool/pool"
)

// benchPool returns a pool of size resources, all made and idle, closed when
// the benchmark ends.
func benchPool(b *testing.B, size int) *pool.Pool[*int] {
	b.Helper()
	var n atomic.Int64
	p, err := pool.New(pool.Config[*int]{
		Constructor: func(context.Context) (*int, error) {
			v := int(n.Add(1))
			return &v, nil
		},
		MaxSize: size,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	rs := make([]*pool.Resource[*int], size)
	for i := range rs {
		if rs[i], err = p.Acquire(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	for _, r := range rs {
		r.Release()
	}
	return p
}

// runClients runs b.N calls of op spread over exactly clients goroutines
// (b.RunParallel only offers multiples of GOMAXPROCS). Each goroutine passes
// op what op returned last time (the resource it last had), nil at first.
func runClients(b *testing.B, clients int, op func(last *pool.Resource[*int]) (*pool.Resource[*int], error)) {
	b.Helper()
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range clients {
		wg.Go(func() {
			var last *pool.Resource[*int]
			for remaining.Add(-1) >= 0 {
				var err error
				if last, err = op(last); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

var (
	benchPoolSizes    = []int{8, 64}
	benchClientCounts = []int{1, 8, 64}
)

func BenchmarkPoolAcquireRelease(b *testing.B) {
	p := benchPool(b, 8)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}

func BenchmarkPoolAcquireReleaseConcurrent(b *testing.B) {
	ctx := context.Background()
	for _, size := range benchPoolSizes {
		for _, clients := range benchClientCounts {
			b.Run(fmt.Sprintf("PoolSize=%d/ClientCount=%d", size, clients), func(b *testing.B) {
				p := benchPool(b, size)
				b.ReportAllocs()
				runClients(b, clients, func(*pool.Resource[*int]) (*pool.Resource[*int], error) {
					r, err := p.Acquire(ctx)
					if err != nil {
						return nil, err
					}
					r.Release()
					return nil, nil
				})
			})
		}
	}
}

// BenchmarkPoolAcquireReleaseAffinity is the same grid with each client asking
// for the resource it had last (AcquirePreferred).
func BenchmarkPoolAcquireReleaseAffinity(b *testing.B) {
	ctx := context.Background()
	for _, size := range benchPoolSizes {
		for _, clients := range benchClientCounts {
			b.Run(fmt.Sprintf("PoolSize=%d/ClientCount=%d", size, clients), func(b *testing.B) {
				p := benchPool(b, size)
				b.ReportAllocs()
				var hits, total atomic.Int64
				runClients(b, clients, func(last *pool.Resource[*int]) (*pool.Resource[*int], error) {
					r, err := p.AcquirePreferred(ctx, last)
					if err != nil {
						return nil, err
					}
					total.Add(1)
					if r == last {
						hits.Add(1)
					}
					r.Release()
					return r, nil
				})
				if n := total.Load(); n > 0 {
					b.ReportMetric(float64(hits.Load())/float64(n), "hits/op")
				}
			})
		}
	}
}
