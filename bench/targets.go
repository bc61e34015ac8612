// Package bench compares sqlpool with what people would use instead: raw
// database/sql on the same driver, pgxpool, XSAM/otelsql and ngrok/sqlmw. It
// is a module of its own so that none of these peers ever enters sqlpool's
// dependencies.
//
// The workloads are in this package; cmd/benchsuite runs them all and writes
// docs/benchmarks.md, and the _test.go files expose the in-process ones to
// go test -bench and benchstat.
package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/XSAM/otelsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"
	"github.com/ngrok/sqlmw"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sqlpool/sqlpool"
)

// DefaultPostgres is the PostgreSQL database the suite uses unless
// SQLPOOL_BENCH_POSTGRES (or SQLPOOL_TEST_POSTGRES, the tests' variable) names
// another, as a URL that both lib/pq and pgx accept.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the URL of the PostgreSQL database to measure.
func PostgresURL() string {
	for _, k := range []string{"SQLPOOL_BENCH_POSTGRES", "SQLPOOL_TEST_POSTGRES"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return DefaultPostgres
}

// A Target runs queries: a *sql.DB of some configuration, pgxpool used
// directly, or bare pgx connections.
type Target struct {
	Worker func(i int) QueryFunc // the function goroutine i queries with
	Close  func()
	DB     *sql.DB // nil for targets that are not database/sql
}

// DBTarget makes db a Target.
func DBTarget(db *sql.DB) *Target {
	return &Target{
		Worker: Shared(func(ctx context.Context, query string) (int64, error) {
			var n int64
			err := db.QueryRowContext(ctx, query).Scan(&n)
			return n, err
		}),
		Close: func() { db.Close() },
		DB:    db,
	}
}

// PGXPoolTarget is pgxpool itself, with at most conns connections.
func PGXPoolTarget(ctx context.Context, url string, conns int) (*Target, error) {
	p, err := PGXPool(ctx, url, conns)
	if err != nil {
		return nil, err
	}
	return &Target{
		Worker: Shared(func(ctx context.Context, query string) (int64, error) {
			var n int64
			err := p.QueryRow(ctx, query).Scan(&n)
			return n, err
		}),
		Close: p.Close,
	}, nil
}

// PGXPool returns a pgxpool.Pool of exactly conns connections at most, with
// pgx's default statement cache (as database/sql over pgx stdlib has it).
func PGXPool(ctx context.Context, url string, conns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(conns)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Postgres drivers by the names the suite gives them, and the name each is
// registered under in database/sql.
var pgDrivers = map[string]string{"pq": "postgres", "pgx": "pgx"}

// DriverName returns database/sql's name for the PostgreSQL driver drv
// ("pq" or "pgx").
func DriverName(drv string) string {
	if n, ok := pgDrivers[drv]; ok {
		return n
	}
	return drv
}

// SQLPoolDSN turns an inner DSN into sqlpool's form for driver name inner,
// adding pool parameters (given as key, value pairs) in URL query form, the
// form every DSN in this suite has.
func SQLPoolDSN(inner, dsn string, kv ...string) string {
	s := inner + ":" + dsn
	for i := 0; i+1 < len(kv); i += 2 {
		sep := "&"
		if !strings.Contains(s, "?") {
			sep = "?"
		}
		s += sep + kv[i] + "=" + kv[i+1]
	}
	return s
}

// SQLPool opens sqlpool over inner's dsn with the pool parameters kv and
// the Go options opts.
func SQLPool(inner, dsn string, opts []sqlpool.Option, kv ...string) (*sql.DB, error) {
	ctr, err := sqlpool.NewConnector(SQLPoolDSN(inner, dsn, kv...), opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(ctr), nil
}

// Itoa is strconv.Itoa, for pool parameters.
func Itoa(n int) string { return strconv.Itoa(n) }

// Registered wrapping drivers: sqlmw with a no-op interceptor around each
// inner driver.
var registerOnce sync.Once

func register() {
	registerOnce.Do(func() {
		sql.Register("sqlmw-sqlite3", sqlmw.Driver(&sqlite3.SQLiteDriver{}, sqlmw.NullInterceptor{}))
		sql.Register("sqlmw-postgres", sqlmw.Driver(&pq.Driver{}, sqlmw.NullInterceptor{}))
		sql.Register("sqlmw-pgx", sqlmw.Driver(stdlib.GetDefaultDriver(), sqlmw.NullInterceptor{}))
	})
}

// SQLMW opens inner's dsn through ngrok/sqlmw with an interceptor that does
// nothing: the cost of the middleware itself.
func SQLMW(inner, dsn string) (*sql.DB, error) {
	register()
	return sql.Open("sqlmw-"+inner, dsn)
}

// OtelSQL opens inner's dsn through XSAM/otelsql with the given providers.
func OtelSQL(inner, dsn string, tp trace.TracerProvider, mp metric.MeterProvider) (*sql.DB, error) {
	return otelsql.Open(inner, dsn, otelsql.WithTracerProvider(tp), otelsql.WithMeterProvider(mp))
}

// PGXConnsTarget is n connections of pgx alone, no pool and no
// database/sql, goroutine i using connection i: the physical limit of a
// round trip. Use it with at most n goroutines.
func PGXConnsTarget(ctx context.Context, url string, n int) (*Target, error) {
	conns := make([]*pgx.Conn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}
	for range n {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			closeAll()
			return nil, err
		}
		conns = append(conns, c)
	}
	return &Target{
		Worker: func(i int) QueryFunc {
			c := conns[i%n]
			return func(ctx context.Context, query string) (int64, error) {
				var v int64
				err := c.QueryRow(ctx, query).Scan(&v)
				return v, err
			}
		},
		Close: closeAll,
	}, nil
}

// SQLiteConn returns a go-sqlite3 driver.Conn on an in-memory database: the
// physical limit of workload 1, a query without database/sql.
func SQLiteConn() (driver.Conn, error) {
	return (&sqlite3.SQLiteDriver{}).Open(MemDSN())
}
