// Package sqlpool is a database/sql driver that wraps any other driver and
// runs its own pool of physical connections underneath database/sql: hard
// cap, warm minimum, idle timeout, lifetime with jitter, keepalive, pre-ping
// validation of idle connections, an acquire timeout and FIFO waiters.
//
// Switching to it is a change of driver name:
//
//	import (
//		_ "github.com/lib/pq"
//		_ "github.com/sqlpool/sqlpool"
//	)
//
//	db, err := sql.Open("sqlpool", "postgres:postgres://app@db/app?sslmode=disable&pool_max_conns=20")
//
// The DSN is the inner driver's name, a colon, and the inner driver's own DSN
// with pool_* parameters added (URL query form or keyword=value form); they
// are removed before the inner driver sees the DSN. Every sql.DB opened with
// the same DSN shares one pool, and the last DB.Close closes it.
//
// database/sql keeps its own free list of connections; sqlpool hands it cheap
// logical connections that borrow a physical connection from the pool on
// their first operation and give it back when database/sql takes them back.
// So every pool policy applies whatever database/sql's own settings are;
// leave SetMaxOpenConns unset and let pool_max_conns be the cap.
package sqlpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"slices"
	"strings"
	"sync"
)

// DriverName is the name sqlpool registers itself under with database/sql.
const DriverName = "sqlpool"

func init() {
	sql.Register(DriverName, &Driver{name: DriverName})
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Driver is the sqlpool database/sql driver. The one registered as "sqlpool"
// takes DSNs of the form "<inner driver>:<inner DSN>"; one registered with
// Register takes the inner driver's DSN as it is.
type Driver struct {
	name  string   // the name it is registered under
	inner string   // inner driver name; "" means it comes from the DSN
	opts  []Option // applied before the DSN's pool_* parameters
}

// Register registers a driver named name that wraps the database/sql driver
// registered as inner (which may be registered later: it is looked up when a
// DSN is opened). Its DSNs are the inner driver's own, with optional pool_*
// parameters, which override opts. Like sql.Register, it panics if name is
// already registered.
func Register(name, inner string, opts ...Option) {
	sql.Register(name, &Driver{name: name, inner: inner, opts: slices.Clone(opts)})
}

// Open returns a connection for dsn. database/sql calls OpenConnector instead;
// Open exists for code that calls drivers directly. The connection holds its
// own reference to the shared pool and drops it on Close.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	ctr := c.(*Connector)
	cn := ctr.newConn()
	cn.ownsConnector = true
	return cn, nil
}

// OpenConnector parses dsn, validates its pool settings and the inner
// driver's DSN, and returns a connector on the pool shared by every
// connector opened with the same driver name and DSN. It does not dial.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	key := d.name + "\x00" + dsn
	if c := d.sharedConnector(key); c != nil {
		return c, nil
	}
	// Build outside the registry's lock: opening the inner driver goes
	// through sql.Open, which may come back here.
	ps, err := d.newPoolState(dsn)
	if err != nil {
		return nil, err
	}
	registry.mu.Lock()
	if other := registry.pools[key]; other != nil {
		// Another Open of the same DSN won the race: share its pool.
		other.refs++
		registry.mu.Unlock()
		ps.close()
		return &Connector{ps: other, drv: d}, nil
	}
	ps.key, ps.refs = key, 1
	registry.pools[key] = ps
	registry.mu.Unlock()
	return &Connector{ps: ps, drv: d}, nil
}

// sharedConnector returns a connector on the open pool registered under key,
// or nil.
func (d *Driver) sharedConnector(key string) *Connector {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	ps := registry.pools[key]
	if ps == nil {
		return nil
	}
	ps.refs++
	return &Connector{ps: ps, drv: d}
}

func (d *Driver) newPoolState(dsn string) (*poolState, error) {
	innerName, innerDSN := d.inner, dsn
	if innerName == "" {
		var err error
		if innerName, innerDSN, err = splitDSN(dsn); err != nil {
			return nil, err
		}
	}
	cfg, cleanDSN, err := buildConfig(innerName, innerDSN, d.opts)
	if err != nil {
		return nil, err
	}
	inner, err := openInner(innerName, cleanDSN)
	if err != nil {
		return nil, err
	}
	return newPoolState(innerName, inner, cfg, dbtarget.Parse(innerName, cleanDSN), secretsIn(cleanDSN))
}

// buildConfig applies defaults, then opts, then the DSN's pool_* parameters,
// and validates the result.
func buildConfig(innerName, innerDSN string, opts []Option) (config, string, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	clean, params, err := extractPoolParams(innerDSN)
	if err != nil {
		return cfg, "", err
	}
	if err := cfg.applyParams(params); err != nil {
		return cfg, "", err
	}
	cfg.forDriver(innerName)
	if err := cfg.validate(); err != nil {
		return cfg, "", err
	}
	return cfg, clean, nil
}

// importHints names the import that registers well-known drivers.
var importHints = map[string]string{
	"postgres": "github.com/lib/pq",
	"pgx":      "github.com/jackc/pgx/v5/stdlib",
	"sqlite3":  "github.com/mattn/go-sqlite3",
	"sqlite":   "modernc.org/sqlite",
	"mysql":    "github.com/go-sql-driver/mysql",
	"sqlmock":  "github.com/DATA-DOG/go-sqlmock",
}

// openInner resolves the inner driver by name and returns its connector for
// dsn. Errors never contain the DSN's password.
func openInner(name, dsn string) (driver.Connector, error) {
	if !slices.Contains(sql.Drivers(), name) {
		hint := "import the package that registers it"
		if imp, ok := importHints[name]; ok {
			hint = fmt.Sprintf("add the import _ %q", imp)
		}
		return nil, fmt.Errorf("sqlpool: no database/sql driver named %q is registered; %s (registered: %s)",
			name, hint, strings.Join(slices.DeleteFunc(sql.Drivers(), func(n string) bool { return n == name }), ", "))
	}
	// database/sql has no lookup of a driver by name but sql.Open, which
	// neither dials nor starts more than one goroutine that Close stops.
	db, err := sql.Open(name, dsn)
	if err != nil {
		return nil, redactError(fmt.Errorf("sqlpool: the %s driver rejected its DSN: %w", name, err), secretsIn(dsn))
	}
	drv := db.Driver()
	db.Close()
	if _, ok := drv.(*Driver); ok {
		return nil, fmt.Errorf("sqlpool: the inner driver %q is sqlpool itself; name the driver sqlpool should wrap", name)
	}
	if dc, ok := drv.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, redactError(fmt.Errorf("sqlpool: the %s driver rejected its DSN: %w", name, err), secretsIn(dsn))
		}
		return c, nil
	}
	return dsnConnector{drv: drv, dsn: dsn}, nil
}

// dsnConnector is database/sql's own adapter for drivers without
// driver.DriverContext.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// registry holds the pools of connectors opened by DSN, so that every sql.DB
// opened with the same DSN shares one pool.
var registry = struct {
	mu    sync.Mutex
	pools map[string]*poolState // by driver name and DSN; guarded by mu
}{pools: map[string]*poolState{}}

// ErrAcquireTimeout is wrapped by the error an operation returns when no
// physical connection became available within pool_acquire_timeout. The
// message says how the pool looked: "3/3 in use, 12 waiting, waited 30s".
var ErrAcquireTimeout = poolErrAcquireTimeout

// ErrUnavailable is wrapped, together with the inner driver's last dial
// error, by the error an operation returns at once when the database has been
// unreachable for longer than pool_acquire_timeout.
var ErrUnavailable = poolErrUnavailable

// ErrPoolClosed is returned by operations on a pool that has been closed.
var ErrPoolClosed = poolErrClosed

// Unwrap returns the inner driver's connection behind a connection given to
// the callback of sql.Conn.Raw, binding a physical connection if the logical
// one holds none yet (bounded by pool_acquire_timeout). A value that is not a
// sqlpool connection is returned as is when it is a driver.Conn, so the same
// code works with and without sqlpool. The inner connection belongs to the
// sql.Conn: use it only inside the Raw callback.
//
//	err := sqlConn.Raw(func(dc any) error {
//		inner, err := sqlpool.Unwrap(dc)
//		if err != nil {
//			return err
//		}
//		pgxConn := inner.(*stdlib.Conn).Conn()
//		...
//	})
func Unwrap(driverConn any) (driver.Conn, error) {
	return UnwrapContext(context.Background(), driverConn)
}

// UnwrapContext is Unwrap with a context bounding the wait for a physical
// connection.
func UnwrapContext(ctx context.Context, driverConn any) (driver.Conn, error) {
	switch c := driverConn.(type) {
	case *conn:
		pc, err := c.bind(ctx)
		if err != nil {
			return nil, err
		}
		return pc.inner, nil
	case driver.Conn:
		return c, nil
	}
	return nil, errors.New("sqlpool: Unwrap: not a driver connection")
}
