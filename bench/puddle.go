package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/puddle/v2"

	"github.com/sqlpool/sqlpool/pool"
)

// PoolSize is the number of resources in the Acquire/Release benchmarks.
const PoolSize = 8

// AcquireReleaseGoroutines are the client counts the pool benchmarks run at.
var AcquireReleaseGoroutines = []int{1, 8, 64}

// AcquireReleaseSQLPool measures one Acquire and Release of sqlpool's pool
// of PoolSize resources, b.N of them spread over goroutines clients.
func AcquireReleaseSQLPool(b *testing.B, goroutines int) {
	var n atomic.Int64
	p, err := pool.New(pool.Config[*int]{
		Constructor: func(context.Context) (*int, error) {
			v := int(n.Add(1))
			return &v, nil
		},
		MaxSize: PoolSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	fill(b, func() (func(), error) {
		r, err := p.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return r.Release, nil
	})
	// Not through fill's acquire: the method value r.Release would
	// allocate on every measured Acquire.
	spread(b, goroutines, func() error {
		r, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		r.Release()
		return nil
	})
}

// AcquireReleasePuddle is AcquireReleaseSQLPool for jackc/puddle, the pool
// under pgxpool.
func AcquireReleasePuddle(b *testing.B, goroutines int) {
	var n atomic.Int64
	p, err := puddle.NewPool(&puddle.Config[*int]{
		Constructor: func(context.Context) (*int, error) {
			v := int(n.Add(1))
			return &v, nil
		},
		Destructor: func(*int) {},
		MaxSize:    PoolSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	fill(b, func() (func(), error) {
		r, err := p.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return r.Release, nil
	})
	spread(b, goroutines, func() error {
		r, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		r.Release()
		return nil
	})
}

// fill makes the pool create all PoolSize resources, by acquiring them all
// at once and releasing them, so that the measured Acquires find them idle.
func fill(b *testing.B, acquire func() (release func(), err error)) {
	releases := make([]func(), PoolSize)
	for i := range releases {
		var err error
		if releases[i], err = acquire(); err != nil {
			b.Fatal(err)
		}
	}
	for _, release := range releases {
		release()
	}
}

// spread runs b.N calls of op over exactly goroutines goroutines
// (b.RunParallel offers only multiples of GOMAXPROCS).
func spread(b *testing.B, goroutines int, op func() error) {
	b.ReportAllocs()
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			for remaining.Add(-1) >= 0 {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
