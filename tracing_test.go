package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// otelRig is an SDK tracer provider recording every span in memory and a
// meter provider read by hand.
type otelRig struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newOtelRig(t *testing.T) *otelRig {
	r := &otelRig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		r.tp.Shutdown(context.Background())
		r.mp.Shutdown(context.Background())
	})
	return r
}

func (r *otelRig) open(t *testing.T, dsn string, opts ...sqlpool.Option) *sql.DB {
	t.Helper()
	ctr, err := sqlpool.NewConnector(dsn, append([]sqlpool.Option{sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() { db.Close() })
	return db
}

// ended returns the ended spans whose name starts with prefix.
func (r *otelRig) ended(prefix string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if strings.HasPrefix(s.Name(), prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (r *otelRig) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

type tracingBackend struct {
	name, dsn          string
	system, namespace  string
	address            string
	port               int64
	placeholder        string
	badTable, errState string
}

func tracingBackends(t *testing.T) []tracingBackend {
	pg := testdb.PostgresURL(t)
	sqlite := filepath.Join(t.TempDir(), "trace.db")
	return []tracingBackend{
		{name: "postgres", dsn: "postgres:" + pg, system: "postgresql", namespace: "test", address: "127.0.0.1", port: 5432, placeholder: "$1::int", errState: "42P01"},
		{name: "pgx", dsn: "pgx:" + pg, system: "postgresql", namespace: "test", address: "127.0.0.1", port: 5432, placeholder: "$1::int", errState: "42P01"},
		{name: "sqlite3", dsn: "sqlite3:file:" + sqlite, system: "sqlite", placeholder: "?"},
	}
}

func TestTracingSpansFollowTheDatabaseConventions(t *testing.T) {
	for _, b := range tracingBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			rig := newOtelRig(t)
			db := rig.open(t, b.dsn)
			ctx, parent := rig.tp.Tracer("test").Start(context.Background(), "parent")

			if _, err := db.ExecContext(ctx, "SELECT "+b.placeholder+" AS n", 7); err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryContext(ctx, "SELECT 'hunter2' AS s UNION ALL SELECT 'b' UNION ALL SELECT 'c'")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
				// database/sql closes the rows after the last one.
				if open := rig.ended("SELECT"); len(open) != 1 {
					t.Errorf("the query's span ended before its rows were closed: %d SELECT spans ended", len(open))
				}
			}
			rows.Close()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := db.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			_, err = db.ExecContext(ctx, "SELECT * FROM no_such_table_here")
			if err == nil {
				t.Fatal("query of a missing table succeeded")
			}
			parent.End()

			selects := rig.ended("SELECT")
			if len(selects) != 3 {
				t.Fatalf("got %d SELECT spans, want 3 (exec, query, failed exec)", len(selects))
			}
			for _, s := range append(selects, append(rig.ended("BEGIN"), append(rig.ended("COMMIT"), rig.ended("PING")...)...)...) {
				if s.SpanKind() != trace.SpanKindClient {
					t.Errorf("%s: kind %v, want client", s.Name(), s.SpanKind())
				}
				if s.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("%s: parent %v, want the caller's span", s.Name(), s.Parent().SpanID())
				}
				a := attrsOf(s)
				if got := a["db.system.name"].AsString(); got != b.system {
					t.Errorf("%s: db.system.name = %q, want %q", s.Name(), got, b.system)
				}
				if b.namespace != "" {
					if want := strings.Fields(s.Name())[0] + " " + b.namespace; s.Name() != want {
						t.Errorf("span name %q, want %q", s.Name(), want)
					}
					if got := a["db.namespace"].AsString(); got != b.namespace {
						t.Errorf("%s: db.namespace = %q, want %q", s.Name(), got, b.namespace)
					}
				}
				if b.address != "" && (a["server.address"].AsString() != b.address || a["server.port"].AsInt64() != b.port) {
					t.Errorf("%s: server %v:%v, want %s:%d", s.Name(), a["server.address"], a["server.port"], b.address, b.port)
				}
			}
			exec, query, failed := attrsOf(selects[0]), attrsOf(selects[1]), selects[2]
			if got, want := exec["db.query.text"].AsString(), "SELECT "+b.placeholder+" AS n"; got != want {
				t.Errorf("parameterized db.query.text = %q, want it as is, %q", got, want)
			}
			if got, want := query["db.query.text"].AsString(), "SELECT ? AS s UNION ALL SELECT ? UNION ALL SELECT ?"; got != want {
				t.Errorf("db.query.text without arguments = %q, want its literals hidden: %q", got, want)
			}
			if got := query["db.response.returned_rows"].AsInt64(); got != 3 || n != 3 {
				t.Errorf("db.response.returned_rows = %d, want 3", got)
			}
			if got := exec["db.operation.name"].AsString(); got != "SELECT" {
				t.Errorf("db.operation.name = %q, want SELECT", got)
			}
			if failed.Status().Code != codes.Error || attrsOf(failed)["error.type"].AsString() == "" {
				t.Errorf("failed query: status %v, error.type %v", failed.Status(), attrsOf(failed)["error.type"])
			}
			if b.errState != "" && attrsOf(failed)["error.type"].AsString() != b.errState {
				t.Errorf("error.type = %v, want the SQLSTATE %s", attrsOf(failed)["error.type"], b.errState)
			}
			if _, ok := exec["sqlpool.connection.wait_time"]; !ok {
				t.Errorf("the first operation's span does not say how long it waited for a connection: %v", exec)
			}
			connects := rig.ended("CONNECT")
			if len(connects) == 0 {
				t.Fatal("no CONNECT span for the physical connection dialed")
			}
			if connects[0].Parent().SpanID() != selects[0].SpanContext().SpanID() {
				t.Errorf("the CONNECT span's parent is not the operation that needed the connection")
			}
		})
	}
}

// go-sql-driver/mysql answers Exec and Query with arguments by
// driver.ErrSkip; database/sql then prepares, executes and closes a
// statement. That is one operation: one span, without error.
func TestTracingErrSkipMakesOneSpan(t *testing.T) {
	rig := newOtelRig(t)
	db := rig.open(t, "mysql:"+testdb.MySQLDSN(t))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "SELECT ? + 1", 41); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := db.QueryRowContext(ctx, "SELECT ? + 1", 41).Scan(&got); err != nil || got != 42 {
		t.Fatalf("got %d, %v", got, err)
	}
	var names []string
	for _, s := range rig.spans.Ended() {
		if s.Name() != "CONNECT test" {
			names = append(names, s.Name())
		}
		if s.Status().Code == codes.Error {
			t.Errorf("span %s has an error status: %v", s.Name(), s.Status())
		}
	}
	if !slices.Equal(names, []string{"SELECT test", "SELECT test"}) {
		t.Errorf("spans %q, want one SELECT span per operation", names)
	}
	if s := rig.ended("SELECT"); len(s) > 1 {
		if got := attrsOf(s[1])["db.response.returned_rows"].AsInt64(); got != 1 {
			t.Errorf("returned_rows = %d, want 1", got)
		}
		if got := attrsOf(s[0])["db.system.name"].AsString(); got != "mariadb" && got != "mysql" {
			t.Errorf("db.system.name = %q", got)
		}
	}
}

func TestTracingOffRecordsNothing(t *testing.T) {
	rig := newOtelRig(t)
	db := rig.open(t, "sqlite3:file:"+filepath.Join(t.TempDir(), "off.db")+"?pool_tracing=false")
	if _, err := db.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := len(rig.spans.Ended()); n != 0 {
		t.Errorf("%d spans with pool_tracing=false", n)
	}
	if m := rig.metrics(t); len(m) != 0 {
		t.Errorf("metrics with pool_tracing=false: %v", m)
	}
}

func TestTracingSQLCommenterAppendsTraceparent(t *testing.T) {
	rig := newOtelRig(t)
	app := testdb.AppName(t)
	db := rig.open(t, "postgres:"+testdb.WithParams(testdb.PostgresURL(t), "application_name", app, "pool_sqlcommenter", "true", "pool_max_conns", "1"))
	ctx, parent := rig.tp.Tracer("test").Start(context.Background(), "parent")
	defer parent.End()
	var got string
	if err := db.QueryRowContext(ctx, "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	span := rig.ended("SELECT")[0]
	want := fmt.Sprintf("/*traceparent='00-%s-%s-01'*/", span.SpanContext().TraceID(), span.SpanContext().SpanID())
	if !strings.HasSuffix(got, want) {
		t.Errorf("the server saw %q, want it to end in %q", got, want)
	}
	// A statement with a comment of its own is left alone.
	if err := db.QueryRowContext(ctx, "SELECT query /* mine */ FROM pg_stat_activity WHERE pid = pg_backend_pid()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "traceparent") {
		t.Errorf("a commented statement got a traceparent: %q", got)
	}
}

// The pool metrics are the semantic conventions' db.client.connection.*
// instruments, exactly: name, unit, kind and attributes.
func TestTracingPoolMetrics(t *testing.T) {
	rig := newOtelRig(t)
	db := rig.open(t, "postgres:"+testdb.WithParams(testdb.PostgresURL(t), "pool_max_conns", "1", "pool_min_idle_conns", "1", "pool_name", "metrics-test"))
	ctx := context.Background()

	// Hold the only connection while another query waits for it.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "SELECT 1")
		done <- err
	}()
	testdb.WaitFor(t, "a waiter", func() bool { return stat(t, db).Waiting == 1 })
	m := rig.metrics(t)
	usedState := attribute.String("db.client.connection.state", "used")
	if got := gaugeValue(t, m, "db.client.connection.pending_requests", nil); got != 1 {
		t.Errorf("pending_requests = %d while one query waits, want 1", got)
	}
	if got := gaugeValue(t, m, "db.client.connection.count", &usedState); got != 1 {
		t.Errorf("count{state=used} = %d, want 1", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m = rig.metrics(t)

	want := []struct {
		name, unit string
		kind       string // "updown", "counter", "histogram"
	}{
		{"db.client.connection.count", "{connection}", "updown"},
		{"db.client.connection.idle.max", "{connection}", "updown"},
		{"db.client.connection.idle.min", "{connection}", "updown"},
		{"db.client.connection.max", "{connection}", "updown"},
		{"db.client.connection.pending_requests", "{request}", "updown"},
		{"db.client.connection.timeouts", "{timeout}", "counter"},
		{"db.client.connection.create_time", "s", "histogram"},
		{"db.client.connection.wait_time", "s", "histogram"},
		{"db.client.connection.use_time", "s", "histogram"},
		{"db.client.operation.duration", "s", "histogram"},
		{"sqlpool.connection.leaks", "{connection}", "counter"},
		{"sqlpool.connection.preping_failures", "{connection}", "counter"},
		{"sqlpool.connection.destroyed", "{connection}", "counter"},
	}
	for _, w := range want {
		got, ok := m[w.name]
		if !ok {
			t.Errorf("no metric %s", w.name)
			continue
		}
		if got.Unit != w.unit {
			t.Errorf("%s: unit %q, want %q", w.name, got.Unit, w.unit)
		}
		var attrs []attribute.Set
		switch d := got.Data.(type) {
		case metricdata.Sum[int64]:
			if kind := map[bool]string{true: "counter", false: "updown"}[d.IsMonotonic]; kind != w.kind {
				t.Errorf("%s: a %s, want a %s", w.name, kind, w.kind)
			}
			for _, p := range d.DataPoints {
				attrs = append(attrs, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			if w.kind != "histogram" {
				t.Errorf("%s: a histogram, want a %s", w.name, w.kind)
			}
			var n uint64
			for _, p := range d.DataPoints {
				attrs = append(attrs, p.Attributes)
				n += p.Count
			}
			if n == 0 {
				t.Errorf("%s: no measurement", w.name)
			}
		default:
			t.Errorf("%s: data %T", w.name, got.Data)
		}
		for _, a := range attrs {
			if w.name == "db.client.operation.duration" {
				if v, _ := a.Value("db.system.name"); v.AsString() != "postgresql" {
					t.Errorf("%s: attributes %v lack db.system.name", w.name, a.ToSlice())
				}
				continue
			}
			if v, _ := a.Value("db.client.connection.pool.name"); v.AsString() != "metrics-test" {
				t.Errorf("%s: attributes %v, want db.client.connection.pool.name=metrics-test", w.name, a.ToSlice())
			}
		}
	}
	if got := gaugeValue(t, m, "db.client.connection.max", nil); got != 1 {
		t.Errorf("max = %d, want 1", got)
	}
	if got := gaugeValue(t, m, "db.client.connection.idle.min", nil); got != 1 {
		t.Errorf("idle.min = %d, want 1", got)
	}
	var waited float64
	for _, p := range m["db.client.connection.wait_time"].Data.(metricdata.Histogram[float64]).DataPoints {
		if v, ok := p.Max.Value(); ok {
			waited = max(waited, v)
		}
	}
	if waited <= 0 {
		t.Error("wait_time recorded no wait for the query that waited")
	}
}

// gaugeValue returns the sum of the data points of the Sum metric name that
// carry attr (all of them if attr is nil).
func gaugeValue(t *testing.T, m map[string]metricdata.Metrics, name string, attr *attribute.KeyValue) int64 {
	t.Helper()
	sum, ok := m[name].Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: %T, want a Sum", name, m[name].Data)
	}
	var n int64
	for _, p := range sum.DataPoints {
		if attr == nil || p.Attributes.HasValue(attr.Key) && func() bool { v, _ := p.Attributes.Value(attr.Key); return v == attr.Value }() {
			n += p.Value
		}
	}
	return n
}

func TestTracingSettingsInTheDSN(t *testing.T) {
	for _, c := range []struct{ dsn, err string }{
		{"sqlite3::memory:?pool_tracing=false&pool_trace_query_text=off&pool_sqlcommenter=true", ""},
		{"sqlite3::memory:?pool_trace_query_text=sanitized", ""},
		{"sqlite3::memory:?pool_trace_query_text=raw", `sqlpool: pool_trace_query_text: "raw" is not auto, sanitized or off`},
		{"sqlite3::memory:?pool_trace_query_text=", "sqlpool: pool_trace_query_text has no value; write pool_trace_query_text=auto, pool_trace_query_text=sanitized or pool_trace_query_text=off"},
		{"sqlite3::memory:?pool_tracing=no", `sqlpool: pool_tracing: "no" is not true or false`},
	} {
		_, err := sqlpool.NewConnector(c.dsn)
		if got := fmt.Sprint(err); (c.err == "" && err != nil) || (c.err != "" && got != c.err) {
			t.Errorf("%s: got %v, want %q", c.dsn, err, c.err)
		}
	}
}

// With pool_trace_query_text=sanitized even parameterized text has its
// literals hidden; with off there is no text.
func TestTracingQueryTextSettings(t *testing.T) {
	for _, c := range []struct{ setting, want string }{{"sanitized", "SELECT ? + ?"}, {"off", ""}} {
		rig := newOtelRig(t)
		db := rig.open(t, "sqlite3:file:"+filepath.Join(t.TempDir(), "q.db")+"?pool_trace_query_text="+c.setting)
		if _, err := db.Exec("SELECT 1 + ?", 2); err != nil {
			t.Fatal(err)
		}
		s := rig.ended("SELECT")
		if len(s) != 1 {
			t.Fatalf("%s: %d SELECT spans", c.setting, len(s))
		}
		if got := attrsOf(s[0])["db.query.text"].AsString(); got != c.want {
			t.Errorf("pool_trace_query_text=%s: db.query.text = %q, want %q", c.setting, got, c.want)
		}
	}
}

// TestTracingSeesGlobalProvidersSetAfterOpen checks that a pool using the
// global providers starts recording as soon as the application installs
// them, even after sql.Open: sqlpool reads the globals once per operation.
// The globals cannot be put back once set, so the check runs in a child
// process of this test binary.
func TestTracingSeesGlobalProvidersSetAfterOpen(t *testing.T) {
	if os.Getenv("SQLPOOL_TEST_GLOBAL_OTEL") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTracingSeesGlobalProvidersSetAfterOpen$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SQLPOOL_TEST_GLOBAL_OTEL=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	rig := newOtelRig(t)
	ctr, err := sqlpool.NewConnector("sqlite3:file:" + filepath.Join(t.TempDir(), "global.db") + "?pool_leak_threshold=0")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	if _, err := db.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	otel.SetTracerProvider(rig.tp)
	otel.SetMeterProvider(rig.mp)
	if _, err := db.Exec("SELECT 2"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT 3").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rig.spans.Ended() {
		names = append(names, s.Name())
	}
	if len(names) != 2 {
		t.Errorf("spans after the globals were set: %q, want the two statements run since", names)
	}
	m := rig.metrics(t)
	for _, name := range []string{"db.client.operation.duration", "db.client.connection.use_time"} {
		if _, ok := m[name]; !ok {
			t.Errorf("no %s recorded after the global meter provider was set", name)
		}
	}
}
