package pool

import (
	"fmt"
	"slices"
	"time"
)

// ResourceState says what a resource is doing, as AppendResources reports it.
type ResourceState uint8

// The states of a resource.
const (
	ResourceIdle         ResourceState = iota // in the idle list
	ResourceInUse                             // handed out by Acquire
	ResourceChecking                          // taken out of the idle list by the health check, being checked
	ResourceConstructing                      // the Constructor is making it
)

var stateNames = [...]string{"idle", "in_use", "checking", "constructing"}

// String returns "idle", "in_use", "checking" or "constructing".
func (s ResourceState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("ResourceState(%d)", uint8(s))
}

// ResourceInfo is a snapshot of one resource of a pool, for diagnostics.
type ResourceInfo[T any] struct {
	// Value is the pooled value; the zero T while constructing. It belongs
	// to whoever holds the resource: read only what is safe to read
	// concurrently with its holder.
	Value T
	State ResourceState

	// CreatedAt is when the Constructor returned the resource; while
	// constructing, when the construction was asked for.
	CreatedAt time.Time
	// ExpiresAt is the end of its lifetime (MaxLifetime plus its jitter);
	// zero when it never expires. An expired resource in use is destroyed
	// when it is released.
	ExpiresAt time.Time
	// ReleasedAt is when it was last released, or made: while idle, since
	// when it has been idle.
	ReleasedAt time.Time
	// AcquiredAt is when it was last handed out (while in use, by whom it
	// is held now); zero if never.
	AcquiredAt time.Time
	// VerifiedAt is the last time it was known to work: made, released or
	// passed a check.
	VerifiedAt time.Time
	// Uses counts the times it was handed out.
	Uses int64
}

// AppendResources appends a snapshot of every resource of the pool to dst
// and returns the extended slice: the resources idle, in use or being
// checked, then one entry per construction in flight, in no particular
// order. It takes the pool's lock for as long as copying takes and allocates
// only to grow dst; Acquire and Release pay nothing for it. A closed pool
// lists the resources still in use, until they are released.
func (p *Pool[T]) AppendResources(dst []ResourceInfo[T]) []ResourceInfo[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	dst = slices.Grow(dst, len(p.all)+len(p.dialing))
	for _, r := range p.all {
		info := ResourceInfo[T]{
			Value:      r.value,
			CreatedAt:  r.createdAt,
			ExpiresAt:  r.expiresAt,
			ReleasedAt: r.releasedAt,
			AcquiredAt: r.acquiredAt,
			VerifiedAt: r.verifiedAt,
			Uses:       r.uses,
		}
		switch r.state {
		case stateIdle:
			info.State = ResourceIdle
		case stateChecking:
			info.State = ResourceChecking
		default:
			info.State = ResourceInUse
		}
		dst = append(dst, info)
	}
	for _, at := range p.dialing {
		dst = append(dst, ResourceInfo[T]{State: ResourceConstructing, CreatedAt: at})
	}
	return dst
}

// forgetLocked takes a destroyed resource out of p.all.
func (p *Pool[T]) forgetLocked(r *Resource[T]) {
	i := r.allIdx
	if i < 0 || i >= len(p.all) || p.all[i] != r {
		return // never listed: made after Close
	}
	last := len(p.all) - 1
	p.all[i] = p.all[last]
	p.all[i].allIdx = i
	p.all[last] = nil
	p.all = p.all[:last]
	r.allIdx = -1
}

// doneDialingLocked takes a construction asked for at requested out of
// p.dialing.
func (p *Pool[T]) doneDialingLocked(requested time.Time) {
	if i := slices.Index(p.dialing, requested); i >= 0 {
		last := len(p.dialing) - 1
		p.dialing[i] = p.dialing[last]
		p.dialing = p.dialing[:last]
	}
}
