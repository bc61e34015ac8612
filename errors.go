package sqlpool

import (
	"database/sql/driver"
	"fmt"

	"github.com/sqlpool/sqlpool/pool"
)

// The errors callers act on, checked with errors.Is.

// ErrAcquireTimeout is wrapped by the error an operation returns when no
// physical connection became available within pool_acquire_timeout. The
// message says how the pool looked: "3/3 in use, 12 waiting, waited 30s".
var ErrAcquireTimeout = pool.ErrAcquireTimeout

// ErrUnavailable is wrapped, together with the inner driver's last dial
// error, by the error an operation returns at once when the database has been
// unreachable for longer than pool_acquire_timeout.
var ErrUnavailable = pool.ErrUnavailable

// ErrPoolClosed is returned by operations on a pool that has been closed.
var ErrPoolClosed = pool.ErrClosed

// ErrReclaimed is returned by every use of a connection, transaction or rows
// whose physical connection was reclaimed by leak detection
// (pool_leak_reclaim=true): it had been held longer than
// pool_leak_threshold, and the pool closed it to free its slot. It wraps
// driver.ErrBadConn, so database/sql discards the logical connection too.
var ErrReclaimed = fmt.Errorf("sqlpool: this connection was held longer than pool_leak_threshold and reclaimed (see the leak report in the log); close it and take another: %w", driver.ErrBadConn)
