package sqlpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"github.com/sqlpool/sqlpool/internal/redact"
)

// This file holds the ways in: the driver database/sql knows (the one
// registered as "sqlpool", and those registered with Register), and
// NewConnector and Wrap for sql.OpenDB. Each turns a DSN or an inner
// connector into a pool: the DSN parsed (dsn.go, settings.go), the inner
// driver opened, and a pool made, or, when sharing is asked for, found in
// the registry (pools, in registry.go).

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
// driver's DSN, and returns a connector on a new pool, which the
// connector's Close (DB.Close) closes. With pool_share=true, or an explicit
// pool_name, connectors opened with the same driver name and DSN share one
// pool instead, closed with the last of them. It does not dial.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	spec, err := d.parse(dsn)
	if err != nil {
		return nil, err
	}
	key, identity := spec.shareKey(), d.name+"\x00"+dsn
	if key == "" {
		ps, err := spec.open()
		if err != nil {
			return nil, err
		}
		return &Connector{ps: ps, drv: d}, nil
	}
	for {
		if ps, err := pools.share(key, identity); ps != nil || err != nil {
			if err != nil {
				return nil, err
			}
			return &Connector{ps: ps, drv: d}, nil
		}
		// Build outside the registry's lock: opening the inner driver goes
		// through sql.Open, which may come back here.
		ps, err := spec.open()
		if err != nil {
			return nil, err
		}
		if ps.scoped {
			// A database that lives in its connection is never shared; an
			// explicit pool_name only names it (pool_share=true was refused).
			return &Connector{ps: ps, drv: d}, nil
		}
		if !pools.publish(key, identity, ps) {
			// Another Open of the same DSN won the race: share its pool.
			pools.closePool(ps)
			continue
		}
		return &Connector{ps: ps, drv: d}, nil
	}
}

// poolSpec is a parsed DSN: what a new pool is made of.
type poolSpec struct {
	dsn       string // as given to sql.Open
	innerName string
	clean     string // the inner DSN, pool_* parameters removed
	cfg       config
	drv       *Driver
}

// parse splits and checks dsn without opening anything.
func (d *Driver) parse(dsn string) (poolSpec, error) {
	innerName, innerDSN := d.inner, dsn
	if innerName == "" {
		var err error
		if innerName, innerDSN, err = splitDSN(dsn); err != nil {
			return poolSpec{}, err
		}
	}
	cfg, clean, err := buildConfig(innerDSN, d.opts)
	if err != nil {
		return poolSpec{}, err
	}
	return poolSpec{dsn: dsn, innerName: innerName, clean: clean, cfg: cfg, drv: d}, nil
}

// shareKey is the registry key of a pool to be shared: by pool_name if one
// is given, else by driver name and DSN with pool_share=true; "" for a pool
// of its own.
func (s *poolSpec) shareKey() string {
	switch {
	case s.cfg.name != "":
		return "name\x00" + s.cfg.name
	case s.cfg.share:
		return "dsn\x00" + s.drv.name + "\x00" + s.dsn
	}
	return ""
}

// open opens the inner driver and makes the pool.
func (s *poolSpec) open() (*poolState, error) {
	inner, drv, err := openInner(s.innerName, s.clean)
	if err != nil {
		return nil, err
	}
	k := kindOf(drv)
	s.cfg.forDriver(k)
	scoped := k.connScoped(s.clean)
	if scoped && s.cfg.share {
		return nil, fmt.Errorf("sqlpool: pool_share=true: this %s database lives in its connection and dies with it, so no two sql.DBs can share it; drop pool_share and pass one *sql.DB around", s.innerName)
	}
	if s.cfg.beforeConnect != nil {
		inner = &beforeConnector{hook: s.cfg.beforeConnect, dsn: s.clean, name: s.innerName, drv: drv, lastDSN: s.clean, last: inner}
	}
	return pools.openPool(poolOrigin{
		innerName: s.innerName,
		kind:      k,
		scoped:    scoped,
		target:    dbtarget.Parse(k.dsnDialect(s.innerName), s.clean),
		secrets:   redact.Secrets(s.clean),
	}, inner, s.cfg)
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
// dsn, and the driver. Errors never contain the DSN's password.
func openInner(name, dsn string) (driver.Connector, driver.Driver, error) {
	if !slices.Contains(sql.Drivers(), name) {
		hint := "import the package that registers it"
		if imp, ok := importHints[name]; ok {
			hint = fmt.Sprintf("add the import _ %q", imp)
		}
		return nil, nil, fmt.Errorf("sqlpool: no database/sql driver named %q is registered; %s (registered: %s)",
			name, hint, strings.Join(slices.DeleteFunc(sql.Drivers(), func(n string) bool { return n == name }), ", "))
	}
	// database/sql has no lookup of a driver by name but sql.Open, which
	// neither dials nor starts more than one goroutine that Close stops.
	db, err := sql.Open(name, dsn)
	if err != nil {
		return nil, nil, redact.Error(fmt.Errorf("sqlpool: the %s driver rejected its DSN: %w", name, err), redact.Secrets(dsn))
	}
	drv := db.Driver()
	db.Close()
	if _, ok := drv.(*Driver); ok {
		return nil, nil, fmt.Errorf("sqlpool: the inner driver %q is sqlpool itself; name the driver sqlpool should wrap", name)
	}
	if dc, ok := drv.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, nil, redact.Error(fmt.Errorf("sqlpool: the %s driver rejected its DSN: %w", name, err), redact.Secrets(dsn))
		}
		return c, drv, nil
	}
	return dsnConnector{drv: drv, dsn: dsn}, drv, nil
}

// dsnConnector is database/sql's own adapter for drivers without
// driver.DriverContext.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c dsnConnector) Driver() driver.Driver { return c.drv }

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
	if cfg.beforeConnect != nil {
		return nil, errors.New("sqlpool: WithBeforeConnect rewrites the DSN of a driver sqlpool opens by name, and a connector given to Wrap dials as it was configured; use the driver's own hook (pgx: stdlib.OptionBeforeConnect) or NewConnector with a DSN")
	}
	k := kindOf(inner.Driver())
	cfg.forDriver(k)
	name := fmt.Sprintf("%T", inner.Driver())
	ps, err := pools.openPool(poolOrigin{innerName: name, kind: k, target: dbtarget.Target{System: k.system()}}, inner, cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{ps: ps, drv: &Driver{name: DriverName}}, nil
}

// beforeConnector dials each connection with the DSN WithBeforeConnect
// returns for it, through the inner driver's connector for that DSN, which
// it keeps while the DSN stays the same (a token valid for minutes serves
// many dials).
type beforeConnector struct {
	hook func(ctx context.Context, innerDSN string) (string, error)
	dsn  string // the inner DSN the pool was opened with, which the hook is given
	name string // the inner driver's name, for errors
	drv  driver.Driver

	mu      sync.Mutex
	lastDSN string // the DSN last's connector dials
	last    driver.Connector
}

func (b *beforeConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dsn, err := b.hook(ctx, b.dsn)
	if err != nil {
		return nil, &beforeConnectError{redact.Error(err, redact.Secrets(b.dsn))}
	}
	c, err := b.connector(dsn)
	if err != nil {
		return nil, err
	}
	ic, err := c.Connect(ctx)
	if err != nil {
		// The driver may quote the DSN, and its password is the hook's.
		return ic, redact.Error(err, redact.Secrets(dsn))
	}
	return ic, nil
}

func (b *beforeConnector) Driver() driver.Driver { return b.drv }

// connector returns the inner driver's connector for dsn.
func (b *beforeConnector) connector(dsn string) (driver.Connector, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if dsn == b.lastDSN {
		return b.last, nil
	}
	var c driver.Connector = dsnConnector{drv: b.drv, dsn: dsn}
	if dc, ok := b.drv.(driver.DriverContext); ok {
		var err error
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, &beforeConnectError{redact.Error(fmt.Errorf("the %s driver rejected the DSN it returned: %w", b.name, err), redact.Secrets(dsn))}
		}
	}
	b.lastDSN, b.last = dsn, c
	return c, nil
}

// beforeConnectError is a dial's error that came from WithBeforeConnect's
// function, or from the DSN it returned.
type beforeConnectError struct{ err error }

func (e *beforeConnectError) Error() string { return "sqlpool: WithBeforeConnect: " + e.err.Error() }
func (e *beforeConnectError) Unwrap() error { return e.err }
