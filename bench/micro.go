package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sqlpool/sqlpool"
)

// Op is one query, run many times by a micro-benchmark. Each goroutine of a
// parallel run gets its own Op from a Micro's New.
type Op func() error

// A Micro is an in-process way of running SQLite's SELECT 1 (workloads 1
// and 6): the wrapper's own cost shows, since the query itself takes a few
// microseconds.
type Micro struct {
	Name string
	ID   string // the name in go test -bench output
	// New returns the operation and what to close when done.
	New func() (newOp func() (Op, error), closer func(), err error)
}

// SQLiteQuery is the query of the in-process workloads.
const SQLiteQuery = "SELECT 1"

// dbOp is SELECT 1 through db.
func dbOp(db *sql.DB) func() (Op, error) {
	return func() (Op, error) {
		return func() error {
			var n int
			return db.QueryRow(SQLiteQuery).Scan(&n)
		}, nil
	}
}

func dbMicro(id, name string, open func() (*sql.DB, error)) Micro {
	return Micro{ID: id, Name: name, New: func() (func() (Op, error), func(), error) {
		db, err := open()
		if err != nil {
			return nil, nil, err
		}
		db.SetMaxIdleConns(64)
		return dbOp(db), func() { db.Close() }, nil
	}}
}

// sqliteSQLPool opens sqlpool over in-memory SQLite with the pool
// parameters kv.
func sqliteSQLPool(opts []sqlpool.Option, kv ...string) func() (*sql.DB, error) {
	return func() (*sql.DB, error) {
		return SQLPool("sqlite3", MemDSN(), opts, append([]string{"pool_max_conns", "64"}, kv...)...)
	}
}

var memSeq atomic.Int64

// MemDSN returns the DSN of a new in-memory SQLite database, named and with
// a shared cache, which every peer uses alike: a private one (":memory:")
// lives in its connection, and sqlpool pins that connection, so a peer on
// it would measure no pool at all.
func MemDSN() string {
	return fmt.Sprintf("file:bench%d?mode=memory&cache=shared", memSeq.Add(1))
}

// Names of the in-process peers.
const (
	MicroDriverConn    = "driver.Conn"
	MicroRaw           = "database/sql"
	MicroSQLPoolOff    = "sqlpool, leak detection and tracing off"
	MicroSQLPoolLeak   = "sqlpool, leak detection on"
	MicroSQLPool       = "sqlpool, defaults"
	MicroOtelSQLNoop   = "otelsql, no-op providers"
	MicroSQLMW         = "sqlmw, no-op interceptor"
	MicroSDKSpan       = "SDK span alone"
	MicroSQLPoolSDK    = "sqlpool, SDK"
	MicroOtelSQLSDK    = "otelsql, SDK"
	MicroRuntimeCaller = "runtime.Callers"
)

// OverheadMicros are workload 1's peers: the raw driver.Conn call (the
// physical limit), raw database/sql, sqlpool three ways, otelsql with
// no-op providers and sqlmw with a no-op interceptor, all on go-sqlite3.
func OverheadMicros() []Micro {
	return []Micro{
		{ID: "driverconn", Name: MicroDriverConn, New: driverConnMicro},
		dbMicro("raw", MicroRaw, func() (*sql.DB, error) { return sql.Open("sqlite3", MemDSN()) }),
		dbMicro("sqlpool-off", MicroSQLPoolOff, sqliteSQLPool(nil, "pool_leak_threshold", "0", "pool_tracing", "false")),
		dbMicro("sqlpool-leak", MicroSQLPoolLeak, sqliteSQLPool(nil, "pool_tracing", "false")),
		dbMicro("sqlpool", MicroSQLPool, sqliteSQLPool(nil)),
		dbMicro("otelsql-noop", MicroOtelSQLNoop, func() (*sql.DB, error) {
			return OtelSQL("sqlite3", MemDSN(), tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider())
		}),
		dbMicro("sqlmw", MicroSQLMW, func() (*sql.DB, error) { return SQLMW("sqlite3", MemDSN()) }),
	}
}

// SDK is an OpenTelemetry SDK that samples every span into an exporter that
// discards them, and records metrics into a reader nobody collects.
type SDK struct {
	TP *sdktrace.TracerProvider
	MP *sdkmetric.MeterProvider
}

// NewSDK returns a fresh SDK; Shutdown it when done.
func NewSDK() *SDK {
	return &SDK{
		TP: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(tracetest.NewNoopExporter())),
		MP: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
	}
}

// Shutdown stops the SDK's providers.
func (s *SDK) Shutdown() {
	s.TP.Shutdown(context.Background())
	s.MP.Shutdown(context.Background())
}

// TracingMicros are workload 6's peers, all with sdk: raw database/sql
// untraced (the base), one SDK span with a query's attributes and nothing
// else (the physical limit), sqlpool (leak detection off, so that only
// tracing differs) and otelsql.
func TracingMicros(sdk *SDK) []Micro {
	return []Micro{
		dbMicro("raw", MicroRaw, func() (*sql.DB, error) { return sql.Open("sqlite3", MemDSN()) }),
		{ID: "sdk-span", Name: MicroSDKSpan, New: func() (func() (Op, error), func(), error) {
			return func() (Op, error) { return sdkSpanOp(sdk.TP.Tracer("bench")), nil }, func() {}, nil
		}},
		dbMicro("sqlpool-sdk", MicroSQLPoolSDK, sqliteSQLPool([]sqlpool.Option{sqlpool.WithTracerProvider(sdk.TP), sqlpool.WithMeterProvider(sdk.MP)}, "pool_leak_threshold", "0")),
		dbMicro("otelsql-sdk", MicroOtelSQLSDK, func() (*sql.DB, error) { return OtelSQL("sqlite3", MemDSN(), sdk.TP, sdk.MP) }),
	}
}

// sdkSpanOp starts and ends one client span with the attributes of a
// query's span: what any tracing wrapper must at least spend.
func sdkSpanOp(tr trace.Tracer) Op {
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", "sqlite"),
		attribute.String("db.query.text", SQLiteQuery),
	}
	ctx := context.Background()
	return func() error {
		_, sp := tr.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		sp.End()
		return nil
	}
}

// driverConnMicro runs SELECT 1 on a go-sqlite3 driver.Conn directly, each
// goroutine on its own connection.
func driverConnMicro() (func() (Op, error), func(), error) {
	var (
		mu    sync.Mutex
		conns []driver.Conn
	)
	newOp := func() (Op, error) {
		c, err := SQLiteConn()
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		q := c.(driver.QueryerContext)
		ctx := context.Background()
		dest := make([]driver.Value, 1)
		return func() error {
			rows, err := q.QueryContext(ctx, SQLiteQuery, nil)
			if err != nil {
				return err
			}
			if err := rows.Next(dest); err != nil {
				rows.Close()
				return err
			}
			if err := rows.Next(dest); !errors.Is(err, io.EOF) {
				rows.Close()
				return errors.New("more than one row")
			}
			return rows.Close()
		}, nil
	}
	closer := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	return newOp, closer, nil
}

// CallersOp is one runtime.Callers of 32 frames at a depth of about 20
// frames: leak detection's physical limit, the stack capture it would need
// without its frame-pointer walk.
func CallersOp() Op {
	pcs := make([]uintptr, 32)
	var deep func(n int) int
	deep = func(n int) int {
		if n == 0 {
			return runtime.Callers(2, pcs)
		}
		return deep(n-1) + 0
	}
	return func() error {
		deep(16)
		return nil
	}
}

// Measure runs op from goroutines goroutines (each with its own Op from
// newOp) for about d and returns nanoseconds per operation: per query for
// one goroutine, the inverse of throughput for more.
func Measure(newOp func() (Op, error), goroutines int, d time.Duration) (float64, error) {
	ops := make([]Op, goroutines)
	for i := range ops {
		var err error
		if ops[i], err = newOp(); err != nil {
			return 0, err
		}
		if err := ops[i](); err != nil { // warm: connections open, statements cached
			return 0, err
		}
	}
	var (
		stop  atomic.Bool
		total atomic.Int64
		first error
		once  sync.Once
		wg    sync.WaitGroup
	)
	start := time.Now()
	for _, op := range ops {
		wg.Go(func() {
			var n int64
			for !stop.Load() {
				// Check the flag every 64 operations: the loop's own cost
				// stays out of the figure.
				for range 64 {
					if err := op(); err != nil {
						once.Do(func() { first = err })
						stop.Store(true)
						return
					}
				}
				n += 64
			}
			total.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	el := time.Since(start)
	if first != nil {
		return 0, first
	}
	return float64(el.Nanoseconds()) / float64(total.Load()), nil
}
