package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
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

// NewConnector returns a connector on a new pool for dsn, which has the same
// form as for sql.Open("sqlpool", dsn). Options apply before the DSN's pool_*
// parameters. Use it with sql.OpenDB; DB.Close closes the pool.
func NewConnector(dsn string, opts ...Option) (*Connector, error) {
	d := &Driver{name: DriverName, opts: opts}
	spec, err := d.parse(dsn)
	if err != nil {
		return nil, err
	}
	spec.cfg.share = false // a pool of its own, always
	ps, err := spec.open()
	if err != nil {
		return nil, err
	}
	return &Connector{ps: ps, drv: d}, nil
}

// Wrap returns a connector on a new pool of connections made by inner, for
// drivers configured in code (pgx's stdlib.GetConnector, mysql.NewConnector).
// Use it with sql.OpenDB; DB.Close closes the pool.
func Wrap(inner driver.Connector, opts ...Option) (*Connector, error) {
	if inner == nil {
		return nil, errors.New("sqlpool: Wrap needs an inner connector")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := kindOf(inner.Driver())
	cfg.forDriver(k)
	name := fmt.Sprintf("%T", inner.Driver())
	ps, err := newPoolState(poolOrigin{innerName: name, kind: k, target: dbtarget.Target{System: k.system()}}, inner, cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{ps: ps, drv: &Driver{name: DriverName}}, nil
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
			ps.close()
			return
		}
		if pools.release(ps) {
			ps.close()
		}
	})
	return nil
}
