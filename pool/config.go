package pool

import (
	"context"
	"fmt"
	"time"
)

// Config configures a Pool. Its zero value is not usable: Constructor is
// required and MaxSize must be at least 1. Every duration ≤ 0 means "off",
// except where the field says otherwise.
type Config[T any] struct {
	// Name identifies the pool in error messages. Empty means "pool".
	Name string

	// Constructor creates a resource. It is required. The pool calls it in a
	// goroutine of its own, with a context that carries the values of the
	// Acquire that asked for the resource but not its cancellation or
	// deadline, so a caller who gives up does not waste a half-made resource:
	// the next waiter gets it. That context ends when the pool closes or
	// ConstructTimeout passes.
	Constructor func(ctx context.Context) (T, error)

	// Permanent reports whether an error of the Constructor will not go
	// away by trying again: a wrong password, a missing database. The pool
	// then hands that error, as it is, to every Acquire waiting for a
	// resource, at once, instead of retrying with backoff until
	// AcquireTimeout; and it makes no resource on its own (MinSize, MinIdle,
	// retries) until an Acquire asks for one or a construction succeeds.
	// Nil means every error is transient.
	Permanent func(err error) bool

	// Destructor releases a resource. It is called once for every resource
	// Constructor made, never while the pool's lock is held. Nil means
	// nothing needs releasing.
	Destructor func(T)

	// Check reports whether an idle resource still works (a ping). The pool
	// calls it before handing out a resource that has been idle for at least
	// CheckIdleAfter, on idle resources during the health check (keepalive),
	// and on idle resources after SuspectIdle. A resource that fails it is
	// destroyed, and Acquire takes or makes another, so the caller never sees
	// the failure. An error wrapping ErrRetire means the resource works but
	// must not be handed out again: it is destroyed as ReasonRetired rather
	// than counted as a failed check. Nil means resources are never checked.
	Check func(ctx context.Context, value T) error

	// MaxSize is the hard cap on resources, idle, in use and being made.
	// It must be at least 1.
	MaxSize int

	// MinSize is how many resources the pool keeps open, idle or not, once
	// the health check has run. 0..MaxSize.
	MinSize int

	// MinIdle is how many idle resources the pool tries to keep ready,
	// within MaxSize. 0..MaxSize.
	MinIdle int

	// MaxLifetime is how long a resource may live. An expired resource is
	// destroyed when it is released or found idle, never while in use.
	MaxLifetime time.Duration

	// MaxLifetimeJitter adds a random 0..MaxLifetimeJitter to each
	// resource's lifetime, so resources made together do not expire together.
	MaxLifetimeJitter time.Duration

	// MaxIdleTime is how long a resource may sit idle before the health
	// check destroys it. The pool never shrinks below MinSize for this.
	MaxIdleTime time.Duration

	// HealthCheckPeriod is how often the background health check runs: it
	// destroys expired and idle-too-long resources, checks (keepalive)
	// resources idle for at least a period, and makes resources up to
	// MinSize and MinIdle. ≤ 0 means no background goroutine at all.
	HealthCheckPeriod time.Duration

	// AcquireTimeout bounds how long Acquire waits, in addition to its
	// context. Once the Constructor has failed without a success for longer
	// than AcquireTimeout, Acquire fails at once with ErrUnavailable
	// instead of queueing. ≤ 0 means only the context bounds the wait.
	AcquireTimeout time.Duration

	// CheckIdleAfter: a resource idle for at least this long is checked
	// before it is handed out. 0 means always; < 0 means never.
	CheckIdleAfter time.Duration

	// CheckTimeout bounds each call to Check.
	CheckTimeout time.Duration

	// ConstructTimeout bounds each call to Constructor.
	ConstructTimeout time.Duration

	// FIFO hands out the idle resource that was released first. The default
	// (false) hands out the most recently released one (LIFO), which keeps a
	// small working set warm and lets MaxIdleTime retire the rest.
	FIFO bool

	// Backoff is the first delay between failed constructions; it doubles up
	// to MaxBackoff. Zero values mean 25ms and 1s.
	Backoff, MaxBackoff time.Duration
}

func (c *Config[T]) validate() error {
	switch {
	case c.Constructor == nil:
		return fmt.Errorf("pool: Config.Constructor is required")
	case c.MaxSize < 1:
		return fmt.Errorf("pool: MaxSize must be >= 1, got %d", c.MaxSize)
	case c.MinSize < 0 || c.MinSize > c.MaxSize:
		return fmt.Errorf("pool: MinSize must be between 0 and MaxSize (%d), got %d", c.MaxSize, c.MinSize)
	case c.MinIdle < 0 || c.MinIdle > c.MaxSize:
		return fmt.Errorf("pool: MinIdle must be between 0 and MaxSize (%d), got %d", c.MaxSize, c.MinIdle)
	case c.MaxLifetimeJitter < 0:
		return fmt.Errorf("pool: MaxLifetimeJitter must be >= 0, got %v", c.MaxLifetimeJitter)
	case c.Backoff < 0 || c.MaxBackoff < 0:
		return fmt.Errorf("pool: Backoff and MaxBackoff must be >= 0")
	}
	return nil
}
