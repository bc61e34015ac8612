// Command jaeger runs a few database operations through sqlpool and exports
// their OpenTelemetry traces and metrics to Jaeger (or any OTLP/HTTP
// collector). See README.md beside this file:
//
//	docker compose -f examples/jaeger/docker-compose.yml up -d
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/jaeger [--dsn DSN]
//
// then open http://localhost:16686 and search the service sqlpool-example.
//
// The program has no sqlpool-specific tracing code: sqlpool takes its tracer
// and meter from OpenTelemetry's global providers, so installing SDK
// providers globally is all it takes. setupOTel, in otel.go, does that with
// the OpenTelemetry SDK and its OTLP/HTTP exporters alone: copy it into your
// program. What the program adds is a parent span, "checkout", whose context
// it passes to each database call, so that sqlpool's spans for those calls
// appear as its children in one trace.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/lib/pq"              // the "postgres" driver
	_ "github.com/mattn/go-sqlite3"    // the "sqlite3" driver

	"github.com/sqlpool/sqlpool" // registers the "sqlpool" driver
)

// serviceName is the service.name the traces and metrics carry: the name to
// search for in Jaeger.
const serviceName = "sqlpool-example"

// table is the table the example creates (if missing) and writes to.
const table = "sqlpool_example_orders"

func main() {
	dsn := flag.String("dsn", "", "sqlpool DSN, `<driver>:<inner DSN>` with optional pool_* parameters, e.g.\n'postgres:postgres://postgres@127.0.0.1:5432/test?sslmode=disable'\n(default: an SQLite file in a temporary directory)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "jaeger example: takes no arguments, got %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if err := mainErr(*dsn); err != nil {
		fmt.Fprintln(os.Stderr, "jaeger example:", err)
		os.Exit(1)
	}
}

// mainErr runs the example on dsn, or on a new SQLite file if dsn is empty.
// Unlike main, it returns, so its deferred clean-up runs.
func mainErr(dsn string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dsn == "" {
		dir, err := os.MkdirTemp("", "sqlpool-jaeger-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dsn = sqliteDSN(dir)
	}
	return run(ctx, dsn, os.Stdout)
}

// sqliteDSN is the example's default sqlpool DSN: an SQLite file in dir.
func sqliteDSN(dir string) string {
	return "sqlite3:file:" + filepath.Join(dir, "example.db") + "?_busy_timeout=5000"
}

// run installs the OpenTelemetry SDK, runs the example's database
// operations on the sqlpool DSN dsn, flushes the telemetry, and reports to
// out.
func run(ctx context.Context, dsn string, out io.Writer) error {
	// 1. Install the SDK's tracer and meter providers as the global ones
	// (otel.go). The OTLP/HTTP exporters read OTEL_EXPORTER_OTLP_ENDPOINT
	// themselves (default http://localhost:4318, Jaeger's OTLP/HTTP port).
	otelSDK, err := setupOTel(ctx, serviceName)
	if err != nil {
		return err
	}

	// 2. Work with the database through sqlpool, as any program would.
	ops, err := work(ctx, dsn, otelSDK)

	// 3. Flush: the batching span processor still holds spans, and the
	// meter provider exports its last metrics when it shuts down. Do it even
	// after an error or an interrupt (the spans show what failed), within a
	// bounded time. Metrics the collector refused are worth a warning, not
	// a failure: Jaeger's default configuration takes traces only.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	tracesErr, metricsErr := otelSDK.shutdown(flushCtx)
	if tracesErr != nil {
		err = errors.Join(err, fmt.Errorf("exporting spans to %s: %w", endpoint(), tracesErr))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "exported %d operations; open http://localhost:16686 and search service %s\n", ops, serviceName)
	if metricsErr != nil {
		fmt.Fprintf(os.Stderr, "jaeger example: metrics not exported to %s (%v); for a collector that takes traces only, set OTEL_METRICS_EXPORTER=none\n", endpoint(), metricsErr)
	}
	return nil
}

// work opens dsn through sqlpool and runs a checkout on it. It returns how
// many database operations it ran. It exports the metrics while the
// database is open, so that its pool gauges are in them, and closes the
// database before it returns.
func work(ctx context.Context, dsn string, otelSDK *sdk) (ops int, err error) {
	driverName, _, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		return 0, err
	}
	db, err := sql.Open(sqlpool.DriverName, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()

	ops, err = checkout(ctx, db, placeholders(driverName))
	// A failed export is reported by shutdown, which exports again.
	otelSDK.flushMetrics(context.WithoutCancel(ctx))
	return ops, err
}

// checkout runs an order's statements under the parent span "checkout". Each
// call gets the span's context (ctx below), which is how sqlpool knows to make
// its spans children of "checkout". It returns how many operations it ran.
func checkout(ctx context.Context, db *sql.DB, arg func(n int) string) (ops int, err error) {
	tracer := otel.Tracer("github.com/sqlpool/sqlpool/examples/jaeger")
	orderID := "order-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// The order's id is a statement argument: like sqlpool, which never
	// puts arguments on spans, the example keeps it out of the trace.
	ctx, span := tracer.Start(ctx, "checkout")
	defer func() { endSpan(span, err) }()

	// The table, if it is not there yet. As the first statement on a new
	// pool, it is also where sqlpool dials its first connection: the
	// connect span is in this trace too. The statements below reuse the
	// pooled connection.
	ops++
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+
		` (order_id TEXT NOT NULL, item TEXT NOT NULL, qty INTEGER NOT NULL)`); err != nil {
		return ops, fmt.Errorf("creating the table: %w", err)
	}

	// An INSERT with arguments.
	ops++
	if _, err := db.ExecContext(ctx,
		`INSERT INTO `+table+` (order_id, item, qty) VALUES (`+arg(1)+`, `+arg(2)+`, `+arg(3)+`)`,
		orderID, "coffee", 2); err != nil {
		return ops, fmt.Errorf("inserting the order: %w", err)
	}

	// A SELECT: iterate the rows, then close them, which gives the
	// connection back to the pool.
	ops++
	rows, err := db.QueryContext(ctx, `SELECT item, qty FROM `+table+` WHERE order_id = `+arg(1), orderID)
	if err != nil {
		return ops, fmt.Errorf("reading the order: %w", err)
	}
	items := 0
	for rows.Next() {
		var (
			item string
			qty  int
		)
		if err := rows.Scan(&item, &qty); err != nil {
			rows.Close()
			return ops, err
		}
		items++
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return ops, fmt.Errorf("reading the order: %w", err)
	}
	span.SetAttributes(attribute.Int("order.items", items))

	// A transaction: BEGIN, an UPDATE in it, COMMIT.
	ops++
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return ops, fmt.Errorf("beginning the transaction: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	ops++
	if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET qty = qty + 1 WHERE order_id = `+arg(1), orderID); err != nil {
		return ops, fmt.Errorf("updating the order: %w", err)
	}
	ops++
	if err := tx.Commit(); err != nil {
		return ops, fmt.Errorf("committing: %w", err)
	}
	return ops, nil
}

// endSpan ends span, marking it failed if err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// placeholders returns the inner driver's n-th query placeholder: $n for
// PostgreSQL's drivers, ? for the others (SQLite, MySQL).
func placeholders(driverName string) func(n int) string {
	switch driverName {
	case "postgres", "pgx", "pgx/v5":
		return func(n int) string { return "$" + strconv.Itoa(n) }
	}
	return func(int) string { return "?" }
}
