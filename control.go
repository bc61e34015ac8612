package sqlpool

import (
	"context"
	"database/sql"
	"fmt"
)

// Changing a running pool: Reset after a failover or a credential change,
// and the cap and the minimum at run time. database/sql's own knobs
// (SetMaxOpenConns and the rest) act on its logical connections, which
// the README tells users to leave alone; these act on the physical ones.

// Reset retires every physical connection of the pool and keeps the pool
// open, as pgxpool's Reset and HikariCP's softEvictConnections do: idle
// connections are closed now, connections in use are closed when the
// operation, transaction or sql.Conn that holds them is done, and dials in
// flight are closed when they land. Every operation that starts after Reset
// returns runs on a connection dialed after it. Call it after the
// credentials changed (with WithBeforeConnect), after a DNS switch or a
// planned failover: whatever the old connections reach is no longer what
// the application should use. It also ends the backoff of a pool whose
// dials were failing, so the next dial starts at once.
func (c *Connector) Reset() { c.ps.pool.Reset() }

// SetMaxConns changes pool_max_conns on the running pool, 1 to 100000.
// Raising it serves waiting operations at once, oldest first. Lowering it
// closes idle connections over the new cap now and connections in use over
// it when they are released; nothing is taken from its holder, and waiting
// operations keep their order. pool_min_conns and pool_min_idle_conns are
// lowered with it if they were above. A pool shared by several sql.DBs
// (pool_share, pool_name) changes for all of them.
func (c *Connector) SetMaxConns(n int) error {
	if n < 1 || n > maxPoolConns {
		return fmt.Errorf("sqlpool: SetMaxConns: pool_max_conns must be between 1 and %d, got %d", maxPoolConns, n)
	}
	return c.ps.pool.SetMaxSize(n)
}

// SetMinConns changes pool_min_conns on the running pool: the pool dials
// up to it now. It must not exceed pool_max_conns in force.
func (c *Connector) SetMinConns(n int) error {
	if max := c.ps.pool.Stat().MaxSize; n < 0 || n > max {
		return fmt.Errorf("sqlpool: SetMinConns: pool_min_conns must be between 0 and pool_max_conns (%d), got %d; raise pool_max_conns first with SetMaxConns", max, n)
	}
	return c.ps.pool.SetMinSize(n)
}

// Reset is Connector.Reset for the pool under db, which must be a sqlpool
// database. It takes a logical connection from db for a moment, which
// dials nothing.
func Reset(db *sql.DB) error {
	ps, err := dbPool(context.Background(), db, "Reset")
	if err != nil {
		return err
	}
	ps.pool.Reset()
	return nil
}

// SetMaxConns is Connector.SetMaxConns for the pool under db.
func SetMaxConns(db *sql.DB, n int) error {
	ps, err := dbPool(context.Background(), db, "SetMaxConns")
	if err != nil {
		return err
	}
	return (&Connector{ps: ps}).SetMaxConns(n)
}

// SetMinConns is Connector.SetMinConns for the pool under db.
func SetMinConns(db *sql.DB, n int) error {
	ps, err := dbPool(context.Background(), db, "SetMinConns")
	if err != nil {
		return err
	}
	return (&Connector{ps: ps}).SetMinConns(n)
}
