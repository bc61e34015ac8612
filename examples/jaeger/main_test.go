package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/otlptest"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// runExample runs the example on dsn against a new receiver and checks
// that it succeeded and exported its traces.
func runExample(t *testing.T, dsn string) {
	t.Helper()
	c := otlptest.Start(t) // standing in for Jaeger
	c.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, dsn, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	want := "exported 6 operations; open http://localhost:16686 and search service sqlpool-example\n"
	if out.String() != want {
		t.Errorf("output: got %q, want %q", out.String(), want)
	}

	// run flushed before it returned: everything has been received.
	if traces, metrics := c.Requests(); traces < 1 || metrics < 1 {
		t.Errorf("got %d trace and %d metric exports, want at least 1 of each", traces, metrics)
	}
	spans := c.SpanNames()
	t.Logf("spans received: %q", spans)
	if !slices.Contains(spans, "checkout") {
		t.Errorf("spans received: %q, want checkout among them", spans)
	}
}

func TestRunExportsTracesOnSQLite(t *testing.T) {
	runExample(t, sqliteDSN(t.TempDir()))
}

func TestRunExportsTracesOnPostgres(t *testing.T) {
	u := testdb.PostgresURL(t)
	for _, driverName := range []string{"postgres", "pgx"} {
		t.Run(driverName, func(t *testing.T) {
			runExample(t, driverName+":"+u)
		})
	}
}

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct{ driver, want string }{
		{"sqlite3", "? ?"}, {"mysql", "? ?"}, {"postgres", "$1 $2"}, {"pgx", "$1 $2"},
	} {
		arg := placeholders(tc.driver)
		if got := strings.Join([]string{arg(1), arg(2)}, " "); got != tc.want {
			t.Errorf("placeholders(%q): got %q, want %q", tc.driver, got, tc.want)
		}
	}
}

// TestRunSucceedsAgainstACollectorOfTracesOnly: Jaeger's default
// configuration answers 404 to /v1/metrics; the spans went through, so the
// example succeeds; with OTEL_METRICS_EXPORTER=none it sends no metrics.
func TestRunSucceedsAgainstACollectorOfTracesOnly(t *testing.T) {
	for _, none := range []bool{false, true} {
		c := otlptest.StartTracesOnly(t)
		c.Env(t)
		if none {
			t.Setenv("OTEL_METRICS_EXPORTER", "none")
		}
		var out bytes.Buffer
		if err := run(context.Background(), sqliteDSN(t.TempDir()), &out); err != nil {
			t.Fatalf("run (OTEL_METRICS_EXPORTER=none: %v): %v", none, err)
		}
		if !strings.HasPrefix(out.String(), "exported 6 operations") {
			t.Errorf("output: %q, want the summary", out.String())
		}
		if spans := c.SpanNames(); !slices.Contains(spans, "checkout") {
			t.Errorf("spans received: %q, want checkout", spans)
		}
	}
}

// TestRunExportsThePoolGauges: the metrics are exported while the
// database is open, so sqlpool's pool gauges are among them.
func TestRunExportsThePoolGauges(t *testing.T) {
	c := otlptest.Start(t)
	c.Env(t)
	var out bytes.Buffer
	if err := run(context.Background(), sqliteDSN(t.TempDir()), &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db.client.connection.count", "db.client.connection.max", "db.client.operation.duration"} {
		if _, ok := c.LastMetrics()[name]; !ok {
			names := make([]string, 0)
			for n := range c.LastMetrics() {
				names = append(names, n)
			}
			t.Errorf("no %s among the metrics exported: %q", name, names)
		}
	}
}
