package sqlpool

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sqlpool/sqlpool/internal/testdb"
)

// What the memory tests hold sqlpool to, besides its configured
// pool_stmt_cache_size.
const (
	// memMaxQueryText is tracing's bound on db.query.text (maxQueryText in
	// package tracing).
	memMaxQueryText = 2048

	// memLongText is the size of the comment in the long statements: far
	// more than any bound, so that keeping one by mistake shows in the heap.
	memLongText = 1 << 20

	// memHeapMargin is how much the heap in use may grow between the end of
	// the warm-up and the end of the run: 17,500 distinct statements (and
	// 42 statements of 1 MiB) later, once everything sized by the workload
	// (caches, maps, the database/sql and OpenTelemetry internals) reached
	// its size in the warm-up. Anything kept per statement, even 120 bytes,
	// or two long texts, exceed it; the growth measured is under 64 KiB,
	// so the margin leaves room for the runtime's noise (the GC's own
	// buffers, -race) without hiding a leak.
	memHeapMargin = 2 << 20
)

// memSpans is a span processor that keeps no span: it records the longest
// db.query.text it saw and, like an exporter's queue, holds the last few
// texts, so that a text holding on to more memory than its length shows.
type memSpans struct {
	mu      sync.Mutex
	spans   int    // ended
	texts   int    // ended with a db.query.text
	maxText int    // the longest db.query.text, in bytes
	longest string // a prefix of it, for the message
	last    [16]string
	next    int
}

func (m *memSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (m *memSpans) Shutdown(context.Context) error                  { return nil }
func (m *memSpans) ForceFlush(context.Context) error                { return nil }

func (m *memSpans) OnEnd(s sdktrace.ReadOnlySpan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spans++
	for _, kv := range s.Attributes() {
		if kv.Key != "db.query.text" {
			continue
		}
		text := kv.Value.AsString()
		m.texts++
		if len(text) > m.maxText {
			m.maxText, m.longest = len(text), strings.Clone(text[:min(len(text), 60)])
		}
		m.last[m.next] = text
		m.next = (m.next + 1) % len(m.last)
	}
}

// forget drops the texts held.
func (m *memSpans) forget() {
	m.mu.Lock()
	clear(m.last[:])
	m.mu.Unlock()
}

// memRig is a sqlpool database on one physical connection, with leak
// detection on and every span and measurement recorded.
type memRig struct {
	db     *sql.DB
	ps     *poolState
	pc     *pconn // the one physical connection
	spans  *memSpans
	reader *sdkmetric.ManualReader
}

func newMemRig(t *testing.T, dsn string) *memRig {
	t.Helper()
	r := &memRig{spans: new(memSpans), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	ctr, err := NewConnector(dsn, WithTracerProvider(tp), WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	r.db = sql.OpenDB(ctr)
	t.Cleanup(func() {
		r.db.Close()
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	r.ps = ctr.ps
	if r.ps.leaks == nil || r.ps.tel == nil || r.ps.cfg.maxConns != 1 {
		t.Fatalf("rig for %q: leak detection %v, telemetry %v, %d connections; want both on, 1 connection",
			dsn, r.ps.leaks != nil, r.ps.tel != nil, r.ps.cfg.maxConns)
	}
	// The pool's one physical connection; every statement runs on it.
	c, err := r.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Raw(func(dc any) error {
		sc := dc.(*conn)
		if _, err := UnwrapContext(context.Background(), sc); err != nil {
			return err
		}
		r.pc = sc.pc
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// cached returns how many statements the physical connection's cache
// holds. Call it between operations: the cache is the bound logical
// connection's, used on the caller's goroutine.
func (r *memRig) cached() int { return r.pc.stmts.lru.Len() }

// held checks what the leak detector holds of the borrow in progress: one
// record per connection, its statement no longer than a report's.
func (r *memRig) held(t *testing.T, when string) {
	t.Helper()
	reports := r.ps.leaks.Held(0)
	if len(reports) > r.ps.cfg.maxConns {
		t.Errorf("%s: %d borrows in progress, more than the %d connections", when, len(reports), r.ps.cfg.maxConns)
	}
	for _, rep := range reports {
		if len(rep.Statement) > reportedQueryLen {
			t.Errorf("%s: a leak report's statement is %d bytes, want <= %d", when, len(rep.Statement), reportedQueryLen)
		}
	}
}

// operationPoints returns the data points of db.client.operation.duration.
func (r *memRig) operationPoints(t *testing.T) int {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "db.client.operation.duration" {
				return len(h.DataPoints)
			}
		}
	}
	t.Fatal("no db.client.operation.duration recorded")
	return 0
}

// memHeap returns the bytes of heap in use once garbage is collected (twice:
// the first collection only moves sync.Pool contents aside).
func memHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memLong returns a distinct statement of more than memLongText bytes.
func memLong(body string, i int) string {
	return fmt.Sprintf("%s /* long %d %s */", body, i, strings.Repeat("x", memLongText))
}

// TestMemoryStaysFlatOverManyDistinctStatements runs some 20,000 distinct
// statements on SQLite, with literals, direct, prepared on the DB and
// prepared in transactions, and statements of 1 MiB, with leak detection and
// tracing on: the statement cache never holds more than its size, even in a
// transaction that prepares hundreds of statements; the leak detector
// follows one record per connection, with a bounded statement; db.query.text
// is bounded and keeps no more memory alive than its length; and the heap
// in use does not grow from the warm-up to the end.
func TestMemoryStaysFlatOverManyDistinctStatements(t *testing.T) {
	const (
		cacheSize = 16
		perBlock  = 250 // rounds per block, of 5 distinct statements: 3 on the DB, 2 in the block's transaction
		warmup    = 2   // blocks before the heap is measured: 2,500 statements
		blocks    = 16  // 20,000 statements in all, and 48 long ones
	)
	// No fsync: the test measures memory, not the disk, which other
	// processes may keep busy.
	dsn := fmt.Sprintf("sqlite3:file:%s?_synchronous=OFF&_journal_mode=MEMORY&pool_max_conns=1&pool_stmt_cache_size=%d&pool_leak_threshold=1h",
		filepath.Join(t.TempDir(), "memory.db"), cacheSize)
	r := newMemRig(t, dsn)
	ctx := context.Background()
	db := r.db
	if _, err := db.ExecContext(ctx, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO kv (k, v) VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		if n := r.cached(); n > cacheSize {
			t.Fatalf("%s: the statement cache holds %d statements, more than its size %d", when, n, cacheSize)
		}
		if n := r.ps.leaks.Tracked(); n > r.ps.cfg.maxConns {
			t.Fatalf("%s: the leak detector follows %d connections, more than the %d of the pool", when, n, r.ps.cfg.maxConns)
		}
		r.held(t, when)
	}
	queryInt := func(q interface {
		QueryRowContext(context.Context, ...any) *sql.Row
	}, args ...any) {
		t.Helper()
		var n int64
		if err := q.QueryRowContext(ctx, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}

	// block runs perBlock rounds of distinct statements: on the DB (each
	// operation a hand-out of the one connection), then in one transaction
	// (one hand-out for all), each kind once with a 1 MiB comment.
	block := func(b int) {
		long := b * 3
		if _, err := db.ExecContext(ctx, memLong("UPDATE kv SET v = ? WHERE k = 1", long), "long"); err != nil {
			t.Fatal(err)
		}
		queryInt(rowQuerier{db, memLong("SELECT 7", long+1)})
		for i := b * perBlock; i < (b+1)*perBlock; i++ {
			if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE kv SET v = 'v%d' WHERE k = 1", i)); err != nil {
				t.Fatal(err)
			}
			var s string
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT 'lit-%d' || v FROM kv WHERE k = %d - %d + 1", i, i, i)).Scan(&s); err != nil {
				t.Fatal(err)
			}
			st, err := db.PrepareContext(ctx, fmt.Sprintf("SELECT ? + %d", i))
			if err != nil {
				t.Fatal(err)
			}
			queryInt(st, i)
			st.Close()
		}
		check(fmt.Sprintf("block %d, after the DB's statements", b))

		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tx.PrepareContext(ctx, memLong("SELECT 11", long+2))
		if err != nil {
			t.Fatal(err)
		}
		queryInt(st)
		st.Close()
		r.held(t, fmt.Sprintf("block %d, in a transaction after a 1 MiB statement", b))
		for i := b * perBlock; i < (b+1)*perBlock; i++ {
			st, err := tx.PrepareContext(ctx, fmt.Sprintf("UPDATE kv SET v = ? || '%d' WHERE k = 1", i))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.ExecContext(ctx, "tx"); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st, err = tx.PrepareContext(ctx, fmt.Sprintf("SELECT length(v) + %d FROM kv WHERE k = ?", i))
			if err != nil {
				t.Fatal(err)
			}
			queryInt(st, 1)
			st.Close()
		}
		// Still inside the transaction: one hand-out, 501 statements.
		check(fmt.Sprintf("block %d, in a transaction after %d prepared statements", b, 2*perBlock+1))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	for b := range warmup {
		block(b)
	}
	before := memHeap()
	points := r.operationPoints(t)
	for b := warmup; b < blocks; b++ {
		block(b)
	}
	after := memHeap()
	check("the end")

	st, err := DBStat(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if st.CreatedCount != 1 {
		t.Errorf("%d physical connections made, want 1: the bounds are per connection", st.CreatedCount)
	}
	if n := r.operationPoints(t); n != points || n > 16 {
		t.Errorf("db.client.operation.duration has %d data points after the warm-up and %d at the end; want as many, and few", points, n)
	}
	r.spans.mu.Lock()
	spans, texts, maxText, longest := r.spans.spans, r.spans.texts, r.spans.maxText, r.spans.longest
	r.spans.mu.Unlock()
	if texts < blocks*perBlock*5 {
		t.Errorf("%d spans, %d with db.query.text; want >= %d with text: is tracing on?", spans, texts, blocks*perBlock*5)
	}
	if maxText > memMaxQueryText {
		t.Errorf("a db.query.text of %d bytes (%q…), want <= %d", maxText, longest, memMaxQueryText)
	}
	grew := int64(after) - int64(before)
	t.Logf("heap in use: %d KiB after %d statements, %d KiB after %d (%+d KiB); %d spans, longest db.query.text %d bytes",
		before>>10, warmup*perBlock*5, after>>10, blocks*perBlock*5, grew>>10, spans, maxText)
	if grew > memHeapMargin {
		t.Errorf("heap in use grew by %d KiB from the warm-up to the end, want <= %d KiB", grew>>10, memHeapMargin>>10)
	}

	// The texts of long statements held by an exporter's queue keep no more
	// than their bounded length alive. memSpans holds 16; each may keep at
	// most its 2 KiB: 32 KiB, 1 MiB with a wide margin, where keeping the
	// statements (or buffers sized for them) would be 16 MiB.
	for i := range 2 * len(r.spans.last) {
		if i%2 == 0 {
			queryInt(rowQuerier{db, memLong("SELECT 1", 1000+i)}) // sanitized: no arguments
		} else {
			queryInt(rowQuerier{db, memLong("SELECT ?", 1000+i)}, 1) // truncated: with arguments
		}
	}
	holding := memHeap()
	r.spans.forget()
	released := memHeap()
	t.Logf("the last %d db.query.text of 1 MiB statements hold %d KiB", len(r.spans.last), (int64(holding)-int64(released))>>10)
	if kept := int64(holding) - int64(released); kept > 1<<20 {
		t.Errorf("%d db.query.text of 1 MiB statements keep %d KiB alive, want <= 1024 KiB", len(r.spans.last), kept>>10)
	}
}

// rowQuerier is a statement text and where to run it, as a sql.Stmt is.
type rowQuerier struct {
	db    *sql.DB
	query string
}

func (q rowQuerier) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return q.db.QueryRowContext(ctx, q.query, args...)
}

// TestMemoryStmtCacheKeepsStatementsWithOpenRows checks what the statement
// cache may not evict to stay within its size: a statement whose rows are
// still open (go-sqlite3 ends them without an error when their statement
// closes). Once they are closed it is evicted like any other.
func TestMemoryStmtCacheKeepsStatementsWithOpenRows(t *testing.T) {
	dsn := "sqlite3:file:" + filepath.Join(t.TempDir(), "rows.db") + "?pool_max_conns=1&pool_stmt_cache_size=1&pool_leak_threshold=1h"
	r := newMemRig(t, dsn)
	ctx := context.Background()
	db := r.db
	if _, err := db.ExecContext(ctx, "CREATE TABLE n (i INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10) INSERT INTO n SELECT i FROM c"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	all, err := tx.PrepareContext(ctx, "SELECT i FROM n ORDER BY i")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := all.QueryContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		got++
		// Other statements, prepared and run while the rows are open: the
		// cache of 1 evicts them, not the one under the rows.
		for j := range 3 {
			st, err := tx.PrepareContext(ctx, fmt.Sprintf("SELECT %d + ?", got*10+j))
			if err != nil {
				t.Fatal(err)
			}
			var v int
			if err := st.QueryRowContext(ctx, 1).Scan(&v); err != nil {
				t.Fatal(err)
			}
			st.Close()
		}
		if n := r.cached(); n > 2 {
			t.Fatalf("row %d: the cache of 1 holds %d statements; want at most the one with open rows and the last", got, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	all.Close()
	if got != 10 {
		t.Errorf("read %d rows while other statements ran, want 10", got)
	}
	st, err := tx.PrepareContext(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if n := r.cached(); n != 1 {
		t.Errorf("after the rows closed, the cache of 1 holds %d statements, want 1", n)
	}
}

// TestMemoryPostgresKeepsNoMorePreparedStatementsThanTheCache prepares
// hundreds of distinct statements on one PostgreSQL connection (lib/pq), in
// a transaction, on the DB, and held open by the application, and counts
// the server's prepared statements on that connection: never more than the
// cache's size.
func TestMemoryPostgresKeepsNoMorePreparedStatementsThanTheCache(t *testing.T) {
	const cacheSize = 8
	u := testdb.WithParams(testdb.PostgresURL(t), "pool_max_conns", "1",
		"pool_stmt_cache_size", fmt.Sprint(cacheSize), "pool_leak_threshold", "1h")
	r := newMemRig(t, "postgres:"+u)
	ctx := context.Background()
	db := r.db
	// Direct, without arguments: lib/pq's simple query, no statement.
	const count = "SELECT count(*) FROM pg_prepared_statements"
	server := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, when string) {
		t.Helper()
		var n int
		if err := q.QueryRowContext(ctx, count).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > cacheSize {
			t.Errorf("%s: the connection has %d prepared statements on the server, more than the cache's %d", when, n, cacheSize)
		}
		if c := r.cached(); c > cacheSize {
			t.Errorf("%s: the statement cache holds %d statements, more than its size %d", when, c, cacheSize)
		}
	}
	const n = 300

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		st, err := tx.PrepareContext(ctx, fmt.Sprintf("SELECT $1::int + %d", i))
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := st.QueryRowContext(ctx, i).Scan(&v); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	long, err := tx.PrepareContext(ctx, memLong("SELECT $1::int", 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.ExecContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	long.Close()
	r.held(t, "in a transaction after a 1 MiB statement")
	server(tx, fmt.Sprintf("in a transaction after %d prepared statements", n+1))
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	for i := range n {
		st, err := db.PrepareContext(ctx, fmt.Sprintf("SELECT $1::text || '%d'", i))
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := st.QueryRowContext(ctx, "x").Scan(&v); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	// Statements the application keeps open are prepared again when they
	// run, rather than kept on the server.
	open := make([]*sql.Stmt, 50)
	for i := range open {
		if open[i], err = db.PrepareContext(ctx, fmt.Sprintf("SELECT %d + $1::int", i)); err != nil {
			t.Fatal(err)
		}
		defer open[i].Close()
	}
	for i, st := range open {
		var v int
		if err := st.QueryRowContext(ctx, 1).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("open statement %d: %d, %v; want %d", i, v, err, i+1)
		}
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server(c, fmt.Sprintf("after %d statements prepared on the DB and %d kept open", n, len(open)))
	if n := r.ps.leaks.Tracked(); n != 1 {
		t.Errorf("the leak detector follows %d connections, want 1", n)
	}
}
