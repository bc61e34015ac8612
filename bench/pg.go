package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/lib/pq"              // the "postgres" driver
	_ "github.com/mattn/go-sqlite3"    // the "sqlite3" driver
)

// A PGPeer is a way of reaching PostgreSQL with at most conns connections.
// Driver is the driver whose raw database/sql configuration it is compared
// with ("pq" or "pgx").
type PGPeer struct {
	Name   string
	Driver string
	Open   func(ctx context.Context, url string, conns int) (*Target, error)
}

// Peer names for PostgreSQL.
const (
	PeerRaw         = "database/sql"
	PeerSQLPool     = "sqlpool, defaults"
	PeerSQLPoolOff  = "sqlpool, leak detection and tracing off"
	PeerOtelSQL     = "otelsql, no-op providers"
	PeerSQLMW       = "sqlmw, no-op interceptor"
	PeerPGXPoolSQL  = "database/sql over pgxpool (stdlib.OpenDBFromPool)"
	PeerPGXPool     = "pgxpool"
	PeerPGXConnOnly = "pgx.Conn per goroutine, no pool"
)

var appSeq atomic.Int64

// withApp adds a fresh application_name to a PostgreSQL URL, by which the
// suite finds the server sessions of one peer.
func withApp(u string) (string, string) {
	app := fmt.Sprintf("sqlpool-bench-%d", appSeq.Add(1))
	pu, err := url.Parse(u)
	if err != nil {
		return u, app
	}
	q := pu.Query()
	q.Set("application_name", app)
	pu.RawQuery = q.Encode()
	return pu.String(), app
}

// RawPeer is database/sql on drv with SetMaxOpenConns(conns) and as many
// idle connections: the way an application pools without sqlpool.
func RawPeer(drv string) PGPeer {
	return PGPeer{Name: PeerRaw, Driver: drv, Open: func(_ context.Context, u string, conns int) (*Target, error) {
		db, err := sql.Open(DriverName(drv), u)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		return DBTarget(db), nil
	}}
}

// SQLPoolPeer is sqlpool over drv with pool_max_conns=conns and the pool
// parameters kv, SetMaxOpenConns left unset as the README advises (so that
// waiters queue in sqlpool's FIFO) and enough idle logical connections.
func SQLPoolPeer(name, drv string, kv ...string) PGPeer {
	return PGPeer{Name: name, Driver: drv, Open: func(_ context.Context, u string, conns int) (*Target, error) {
		db, err := SQLPool(DriverName(drv), u, nil, append([]string{"pool_max_conns", Itoa(conns)}, kv...)...)
		if err != nil {
			return nil, err
		}
		db.SetMaxIdleConns(1024)
		return DBTarget(db), nil
	}}
}

// wrapperPeer is a database/sql wrapper driver over drv, pooled the way
// RawPeer is.
func wrapperPeer(name, drv string, open func(inner, dsn string) (*sql.DB, error)) PGPeer {
	return PGPeer{Name: name, Driver: drv, Open: func(_ context.Context, u string, conns int) (*Target, error) {
		db, err := open(DriverName(drv), u)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		return DBTarget(db), nil
	}}
}

// PGXPoolSQLPeer is pgx's own answer: database/sql over a pgxpool.Pool.
func PGXPoolSQLPeer() PGPeer {
	return PGPeer{Name: PeerPGXPoolSQL, Driver: "pgx", Open: func(ctx context.Context, u string, conns int) (*Target, error) {
		p, err := PGXPool(ctx, u, conns)
		if err != nil {
			return nil, err
		}
		db := stdlib.OpenDBFromPool(p)
		t := DBTarget(db)
		t.Close = func() { db.Close(); p.Close() }
		return t, nil
	}}
}

// PGXPoolPeer is pgxpool used directly, without database/sql.
func PGXPoolPeer() PGPeer {
	return PGPeer{Name: PeerPGXPool, Driver: "pgx", Open: PGXPoolTarget}
}

// ThroughputPeers are workload 2's peers, raw database/sql first for each
// driver.
func ThroughputPeers() []PGPeer {
	var peers []PGPeer
	for _, drv := range []string{"pq", "pgx"} {
		peers = append(peers,
			RawPeer(drv),
			SQLPoolPeer(PeerSQLPool, drv),
			SQLPoolPeer(PeerSQLPoolOff, drv, "pool_leak_threshold", "0", "pool_tracing", "false"),
			wrapperPeer(PeerOtelSQL, drv, func(inner, dsn string) (*sql.DB, error) {
				return OtelSQL(inner, dsn, tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider())
			}),
			wrapperPeer(PeerSQLMW, drv, SQLMW),
		)
	}
	return append(peers, PGXPoolSQLPeer(), PGXPoolPeer())
}

// Admin is a connection for the suite's own questions to the server.
type Admin struct{ db *sql.DB }

// OpenAdmin connects to the server of url.
func OpenAdmin(ctx context.Context, u string) (*Admin, error) {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: %w", redact(u), err)
	}
	return &Admin{db: db}, nil
}

// Close closes the admin connection.
func (a *Admin) Close() { a.db.Close() }

// Version is the server's version string.
func (a *Admin) Version(ctx context.Context) string {
	var v string
	a.db.QueryRowContext(ctx, "SHOW server_version").Scan(&v)
	return v
}

// Backends is the number of server sessions of application app.
func (a *Admin) Backends(ctx context.Context, app string) (int, error) {
	var n int
	err := a.db.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
	return n, err
}

// Terminate ends every server session of application app, as an operator
// or a failover would, and returns how many there were.
func (a *Admin) Terminate(ctx context.Context, app string) (int, error) {
	var n int
	err := a.db.QueryRowContext(ctx,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
	return n, err
}

// Sessions is pg_stat_database.sessions of the current database: the
// number of sessions that ended there since the statistics were reset.
func (a *Admin) Sessions(ctx context.Context) (int64, error) {
	var n int64
	err := a.db.QueryRowContext(ctx,
		"SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	return n, err
}

// SessionsOf returns how many server sessions application app opened in
// total, once all of them have ended: the growth of Sessions from before,
// read when app has no backend left and the count has settled (a backend
// writes its session statistics as it exits).
func (a *Admin) SessionsOf(ctx context.Context, app string, before int64) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := a.Backends(ctx, app)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d sessions of %s still open after 30s", n, app)
		}
		time.Sleep(10 * time.Millisecond)
	}
	last, stable := int64(-1), 0
	for stable < 3 && time.Now().Before(deadline) {
		n, err := a.Sessions(ctx)
		if err != nil {
			return 0, err
		}
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last - before, nil
}

// redact hides a URL's password.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return pu.Redacted()
}
