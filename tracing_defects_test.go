package sqlpool_test

// What a real Jaeger showed wrong in sqlpool's telemetry (issue 18), each
// held here against the SDK's in-memory recorder; e2e/jaeger_test.go checks
// the same in Jaeger itself.

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// TestTracingErrorStatusKeepsTheCauseAndErrorTypeIsStable: a statement that
// fails because the pool cannot connect keeps the whole cause in its span
// status (the pool's name with its #, the address, the SQLSTATE), with
// error.type the SQLSTATE; one that times out waiting has error.type
// sqlpool.acquire_timeout, not a Go type.
func TestTracingErrorStatusKeepsTheCauseAndErrorTypeIsStable(t *testing.T) {
	u := testdb.PostgresURL(t)
	rig := newOtelRig(t)
	missing := strings.Replace(u, "/test?", "/sqlpool_no_such_database?", 1)
	db := rig.open(t, "pgx:"+missing, sqlpool.WithName("orders#7"))
	ctx, parent := rig.tp.Tracer("test").Start(context.Background(), "parent")
	if _, err := db.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("Exec on a missing database: got nil error")
	}
	parent.End()
	spans := append(rig.ended("SELECT"), rig.ended("CONNECT")...)
	if len(spans) < 2 {
		t.Fatalf("got %d SELECT and CONNECT spans, want both", len(spans))
	}
	for _, s := range spans {
		desc := s.Status().Description
		for _, want := range []string{"127.0.0.1:5432 (127.0.0.1)", "(SQLSTATE 3D000)", "does not exist"} {
			if s.Status().Code != codes.Error || !strings.Contains(desc, want) {
				t.Errorf("%s: status %q, want it to keep %q", s.Name(), desc, want)
			}
		}
		if got := attrsOf(s)["error.type"].AsString(); got != "3D000" {
			t.Errorf("%s: error.type %q, want the SQLSTATE 3D000", s.Name(), got)
		}
	}

	ok := rig.open(t, "pgx:"+u)
	if _, err := ok.ExecContext(context.Background(), "SELECT 'hunter2'::int"); err == nil {
		t.Fatal("a bad cast succeeded")
	}
	for _, s := range rig.ended("SELECT test") {
		if desc := s.Status().Description; strings.Contains(desc, "hunter2") || !strings.Contains(desc, "invalid input syntax for type integer") {
			t.Errorf("%s: status %q, want the cause without the value the server quoted", s.Name(), desc)
		}
	}

	dsn, mock := mockNew(t, false)
	mock.ExpectExec("UPDATE t").WillReturnResult(sqlmock.NewResult(0, 1))
	timed := rig.open(t, "sqlmock:"+dsn, sqlpool.WithName("orders#8"), sqlpool.WithMaxConns(1), sqlpool.WithAcquireTimeout(50*time.Millisecond))
	held := mockConn(t, timed)
	if _, err := held.ExecContext(context.Background(), "UPDATE t SET x = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := timed.ExecContext(context.Background(), "UPDATE t SET x = 2"); err == nil {
		t.Fatal("Exec with the only connection held: got nil error, want an acquire timeout")
	}
	held.Close()
	var span string
	for _, s := range rig.ended("UPDATE") {
		if s.Status().Code != codes.Error {
			continue
		}
		span = s.Status().Description
		if got := attrsOf(s)["error.type"].AsString(); got != "sqlpool.acquire_timeout" {
			t.Errorf("error.type %q, want sqlpool.acquire_timeout", got)
		}
	}
	if !strings.Contains(span, "pool: acquire timeout: orders#8: 1/1 in use, 0 waiting, waited ") {
		t.Errorf("the timed-out UPDATE's status %q, want the acquire timeout's whole text", span)
	}
}

// TestTracingBackgroundDialsMakeNoTraces: the dials the pool makes on its
// own (the warm minimum, retries while the database is down) make no span,
// which would each be a trace of one CONNECT; they are still measured. A
// dial an operation waits for is in the operation's trace.
func TestTracingBackgroundDialsMakeNoTraces(t *testing.T) {
	rig := newOtelRig(t)
	db := rig.open(t, "sqlite3:file:"+filepath.Join(t.TempDir(), "warm.db")+"?pool_min_conns=3&pool_max_conns=4")
	testdb.WaitFor(t, "the warm minimum", func() bool { return mockStat(t, db).Idle == 3 })
	down := rig.open(t, "pgx:postgres://postgres@127.0.0.1:1/test?sslmode=disable&pool_min_conns=1&pool_acquire_timeout=200ms")
	testdb.WaitFor(t, "background redials of the unreachable server", func() bool { return mockStat(t, down).CreateErrorCount >= 3 })

	ctx, parent := rig.tp.Tracer("test").Start(context.Background(), "parent")
	held := make([]*sql.Conn, 0, 4)
	for range 4 { // the fourth needs a dial
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Close()
	}
	parent.End()

	connects := rig.ended("CONNECT")
	if len(connects) != 1 {
		t.Errorf("got %d CONNECT spans, want 1: the dial an operation waited for", len(connects))
	}
	for _, s := range connects {
		if !s.Parent().IsValid() || s.Parent().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("a CONNECT span outside the operation's trace (parent %v)", s.Parent())
		}
	}
	var dials uint64
	if m, ok := rig.metrics(t)["db.client.connection.create_time"]; ok {
		for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
			dials += p.Count
		}
	}
	if dials < 4 {
		t.Errorf("db.client.connection.create_time counted %d dials, want the 4 made, background ones included", dials)
	}
}

// TestTracingScopeSpansAndMetricsFollowTheConventions: the instrumentation
// scope has a version; db.client.connection.pool.name is on metrics, not
// spans; a dial is not an operation in db.client.operation.duration;
// statements on one table name it (db.collection.name); SQLite's span
// names do not carry the database file's directory.
func TestTracingScopeSpansAndMetricsFollowTheConventions(t *testing.T) {
	rig := newOtelRig(t)
	names := map[string]bool{}
	for _, dir := range []string{t.TempDir(), t.TempDir()} {
		db := rig.open(t, "sqlite3:file:"+filepath.Join(dir, "shop.db"))
		for _, q := range []string{"CREATE TABLE orders (id INTEGER, qty INTEGER)", "INSERT INTO orders VALUES (1, 2)", "UPDATE orders SET qty = 3", "SELECT qty FROM orders", "DELETE FROM orders"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	for _, s := range rig.spans.Ended() {
		names[s.Name()] = true
		if s.InstrumentationScope().Version == "" {
			t.Errorf("%s: the instrumentation scope has no version", s.Name())
		}
		a := attrsOf(s)
		if _, ok := a["db.client.connection.pool.name"]; ok {
			t.Errorf("%s: db.client.connection.pool.name on a span; the conventions define it for metrics", s.Name())
		}
		op := a["db.operation.name"].AsString()
		if got := a["db.collection.name"].AsString(); (op == "INSERT" || op == "UPDATE" || op == "SELECT" || op == "DELETE") && got != "orders" {
			t.Errorf("%s: db.collection.name %q, want orders", s.Name(), got)
		}
		if ns := a["db.namespace"].AsString(); ns != "shop.db" {
			t.Errorf("%s: db.namespace %q, want the file's name, shop.db", s.Name(), ns)
		}
	}
	for _, want := range []string{"CONNECT shop.db", "INSERT shop.db", "SELECT shop.db"} {
		if !names[want] {
			t.Errorf("no span named %q among %v: two files of the same name in two directories should give the same names", want, names)
		}
	}
	if len(names) != 6 {
		t.Errorf("span names %v: want 6 (CONNECT, CREATE, INSERT, UPDATE, SELECT, DELETE), the same for both directories", names)
	}
	m, ok := rig.metrics(t)["db.client.operation.duration"]
	if !ok {
		t.Fatal("no db.client.operation.duration")
	}
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if v, _ := p.Attributes.Value(attribute.Key("db.operation.name")); v.AsString() == "CONNECT" {
			t.Errorf("db.client.operation.duration counts dials: %v", p.Attributes.ToSlice())
		}
	}
}
