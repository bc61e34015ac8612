package sqlpool_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sqlpool/sqlpool"
)

// What OpenTelemetry costs sqlpool per operation, on SQLite's SELECT 1 with
// leak detection off (pool_leak_threshold=0), so that only the telemetry
// differs:
//
//   - off: pool_tracing=false;
//   - global-default: no providers given and OpenTelemetry's global
//     providers untouched (no test in this package sets them), which record
//     nothing;
//   - noop: the API's no-op providers, given as options;
//   - sdk: an SDK tracer provider sampling every span into a batcher whose
//     exporter discards them, and an SDK meter provider whose reader is
//     never collected.
//
// Compare with
//
//	go test -run '^$' -bench 'TracingSQLiteSelect1' -count 10 . | tee new.txt
//	benchstat -col /otel new.txt
var benchTracingModes = []string{"off", "global-default", "noop", "sdk"}

func benchTracingDBs(b *testing.B) map[string]*sql.DB {
	b.Helper()
	dir := b.TempDir()
	open := func(name, params string, opts ...sqlpool.Option) *sql.DB {
		ctr, err := sqlpool.NewConnector("sqlite3:file:"+filepath.Join(dir, name+".db")+"?pool_max_conns=64&pool_leak_threshold=0"+params, opts...)
		if err != nil {
			b.Fatal(err)
		}
		db := sql.OpenDB(ctr)
		b.Cleanup(func() { db.Close() })
		return db
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	return map[string]*sql.DB{
		"off":            open("off", "&pool_tracing=false"),
		"global-default": open("global", ""),
		"noop":           open("noop", "", sqlpool.WithTracerProvider(tracenoop.NewTracerProvider()), sqlpool.WithMeterProvider(metricnoop.NewMeterProvider())),
		"sdk":            open("sdk", "", sqlpool.WithTracerProvider(tp), sqlpool.WithMeterProvider(mp)),
	}
}

func BenchmarkTracingSQLiteSelect1(b *testing.B) {
	dbs := benchTracingDBs(b)
	for _, mode := range benchTracingModes {
		db := dbs[mode]
		b.Run("otel="+mode, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
