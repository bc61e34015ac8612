package sqlpool

import (
	"context"
	"database/sql/driver"
	"io"
	"sync"
)

// The Connector, database/sql's driver.Connector: it hands out logical
// connections (conn.go) on one pool (poolstate.go).

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

// Connector is a driver.Connector on a sqlpool pool, for sql.OpenDB. Close it
// (DB.Close does) to drop its share of the pool.
type Connector struct {
	ps        *poolState
	drv       driver.Driver
	closeOnce sync.Once
}

// Connect returns a logical connection. It does not dial: the connection
// borrows a physical one from the pool on its first operation.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	sc := c.newConn()
	sc.lk.handedOut() // database/sql hands a new connection out without ResetSession
	return sc, nil
}

func (c *Connector) newConn() *conn {
	return &conn{ps: c.ps, ctr: c,
		lk:  connLeak{d: c.ps.leaks, guarded: c.ps.leaks != nil && c.ps.cfg.leakReclaim},
		tel: connTel{t: c.ps.tel},
	}
}

// Driver returns the sqlpool driver.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Close drops this connector's share of its pool; the last share closes the
// pool, closing idle physical connections at once and the others when they
// are released. It is idempotent and does not wait for connections in use.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		ps := c.ps
		if ps.key == "" {
			pools.closePool(ps)
			return
		}
		if pools.release(ps) {
			pools.closePool(ps)
		}
	})
	return nil
}
