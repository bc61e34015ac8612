package pool

import (
	"context"
	"fmt"
	"time"
)

// Reset retires every resource the pool has and keeps the pool open: idle
// resources are destroyed now, resources in use are destroyed when they are
// released, and constructions in flight are destroyed when they return,
// each counted as ReasonReset. Waiting Acquires keep their place and are
// served by new resources. Reset also forgets a failing Constructor's
// backoff, so the first new resource is asked for at once: call it after a
// credential change, a DNS switch or a planned failover, when whatever the
// old resources reach is no longer what the pool should hand out.
func (p *Pool[T]) Reset() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.gen++
	idle := p.drainIdleLocked(p.idle.len(), ReasonReset)
	p.failSince, p.lastErr, p.permErr, p.backoff, p.timedOut = time.Time{}, nil, nil, 0, false
	if p.retry != nil {
		p.retry.Stop()
		p.retry = nil
	}
	p.fillLocked(context.Background())
	p.mu.Unlock()
	p.destroyAll(idle)
}

// SetMaxSize changes MaxSize on a running pool. Raising it serves the
// waiting Acquires at once, oldest first. Lowering it destroys idle
// resources over the new cap now and resources in use over it when they are
// released (ReasonResized), without taking anything from its holder; until
// then Total may stay above the cap, and no resource is made or handed to a
// waiter. MinSize and MinIdle are lowered to n if they were above it.
func (p *Pool[T]) SetMaxSize(n int) error {
	if n < 1 {
		return fmt.Errorf("pool: MaxSize must be >= 1, got %d", n)
	}
	p.mu.Lock()
	p.cfg.MaxSize = n
	p.stats.MaxSize = n
	p.cfg.MinSize = min(p.cfg.MinSize, n)
	p.cfg.MinIdle = min(p.cfg.MinIdle, n)
	p.stats.MinSize, p.stats.MinIdle = p.cfg.MinSize, p.cfg.MinIdle
	var idle []*Resource[T]
	if !p.closed {
		idle = p.drainIdleLocked(p.total-n, ReasonResized)
		p.fillLocked(context.Background())
	}
	p.mu.Unlock()
	p.destroyAll(idle)
	return nil
}

// SetMinSize changes MinSize on a running pool: the pool makes resources up
// to it now (not only at the next health check), and lets them go below it
// again by MaxIdleTime once it is lowered.
func (p *Pool[T]) SetMinSize(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 0 || n > p.cfg.MaxSize {
		return fmt.Errorf("pool: MinSize must be between 0 and MaxSize (%d), got %d", p.cfg.MaxSize, n)
	}
	p.cfg.MinSize = n
	p.stats.MinSize = n
	p.fillLocked(context.Background())
	return nil
}

// drainIdleLocked takes up to n idle resources out of the pool, least
// recently used first, and returns them for the caller to destroy after
// unlocking.
func (p *Pool[T]) drainIdleLocked(n int, reason DestroyReason) []*Resource[T] {
	var out []*Resource[T]
	for ; n > 0 && p.idle.len() > 0; n-- {
		r := p.idle.back()
		p.idle.remove(r)
		p.markDestroyedLocked(r, reason)
		out = append(out, r)
	}
	return out
}
