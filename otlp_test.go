package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/otlptest"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// The distinctive strings the telemetry must never carry: a password in the
// DSN, argument values bound to statements, and literals of statements
// without arguments (which db.query.text shows sanitized).
const (
	secretPassword = "Zq9-SECRET-pw"
	secretArg      = "ARG-Vx7"
	secretLiteral  = "LIT-Kq4"
)

// otlpRig is an SDK tracer provider and meter provider exporting over
// OTLP/HTTP to an otlptest.Collector. Nothing is exported before flush.
type otlpRig struct {
	c  *otlptest.Collector
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider
}

func newOTLPRig(t *testing.T) *otlpRig {
	t.Helper()
	ctx := context.Background()
	c := otlptest.Start(t)
	// Spans go gzipped, metrics plain: the collector reads both.
	te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.URL+"/v1/traces"), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	me, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(c.URL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpRig{
		c:  c,
		tp: sdktrace.NewTracerProvider(sdktrace.WithBatcher(te), sdktrace.WithSampler(sdktrace.AlwaysSample())),
		// Exported only by ForceFlush (and Shutdown).
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour)))),
	}
	// Registered after the server's Close, so run before it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.tp.Shutdown(ctx)
		r.mp.Shutdown(ctx)
	})
	return r
}

func (r *otlpRig) open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	ctr, err := sqlpool.NewConnector(dsn, sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() { db.Close() })
	return db
}

// flush exports every ended span and a collection of the metrics, and
// returns once the collector has them.
func (r *otlpRig) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flushing spans: %v", err)
	}
	if err := r.mp.ForceFlush(ctx); err != nil {
		t.Fatalf("flushing metrics: %v", err)
	}
}

// assertNoSecrets fails the test if anything the collector received shows
// one of the secrets, and says where.
func assertNoSecrets(t *testing.T, c *otlptest.Collector, secrets ...string) {
	t.Helper()
	all := c.Dump(t)
	// What is looked in must be there: spans' attributes, metrics.
	for _, want := range []string{`"db.system.name"`, `"db.client.connection.count"`} {
		if !strings.Contains(all, want) {
			t.Fatalf("the collector received no %s: %.300q", want, all)
		}
	}
	for _, s := range secrets {
		if !strings.Contains(all, s) {
			continue
		}
		t.Errorf("the telemetry shows %q", s)
		for _, line := range leaks(c, s) {
			t.Errorf("  %s", line)
		}
	}
}

// assertErrorStatus fails the test unless a span arrived with an error
// status whose message contains want: the server's error, which quoted a
// value, made it into the telemetry, with the value hidden.
func assertErrorStatus(t *testing.T, c *otlptest.Collector, want string) {
	t.Helper()
	var msgs []string
	for _, s := range c.Spans() {
		if s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			if m := s.GetStatus().GetMessage(); strings.Contains(m, want) {
				return
			}
			msgs = append(msgs, s.GetStatus().GetMessage())
		}
	}
	t.Errorf("no span with an error status mentioning %q; error statuses: %q", want, msgs)
}

// leaks names the places in the received spans and metrics that contain s.
func leaks(c *otlptest.Collector, s string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(line string) {
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	attrs := func(where string, kvs []*commonpb.KeyValue) {
		for _, kv := range kvs {
			if v := fmt.Sprint(kv.GetValue()); strings.Contains(v, s) || strings.Contains(kv.GetKey(), s) {
				add(fmt.Sprintf("%s attribute %s = %s", where, kv.GetKey(), v))
			}
		}
	}
	for _, req := range c.Traces() {
		for _, rs := range req.GetResourceSpans() {
			attrs("resource", rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					where := "span " + sp.GetName()
					if strings.Contains(sp.GetName(), s) {
						add(where + ": name")
					}
					attrs(where, sp.GetAttributes())
					if m := sp.GetStatus().GetMessage(); strings.Contains(m, s) {
						add(fmt.Sprintf("%s status message %q", where, m))
					}
					for _, ev := range sp.GetEvents() {
						if strings.Contains(ev.GetName(), s) {
							add(fmt.Sprintf("%s event name %q", where, ev.GetName()))
						}
						attrs(where+" event "+ev.GetName(), ev.GetAttributes())
					}
					for _, l := range sp.GetLinks() {
						attrs(where+" link", l.GetAttributes())
					}
				}
			}
		}
	}
	for _, req := range c.Metrics() {
		for _, rm := range req.GetResourceMetrics() {
			attrs("resource", rm.GetResource().GetAttributes())
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if strings.Contains(m.GetName(), s) || strings.Contains(m.GetDescription(), s) {
						add("metric " + m.GetName() + ": name or description")
					}
					for _, p := range metricAttrs(m) {
						attrs("metric "+m.GetName(), p)
					}
				}
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "(outside span and metric attributes, names and status messages: see the protojson)")
	}
	return out
}

// metricAttrs returns the attributes of each of m's data points.
func metricAttrs(m *metricpb.Metric) [][]*commonpb.KeyValue {
	var out [][]*commonpb.KeyValue
	for _, p := range m.GetSum().GetDataPoints() {
		out = append(out, p.GetAttributes())
	}
	for _, p := range m.GetGauge().GetDataPoints() {
		out = append(out, p.GetAttributes())
	}
	for _, p := range m.GetHistogram().GetDataPoints() {
		out = append(out, p.GetAttributes())
	}
	for _, p := range m.GetExponentialHistogram().GetDataPoints() {
		out = append(out, p.GetAttributes())
	}
	return out
}

func otlpAttrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

// postgresURLWithPassword returns the test PostgreSQL URL with
// secretPassword as the password (the server trusts the test user, so any
// password works).
func postgresURLWithPassword(t *testing.T) string {
	t.Helper()
	u := testdb.PostgresURL(t)
	if !strings.Contains(u, "://postgres@") {
		t.Skipf("the PostgreSQL URL %q is not of the form postgres://postgres@…: cannot embed a password", u)
	}
	return strings.Replace(u, "postgres@", "postgres:"+secretPassword+"@", 1)
}

// runSecretWorkload runs operations whose arguments (and the literals of
// the statements without arguments) carry secretArg or secretLiteral, under
// a parent span, and returns the parent's context. ph numbers the
// placeholders: ph(1) is $1 or ?. badArg is a statement with one argument
// that fails with its value in the server's error message, if the database
// has such an error.
func runSecretWorkload(t *testing.T, r *otlpRig, db *sql.DB, ph func(int) string, badArg string) {
	t.Helper()
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	defer parent.End()

	var s string
	if _, err := db.ExecContext(ctx, "SELECT "+ph(1), secretArg+"-secret"); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT "+ph(1), secretArg+"-row").Scan(&s); err != nil || s != secretArg+"-row" {
		t.Fatalf("got %q, %v", s, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT "+ph(1)+" UNION ALL SELECT "+ph(2), secretArg+"-a", secretArg+"-b")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := rows.Close(); err != nil || n != 2 {
		t.Fatalf("read %d rows, %v", n, err)
	}
	if badArg != "" {
		if _, err := db.ExecContext(ctx, badArg, secretArg+"-notanint"); err == nil {
			t.Fatalf("%s succeeded", badArg)
		} else if !strings.Contains(err.Error(), secretArg) {
			t.Logf("note: the server's error does not quote the argument: %v", err)
		}
	}
	// Literals of statements without arguments, in the text and in an error.
	if err := db.QueryRowContext(ctx, "SELECT '"+secretLiteral+"-text'").Scan(&s); err != nil {
		t.Fatal(err)
	}
	stmt, err := db.PrepareContext(ctx, "SELECT "+ph(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := stmt.QueryRowContext(ctx, secretArg+"-stmt").Scan(&s); err != nil {
		t.Fatal(err)
	}
	stmt.Close()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT "+ph(1), secretArg+"-tx"); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT "+ph(1), secretArg+"-txrow").Scan(&s); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT "+ph(1), secretArg+"-rolledback"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

func dollar(i int) string { return fmt.Sprintf("$%d::text", i) }
func question(int) string { return "?" }

func TestTracingExportsOverOTLP(t *testing.T) {
	dsn := "postgres:" + postgresURLWithPassword(t)
	r := newOTLPRig(t)
	db := r.open(t, dsn)

	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	if _, err := db.ExecContext(ctx, "SELECT $1::text", secretArg+"-secret"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SELECT x FROM generate_series(1, 3) AS x")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := rows.Close(); err != nil || n != 3 {
		t.Fatalf("read %d rows, %v", n, err)
	}
	_, err = db.ExecContext(ctx, "SELECT $1::int", secretArg+"-notanint")
	if err == nil || !strings.Contains(err.Error(), secretArg+"-notanint") {
		t.Fatalf("SELECT $1::int of a word: %v; want an error quoting the argument", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT $1::text", secretArg+"-tx"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	r.flush(t)

	// Spans.
	pid := parent.SpanContext().SpanID()
	tid := parent.SpanContext().TraceID()
	byName := map[string][]*tracepb.Span{}
	ids := map[[8]byte]bool{}
	for _, s := range r.c.Spans() {
		byName[s.GetName()] = append(byName[s.GetName()], s)
		ids[[8]byte(s.GetSpanId())] = true
	}
	if got := byName["SELECT test"]; len(got) != 4 {
		t.Errorf("got %d SELECT test spans, want 4 (exec, query, failed exec, exec in the transaction)", len(got))
	}
	for _, name := range []string{"SELECT test", "BEGIN test", "COMMIT test", "CONNECT test"} {
		spans := byName[name]
		if len(spans) == 0 {
			t.Errorf("no %q span arrived; got %v", name, keys(byName))
			continue
		}
		parentOK := false
		for _, s := range spans {
			if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("%s: kind %v, want SPAN_KIND_CLIENT", name, s.GetKind())
			}
			if [16]byte(s.GetTraceId()) != [16]byte(tid) {
				t.Errorf("%s: trace %x, want the parent's %s", name, s.GetTraceId(), tid)
			}
			switch {
			case name != "CONNECT test" && [8]byte(s.GetParentSpanId()) != [8]byte(pid):
				t.Errorf("%s: parent span %x, want %s", name, s.GetParentSpanId(), pid)
			case name == "CONNECT test" && len(s.GetParentSpanId()) == 8 && ids[[8]byte(s.GetParentSpanId())]:
				// A dial is the child of the operation that needed it.
				parentOK = true
			}
			a := otlpAttrs(s.GetAttributes())
			if got := a["db.system.name"].GetStringValue(); got != "postgresql" {
				t.Errorf("%s: db.system.name = %q, want postgresql", name, got)
			}
			if got := a["db.namespace"].GetStringValue(); got != "test" {
				t.Errorf("%s: db.namespace = %q, want test", name, got)
			}
			if got := a["server.address"].GetStringValue(); got == "" {
				t.Errorf("%s: no server.address", name)
			}
			if p, ok := a["server.port"].GetValue().(*commonpb.AnyValue_IntValue); !ok || p.IntValue <= 0 {
				t.Errorf("%s: server.port = %v, want an int", name, a["server.port"])
			}
		}
		if name == "CONNECT test" && !parentOK {
			t.Errorf("no CONNECT span is the child of one of the operations' spans")
		}
	}
	var failed *tracepb.Span
	for _, s := range byName["SELECT test"] {
		if s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			failed = s
		}
	}
	if failed == nil {
		t.Error("the failed SELECT's span has no error status")
	} else if got := otlpAttrs(failed.GetAttributes())["error.type"].GetStringValue(); got != "22P02" {
		t.Errorf("failed SELECT: error.type = %q, want the SQLSTATE 22P02; status %q", got, failed.GetStatus().GetMessage())
	}

	// Metrics.
	ms := r.c.LastMetrics()
	sum := func(name string, monotonic bool) *metricpb.Sum {
		m := ms[name]
		if m == nil {
			t.Errorf("no metric %s arrived; got %v", name, keys(ms))
			return nil
		}
		s := m.GetSum()
		if s == nil {
			t.Errorf("%s is a %T, want a Sum", name, m.GetData())
			return nil
		}
		if s.GetIsMonotonic() != monotonic {
			t.Errorf("%s: monotonic = %v, want %v", name, s.GetIsMonotonic(), monotonic)
		}
		if len(s.GetDataPoints()) == 0 {
			t.Errorf("%s has no data points", name)
		}
		return s
	}
	if s := sum("db.client.connection.count", false); s != nil {
		states := map[string]bool{}
		for _, p := range s.GetDataPoints() {
			a := otlpAttrs(p.GetAttributes())
			states[a["db.client.connection.state"].GetStringValue()] = true
			if a["db.client.connection.pool.name"].GetStringValue() == "" {
				t.Errorf("db.client.connection.count data point without db.client.connection.pool.name: %v", p.GetAttributes())
			}
		}
		if !states["idle"] || !states["used"] || len(states) != 2 {
			t.Errorf("db.client.connection.count states %v, want idle and used", keys(states))
		}
	}
	for _, name := range []string{"db.client.connection.max", "db.client.connection.pending_requests", "db.client.connection.idle.max", "db.client.connection.idle.min"} {
		sum(name, false)
	}
	sum("db.client.connection.timeouts", true)
	for _, name := range []string{"db.client.operation.duration", "db.client.connection.wait_time", "db.client.connection.use_time", "db.client.connection.create_time"} {
		m := ms[name]
		if m == nil {
			t.Errorf("no metric %s arrived; got %v", name, keys(ms))
			continue
		}
		if m.GetHistogram() == nil {
			t.Errorf("%s is a %T, want a Histogram", name, m.GetData())
		} else if len(m.GetHistogram().GetDataPoints()) == 0 {
			t.Errorf("%s has no data points", name)
		}
		if m.GetUnit() != "s" {
			t.Errorf("%s: unit %q, want s", name, m.GetUnit())
		}
	}

	assertErrorStatus(t, r.c, "invalid input syntax")
	assertNoSecrets(t, r.c, secretPassword, secretArg)
}

// TestTelemetryNeverShowsPasswordsOrArguments exports everything sqlpool
// records over OTLP and looks for the password of the DSN and the values of
// the arguments in all of it: attributes, events, status messages, metric
// attributes, resource.
func TestTelemetryNeverShowsPasswordsOrArguments(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		r := newOTLPRig(t)
		db := r.open(t, "postgres:"+postgresURLWithPassword(t))
		runSecretWorkload(t, r, db, dollar, "SELECT $1::int")
		// A literal in the error of a statement without arguments.
		if _, err := db.Exec("SELECT '" + secretLiteral + "-notanint'::int"); err == nil {
			t.Fatal("casting a word to int succeeded")
		}
		r.flush(t)
		assertErrorStatus(t, r.c, "invalid input syntax")
		assertNoSecrets(t, r.c, secretPassword, secretArg, secretLiteral)
	})
	t.Run("pgx", func(t *testing.T) {
		r := newOTLPRig(t)
		db := r.open(t, "pgx:"+postgresURLWithPassword(t))
		runSecretWorkload(t, r, db, dollar, "SELECT $1::int")
		r.flush(t)
		assertErrorStatus(t, r.c, "invalid input syntax")
		assertNoSecrets(t, r.c, secretPassword, secretArg, secretLiteral)
	})
	t.Run("postgres-dial-fails", func(t *testing.T) {
		// A server that is not there: the CONNECT span's error must not
		// quote the DSN.
		u := postgresURLWithPassword(t)
		at := strings.Index(u, "@")
		slash := strings.Index(u[at:], "/")
		if at < 0 || slash < 0 {
			t.Fatalf("cannot find the host in %q", u)
		}
		u = u[:at+1] + "127.0.0.1:1" + u[at+slash:]
		r := newOTLPRig(t)
		db := r.open(t, "postgres:"+testdb.WithParams(u, "connect_timeout", "2", "pool_acquire_timeout", "2s"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := db.PingContext(ctx)
		if err == nil {
			t.Fatal("ping of port 1 succeeded")
		}
		if strings.Contains(err.Error(), secretPassword) {
			t.Errorf("the dial error shows the password: %v", err)
		}
		r.flush(t)
		connects := 0
		for _, s := range r.c.Spans() {
			if strings.HasPrefix(s.GetName(), "CONNECT") {
				connects++
			}
		}
		if connects == 0 {
			t.Error("no CONNECT span for the failed dial")
		}
		assertErrorStatus(t, r.c, "refused")
		assertNoSecrets(t, r.c, secretPassword)
	})
	t.Run("mysql", func(t *testing.T) {
		// root has no password: only the arguments are looked for.
		r := newOTLPRig(t)
		db := r.open(t, "mysql:"+testdb.MySQLDSN(t))
		// The error of a duplicate key quotes the value.
		table := fmt.Sprintf("sqlpool_secret_%d", os.Getpid())
		if _, err := db.Exec("CREATE TABLE " + table + " (k VARCHAR(64) PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Exec("DROP TABLE " + table) })
		if _, err := db.Exec("INSERT INTO "+table+" VALUES (?)", secretArg+"-dup"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Exec("INSERT INTO "+table+" VALUES (?)", secretArg+"-dup")
		if err == nil || !strings.Contains(err.Error(), secretArg+"-dup") {
			t.Fatalf("duplicate insert: %v; want an error quoting the value", err)
		}
		runSecretWorkload(t, r, db, question, "")
		r.flush(t)
		assertErrorStatus(t, r.c, "Duplicate entry")
		assertNoSecrets(t, r.c, secretArg, secretLiteral)
	})
	t.Run("sqlite3", func(t *testing.T) {
		r := newOTLPRig(t)
		db := r.open(t, "sqlite3:file:"+filepath.Join(t.TempDir(), "secret.db"))
		runSecretWorkload(t, r, db, question, "")
		r.flush(t)
		assertNoSecrets(t, r.c, secretArg, secretLiteral)
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
