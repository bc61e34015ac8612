package sqlpool_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/otlptest"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/leakdetect"
)

// This file puts a password in the DSN and looks for it in everything
// sqlpool can show: errors (their messages, %+v, and their Unwrap chains),
// log lines (leak reports included), spans and metrics, Stat snapshots, and
// the demo's output. PostgreSQL trusts the test user, so it takes any
// password; MariaDB's root has none, so a password there makes the
// authentication fail, and a user with the password is made for the tests
// that need MariaDB to accept it.

// swordfish is the password: distinctive, and new in each run, so finding it
// anywhere means sqlpool showed it.
var swordfish = "Sw0rdf1sh-" + strconv.FormatUint(rand.Uint64(), 36)

// secFind returns what of the password s shows: the password, or either of
// its halves (a password cut short or half masked still gives itself away).
// It returns "" if s shows none of it.
func secFind(s string) string {
	head, tail, _ := strings.Cut(swordfish, "-")
	for _, n := range []string{swordfish, head, tail} {
		if strings.Contains(s, n) {
			return n
		}
	}
	return ""
}

// secCheck fails the test if text, which is what, shows the password.
func secCheck(t *testing.T, what, text string) {
	t.Helper()
	n := secFind(text)
	if n == "" {
		return
	}
	i := strings.Index(text, n)
	lo, hi := max(0, i-200), min(len(text), i+len(n)+100)
	t.Errorf("%s shows the password (%q): …%s…", what, n, text[lo:hi])
}

// secCheckJSON is secCheck on v printed with %+v and as JSON.
func secCheckJSON(t *testing.T, what string, v any) {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", what, err)
	}
	secCheck(t, what+" (%+v)", fmt.Sprintf("%+v", v))
	secCheck(t, what+" (JSON)", string(js))
}

// secErrorTexts returns err as it can be printed (%v, %+v, %q, %#v) and the
// message of every error in its Unwrap tree. Below a sqlpool error that
// masked the password of the driver error it wraps, that driver error still
// holds the password: it is left out unless deep (see
// TestSecretsNotInTheErrorsSqlpoolWraps).
func secErrorTexts(err error, deep bool) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error(), fmt.Sprintf("%v %+v %q %#v", err, err, err, err)}
	var walk func(e error)
	walk = func(e error) {
		out = append(out, fmt.Sprintf("%T: %s: %+v", e, e.Error(), e))
		if !deep && fmt.Sprintf("%T", e) == "*redact.redactedError" {
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if n := u.Unwrap(); n != nil {
				walk(n)
			}
		case interface{ Unwrap() []error }:
			for _, n := range u.Unwrap() {
				if n != nil {
					walk(n)
				}
			}
		}
	}
	walk(err)
	return out
}

// secCheckErr fails the test if err, what failed, shows the password in its
// message, formatting or Unwrap chain.
func secCheckErr(t *testing.T, what string, err error) {
	t.Helper()
	for _, s := range secErrorTexts(err, false) {
		secCheck(t, what+": error", s)
	}
}

// secDefaultLogger makes slog.Default() (and so the log package) write to l
// until the test ends.
func secDefaultLogger(t *testing.T, l *leakLog) {
	old, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() {
		slog.SetDefault(old)
		// slog.SetDefault of the original default leaves the log package
		// writing to l.
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
}

// secLogger returns a logger writing everything, as JSON, to l.
func secLogger(l *leakLog) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
}

// secTelemetry returns every ended span and a collection of the metrics of
// r, each printed with %+v and as JSON.
func secTelemetry(t *testing.T, r *otelRig) string {
	t.Helper()
	spans := tracetest.SpanStubsFromReadOnlySpans(r.spans.Ended())
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sj, err := json.Marshal(spans)
	if err != nil {
		t.Fatal(err)
	}
	mj, err := json.Marshal(rm)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v\n%s\n%+v\n%s", spans, sj, rm, mj)
}

// secCheckStats looks for the password in every Stat a program can get:
// sqlpool.Snapshots() and, for db, DBStat and the suspects of DBSnapshot.
func secCheckStats(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	secCheckJSON(t, "sqlpool.Snapshots()", sqlpool.Snapshots())
	st, err := sqlpool.DBStat(ctx, db)
	secCheckErr(t, "DBStat", err)
	secCheckJSON(t, "DBStat", st)
	snap, err := sqlpool.DBSnapshot(ctx, db)
	secCheckErr(t, "DBSnapshot", err)
	secCheckJSON(t, "the suspects of DBSnapshot", leakSuspects(snap))
}

// secAddParams appends the parameters ("key=value") to an inner DSN in its
// form: keyword=value, URL or go-sql-driver/mysql.
func secAddParams(inner string, params ...string) string {
	for _, p := range params {
		switch {
		case !strings.Contains(inner, "://") && !strings.Contains(inner, "@"):
			inner += " " + p
		case strings.Contains(inner[strings.LastIndexByte(inner, '@')+1:], "?"):
			inner += "&" + p
		default:
			inner += "?" + p
		}
	}
	return inner
}

// secPostgresURL returns the test PostgreSQL URL with swordfish as the
// password (see postgresURLWithPassword).
func secPostgresURL(t *testing.T) string {
	t.Helper()
	return strings.Replace(postgresURLWithPassword(t), ":"+secretPassword+"@", ":"+swordfish+"@", 1)
}

// secPostgresKeywords returns the test PostgreSQL database as a libpq
// keyword=value DSN with swordfish as the password.
func secPostgresKeywords(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(secPostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable",
		u.Hostname(), port, u.User.Username(), swordfish, strings.TrimPrefix(u.Path, "/"))
}

// secMySQLUser makes a MariaDB user whose password is swordfish, dropped when
// the test ends, and returns its go-sql-driver/mysql DSN.
func secMySQLUser(t *testing.T) string {
	t.Helper()
	root := testdb.MySQLDSN(t)
	cfg, err := mysql.ParseDSN(root)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", root)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	user := fmt.Sprintf("sqlpool_sw_%d", os.Getpid())
	for _, host := range []string{"%", "localhost"} {
		account := fmt.Sprintf("'%s'@'%s'", user, host)
		for _, q := range []string{
			"DROP USER IF EXISTS " + account,
			"CREATE USER " + account + " IDENTIFIED BY '" + swordfish + "'",
			"GRANT ALL PRIVILEGES ON `" + cfg.DBName + "`.* TO " + account,
		} {
			if _, err := admin.Exec(q); err != nil {
				t.Skipf("cannot make a MariaDB user with a password (%v); the tests that need one are skipped", err)
			}
		}
		t.Cleanup(func() {
			db, err := sql.Open("mysql", root)
			if err == nil {
				db.Exec("DROP USER IF EXISTS " + account)
				db.Close()
			}
		})
	}
	cfg.User, cfg.Passwd = user, swordfish
	return cfg.FormatDSN()
}

var secRegistered atomic.Int64

// secRegister registers a sqlpool driver wrapping inner and returns its name.
func secRegister(inner string, opts ...sqlpool.Option) string {
	name := fmt.Sprintf("sqlpool-secrets-%s-%d", inner, secRegistered.Add(1))
	sqlpool.Register(name, inner, opts...)
	return name
}

// TestSecretsNotInOpenErrors opens DSNs carrying the password with a bad
// pool setting, or a DSN the inner driver rejects, every way sqlpool opens
// one, and looks for the password in the errors and in RedactDSN.
func TestSecretsNotInOpenErrors(t *testing.T) {
	pw := swordfish
	forms := []struct {
		name, inner, dsn string
		keyword          bool
	}{
		{"postgres URL", "postgres", "postgres://app:" + pw + "@db.invalid:5432/app?sslmode=disable", false},
		{"postgres keywords", "postgres", "host=db.invalid user=app password=" + pw + " dbname=app sslmode=disable", true},
		{"postgres URL password parameter", "postgres", "postgres://app@db.invalid/app?password=" + pw, false},
		{"pgx URL", "pgx", "postgres://app:" + pw + "@db.invalid:5432/app", false},
		{"pgx keywords", "pgx", "host=db.invalid user=app password='" + pw + "' dbname=app", true},
		{"mysql", "mysql", "app:" + pw + "@tcp(db.invalid:3306)/app?parseTime=true", false},
		{"mysql without parameters", "mysql", "app:" + pw + "@tcp(db.invalid:3306)/app", false},
	}
	mistakes := [][]string{
		{"pool_max_conns=abc"}, {"pool_max_conns="}, {"pool_max_conns=0"}, {"pool_max_conns=99999999999999999999"},
		{"pool_min_conns=9", "pool_max_conns=2"}, {"pool_min_idle_conns=-1"},
		{"pool_max_conn_lifetime=5"}, {"pool_max_conn_lifetime=-1h"}, {"pool_ping_idle_after=-1s"},
		{"pool_reuse=lilo"}, {"pool_max_con=1"}, {"pool_name=a", "pool_name=b"},
		{"pool_leak_threshold=0", "pool_leak_reclaim=true"}, {"pool_tracing=maybe"}, {"pool_trace_query_text=all"},
	}
	registered := map[string]string{}
	opened := 0
	for _, f := range forms {
		cases := mistakes
		if f.keyword {
			cases = append(cases, []string{"pool_name='unterminated"})
		} else {
			cases = append(cases, []string{"pool_name=%zz"})
		}
		for _, params := range cases {
			inner := secAddParams(f.dsn, params...)
			dsn := f.inner + ":" + inner
			what := fmt.Sprintf("%s with %s", f.name, strings.Join(params, " "))

			secCheck(t, what+": RedactDSN", sqlpool.RedactDSN(dsn))
			db, err := sql.Open(sqlpool.DriverName, dsn)
			if err == nil {
				db.Close()
				t.Errorf("%s: sql.Open succeeded", what)
				continue
			}
			opened++
			secCheckErr(t, what+": sql.Open", err)
			_, err = sqlpool.NewConnector(dsn)
			secCheckErr(t, what+": NewConnector", err)
			_, _, err = sqlpool.SplitDSN(dsn)
			secCheckErr(t, what+": SplitDSN", err)
			_, err = sqlpool.PoolParams(dsn)
			secCheckErr(t, what+": PoolParams", err)
			if registered[f.inner] == "" {
				registered[f.inner] = secRegister(f.inner)
			}
			if db, err := sql.Open(registered[f.inner], inner); err == nil {
				db.Close()
				t.Errorf("%s: sql.Open of a registered driver succeeded", what)
			} else {
				secCheckErr(t, what+": sql.Open of a registered driver", err)
			}
		}
	}
	// DSNs the inner driver itself rejects when sqlpool opens it.
	for _, dsn := range []string{
		"mysql:app:" + pw + "@tcp(db.invalid:3306)/app?parseTime=maybe",
		"mysql:app:" + pw + "@tcp(db.invalid:3306/app",
		"mysql:app:" + pw + "@tcp(db.invalid:3306)/app%zz",
		"mysql:app:" + pw + "@tcp(db.invalid:3306)/app?pool_max_conns=2&tls=nope",
	} {
		secCheck(t, dsn+": RedactDSN", sqlpool.RedactDSN(dsn))
		db, err := sql.Open(sqlpool.DriverName, dsn)
		if err == nil {
			db.Close()
			t.Errorf("sql.Open(%q) succeeded", sqlpool.RedactDSN(dsn))
			continue
		}
		opened++
		secCheckErr(t, "sql.Open of a DSN mysql rejects", err)
	}
	if opened == 0 {
		t.Fatal("no DSN failed to open: nothing was looked at")
	}
}

// secDialCase is a DSN with the password that cannot connect.
type secDialCase struct {
	name string
	dsn  func(t *testing.T) string // the sqlpool DSN, without pool_* parameters
}

func secDialCases() []secDialCase {
	pw := swordfish
	fixed := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }
	return []secDialCase{
		// Nothing listens on port 1.
		{"postgres URL, refused", fixed("postgres:postgres://postgres:" + pw + "@127.0.0.1:1/test?sslmode=disable")},
		{"postgres keywords, refused", fixed("postgres:host=127.0.0.1 port=1 user=postgres password=" + pw + " dbname=test sslmode=disable")},
		{"pgx URL, refused", fixed("pgx:postgres://postgres:" + pw + "@127.0.0.1:1/test?sslmode=disable")},
		{"pgx keywords, refused", fixed("pgx:host=127.0.0.1 port=1 user=postgres password=" + pw + " dbname=test sslmode=disable")},
		{"mysql, refused", fixed("mysql:root:" + pw + "@tcp(127.0.0.1:1)/test")},
		// 192.0.2.1 (TEST-NET-1) is unreachable, or silent.
		{"postgres URL, unreachable", fixed("postgres:postgres://postgres:" + pw + "@192.0.2.1:5432/test?sslmode=disable&connect_timeout=1")},
		{"pgx keywords, unreachable", fixed("pgx:host=192.0.2.1 user=postgres password=" + pw + " dbname=test sslmode=disable connect_timeout=1")},
		{"mysql, unreachable", fixed("mysql:root:" + pw + "@tcp(192.0.2.1:3306)/test?timeout=1s")},
		// DSNs the driver rejects only when it connects: lib/pq's URL
		// error quotes the whole URL.
		{"postgres URL, bad port", fixed("postgres:postgres://postgres:" + pw + "@127.0.0.1:badport/test?sslmode=disable")},
		{"postgres keywords, bad port", fixed("postgres:host=127.0.0.1 port=bad user=postgres password=" + pw + " dbname=test")},
		{"pgx URL, bad sslmode", fixed("pgx:postgres://postgres:" + pw + "@127.0.0.1/test?sslmode=bogus")},
		{"pgx keywords, bad port", fixed("pgx:host=127.0.0.1 port=bad user=postgres password=" + pw + " dbname=test")},
		// MariaDB's root has no password: this one is refused by the server.
		{"mysql, wrong password", func(t *testing.T) string {
			cfg, err := mysql.ParseDSN(testdb.MySQLDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Passwd = pw
			return "mysql:" + cfg.FormatDSN()
		}},
	}
}

// secFailAll runs operations on db, which cannot connect, and checks each
// error; it returns the first.
func secFailAll(t *testing.T, db *sql.DB) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var first error
	note := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded on a database that cannot connect", what)
		}
		if first == nil {
			first = err
		}
		secCheckErr(t, what, err)
	}
	note("Ping", db.PingContext(ctx))
	note("Ping again", db.PingContext(ctx)) // the pool now fails fast: ErrUnavailable
	_, err := db.QueryContext(ctx, "SELECT 1")
	note("Query", err)
	_, err = db.ExecContext(ctx, "SELECT 1")
	note("Exec", err)
	_, err = db.BeginTx(ctx, nil)
	note("BeginTx", err)
	if c, err := db.Conn(ctx); err != nil {
		note("Conn", err)
	} else {
		note("Conn.PingContext", c.PingContext(ctx))
		c.Close()
	}
	return first
}

// TestSecretsNotInDialErrors fails to connect with DSNs carrying the
// password (refused, unreachable, a DSN the driver rejects at dial, and a
// password MariaDB rejects) and looks for it in the errors of every
// operation (acquire timeout, then ErrUnavailable), the log, the CONNECT
// spans and the metrics, and Stat.
func TestSecretsNotInDialErrors(t *testing.T) {
	for _, c := range secDialCases() {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			name, inner, _ := strings.Cut(dsn, ":")
			inner = secAddParams(inner, "pool_acquire_timeout=200ms")

			t.Run("sql.Open", func(t *testing.T) {
				l := &leakLog{}
				secDefaultLogger(t, l)
				db, err := sql.Open(sqlpool.DriverName, name+":"+inner)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				t.Logf("first error: %v", secFailAll(t, db))
				secCheckStats(t, db)
				db.Close()
				secCheck(t, "the log", l.String())
			})

			t.Run("NewConnector", func(t *testing.T) {
				l, r := &leakLog{}, newOtelRig(t)
				ctr, err := sqlpool.NewConnector(name+":"+inner, sqlpool.WithLogger(secLogger(l)),
					sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp))
				if err != nil {
					t.Fatal(err)
				}
				db := sql.OpenDB(ctr)
				defer db.Close()
				secFailAll(t, db)
				secCheckStats(t, db)
				secCheckJSON(t, "Connector.Stat", ctr.Stat())
				secCheckJSON(t, "the suspects of Connector.Snapshot", leakSuspects(ctr.Snapshot()))
				db.Close()
				tel := secTelemetry(t, r)
				if !strings.Contains(tel, "CONNECT") || !strings.Contains(tel, "db.client.operation.duration") {
					t.Errorf("the telemetry has no CONNECT span or no operation metrics:\n%.2000s", tel)
				}
				secCheck(t, "the telemetry", tel)
				secCheck(t, "the log", l.String())
			})
		})
	}

	// Wrap has no DSN to find a password in; the driver's errors must not
	// show the one it was configured with.
	t.Run("Wrap mysql, wrong password", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(testdb.MySQLDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Passwd = swordfish
		inner, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l, r := &leakLog{}, newOtelRig(t)
		ctr, err := sqlpool.Wrap(inner, sqlpool.WithAcquireTimeout(200*time.Millisecond), sqlpool.WithLogger(secLogger(l)),
			sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(ctr)
		defer db.Close()
		t.Logf("first error: %v", secFailAll(t, db))
		secCheckJSON(t, "Connector.Stat", ctr.Stat())
		db.Close()
		secCheck(t, "the telemetry", secTelemetry(t, r))
		secCheck(t, "the log", l.String())
	})
}

// TestSecretsNotInTheErrorsSqlpoolWraps looks below sqlpool's own errors, in
// the driver errors they wrap (errors.Unwrap, errors.As): lib/pq's error for
// a URL it cannot parse quotes the whole URL, password included.
func TestSecretsNotInTheErrorsSqlpoolWraps(t *testing.T) {
	db, err := sql.Open(sqlpool.DriverName, "postgres:postgres://postgres:"+swordfish+"@127.0.0.1:badport/test?sslmode=disable&pool_acquire_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	if err == nil {
		t.Fatal("Ping succeeded")
	}
	for _, s := range secErrorTexts(err, true) {
		secCheck(t, "Ping: error", s)
	}
}

// TestSecretsNotInTheFirstDialErrors dials at once (pool_min_conns): the
// first dial's error must be masked like any other.
func TestSecretsNotInTheFirstDialErrors(t *testing.T) {
	r := newOtelRig(t)
	ctr, err := sqlpool.NewConnector("postgres:postgres://postgres:"+swordfish+"@127.0.0.1:badport/test?sslmode=disable&pool_min_conns=2&pool_acquire_timeout=200ms",
		sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	secFailAll(t, db)
	db.Close()
	secCheck(t, "the telemetry", secTelemetry(t, r))
}

// secBackend is a database that accepts the password.
type secBackend struct {
	name  string
	inner string                    // inner driver
	dsn   func(t *testing.T) string // inner DSN with swordfish as the password
	ph    string                    // the first placeholder
}

func secBackends() []secBackend {
	return []secBackend{
		{"postgres", "postgres", secPostgresURL, "$1::text"},
		{"pgx keywords", "pgx", secPostgresKeywords, "$1::text"},
		{"mysql", "mysql", secMySQLUser, "?"},
	}
}

// secWork runs operations on db with the password as an argument and as a
// literal, times an acquire out, and leaks rows until the leak is logged to
// l. Its errors are checked, except those of the statements that fail with
// the value they were given (that is the application's own data, which
// sqlpool returns as the driver gave it).
func secWork(t *testing.T, db *sql.DB, l *leakLog, b secBackend) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s string
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT "+b.ph, swordfish).Scan(&s); err != nil || s != swordfish {
		t.Fatalf("got %q, %v", s, err)
	}
	if _, err := db.ExecContext(ctx, "SELECT '"+swordfish+"'"); err != nil {
		t.Fatal(err)
	}
	stmt, err := db.PrepareContext(ctx, "SELECT "+b.ph)
	if err != nil {
		t.Fatal(err)
	}
	if err := stmt.QueryRowContext(ctx, swordfish).Scan(&s); err != nil {
		t.Fatal(err)
	}
	stmt.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT "+b.ph, swordfish); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Statements that fail, with the password as an argument and as a
	// literal: the spans' status must hide it.
	if b.inner != "mysql" {
		db.ExecContext(ctx, "SELECT $1::int", swordfish)
		db.ExecContext(ctx, "SELECT '"+swordfish+"'::int")
	}
	// A statement that fails, with an error of its own to check.
	_, err = db.ExecContext(ctx, "SELECT * FROM sqlpool_secrets_no_such_table")
	if err == nil {
		t.Fatal("a query of a missing table succeeded")
	}
	secCheckErr(t, "a failed query", err)

	// Every connection in use (pool_max_conns=2): the next one times out.
	var held []*sql.Conn
	for range 2 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if _, err := c.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	err = db.PingContext(ctx)
	if !errors.Is(err, sqlpool.ErrAcquireTimeout) {
		t.Errorf("Ping with every connection in use: got %v, want ErrAcquireTimeout", err)
	}
	secCheckErr(t, "an acquire timeout", err)
	for _, c := range held {
		c.Close()
	}

	// Rows left open past pool_leak_threshold: reported, maybe reclaimed,
	// then closed and reported returned.
	rows, err := db.QueryContext(ctx, "SELECT '"+swordfish+"' AS pw")
	if err != nil {
		t.Fatal(err)
	}
	testdb.WaitFor(t, "the leak report", func() bool { return strings.Contains(l.String(), "held longer than the leak threshold") })
	secCheckStats(t, db)
	for rows.Next() {
	}
	secCheckErr(t, "rows of a leaked connection", rows.Err())
	secCheckErr(t, "closing the rows of a leaked connection", rows.Close())
	testdb.WaitFor(t, "the leaked connection's return", func() bool { return strings.Contains(l.String(), "leaked connection returned") })
	secCheckStats(t, db)
}

// secParams are the pool settings of secWork's pools.
var secParams = []string{"pool_max_conns=2", "pool_acquire_timeout=500ms", "pool_leak_threshold=1s"}

// TestSecretsNotInLogsStatsOrTelemetry runs operations and leaks a
// connection on pools whose DSN holds the password, and looks for it in the
// log (leak reports, and leaked connections returning), the OnLeak reports,
// Stat, the snapshot's suspects, the errors, and the spans and metrics.
func TestSecretsNotInLogsStatsOrTelemetry(t *testing.T) {
	for _, b := range secBackends() {
		t.Run(b.name, func(t *testing.T) {
			inner := secAddParams(b.dsn(t), secParams...)

			// Opened by DSN: logs go to slog.Default().
			t.Run("sql.Open", func(t *testing.T) {
				l := &leakLog{}
				secDefaultLogger(t, l)
				db, err := sql.Open(sqlpool.DriverName, b.inner+":"+inner)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				secWork(t, db, l, b)
				db.Close()
				secCheck(t, "the log", l.String())
			})

			// A registered driver with providers of its own: spans and
			// metrics too.
			t.Run("Register", func(t *testing.T) {
				l, r := &leakLog{}, newOtelRig(t)
				secDefaultLogger(t, l)
				name := secRegister(b.inner, sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp))
				db, err := sql.Open(name, inner)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				secWork(t, db, l, b)
				db.Close()
				secCheck(t, "the log", l.String())
				tel := secTelemetry(t, r)
				if !strings.Contains(tel, "db.client.connection.pool.name") || (b.inner != "mysql" && !strings.Contains(tel, "invalid input syntax")) {
					t.Errorf("the telemetry has no pool metrics or no failed span:\n%.2000s", tel)
				}
				secCheck(t, "the telemetry", tel)
			})

			// NewConnector with a logger, providers and a leak hook of its
			// own, reclaiming leaked connections.
			t.Run("NewConnector", func(t *testing.T) {
				l, r := &leakLog{}, newOtelRig(t)
				var (
					mu      sync.Mutex
					reports []leakdetect.Report
				)
				ctr, err := sqlpool.NewConnector(b.inner+":"+secAddParams(inner, "pool_leak_reclaim=true"),
					sqlpool.WithLogger(secLogger(l)),
					sqlpool.WithTracerProvider(r.tp), sqlpool.WithMeterProvider(r.mp),
					sqlpool.WithOnLeak(func(r leakdetect.Report) {
						mu.Lock()
						defer mu.Unlock()
						reports = append(reports, r)
					}),
				)
				if err != nil {
					t.Fatal(err)
				}
				db := sql.OpenDB(ctr)
				defer db.Close()
				secWork(t, db, l, b)
				secCheckJSON(t, "Connector.Stat", ctr.Stat())
				secCheckJSON(t, "the suspects of Connector.Snapshot", leakSuspects(ctr.Snapshot()))
				db.Close()
				if !strings.Contains(l.String(), `"reclaimed":true`) {
					t.Errorf("the leaked connection was not reclaimed; log:\n%s", l.String())
				}
				secCheck(t, "the log", l.String())
				mu.Lock()
				if len(reports) == 0 {
					t.Error("the OnLeak hook got no report")
				}
				secCheckJSON(t, "the OnLeak reports", reports)
				mu.Unlock()
				secCheck(t, "the telemetry", secTelemetry(t, r))
			})
		})
	}
}

// secDemo builds the demo, cmd/sqlpool, with the race detector if this test
// binary has it (so the build reuses its packages).
func secDemo(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if testdb.InCI() {
			t.Fatalf("no go command to build the demo with: %v", err)
		}
		t.Skipf("no go command to build the demo with (%v)", err)
	}
	bin := filepath.Join(t.TempDir(), "sqlpool")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	args = append(args, "./cmd/sqlpool")
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestSecretsNotInTheDemoOutput runs the demo on DSNs holding the password,
// good and bad, and looks for it in its standard output and error and, with
// --otel, in what it exports.
func TestSecretsNotInTheDemoOutput(t *testing.T) {
	bin := secDemo(t)
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
		exit int  // the demo's exit status
		otel bool // export to a collector
	}{
		{"postgres URL", func(t *testing.T) string { return "postgres:" + secPostgresURL(t) + "&pool_max_conns=4" }, 0, true},
		{"pgx keywords", func(t *testing.T) string { return "pgx:" + secPostgresKeywords(t) + " pool_max_conns=4" }, 0, false},
		{"mysql", func(t *testing.T) string { return "mysql:" + secAddParams(secMySQLUser(t), "pool_max_conns=4") }, 0, false},
		{"postgres URL, bad port", func(*testing.T) string {
			return "postgres:postgres://postgres:" + swordfish + "@127.0.0.1:badport/test?sslmode=disable"
		}, 1, false},
		{"pgx URL, refused", func(*testing.T) string {
			return "pgx:postgres://postgres:" + swordfish + "@127.0.0.1:1/test?sslmode=disable&pool_acquire_timeout=1s"
		}, 1, false},
		{"postgres keywords, bad pool setting", func(*testing.T) string {
			return "postgres:host=127.0.0.1 password=" + swordfish + " pool_max_conns=0"
		}, 2, false},
		{"mysql, wrong password", func(t *testing.T) string {
			cfg, err := mysql.ParseDSN(testdb.MySQLDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Passwd = swordfish
			return "mysql:" + cfg.FormatDSN()
		}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "demo", "--dsn", dsn, "--duration", "300ms", "--workers", "2")
			cmd.Env = os.Environ()
			var c *otlptest.Collector
			if tc.otel {
				c = otlptest.Start(t)
				cmd.Args = append(cmd.Args, "--otel")
				cmd.Env = append(cmd.Env, "OTEL_EXPORTER_OTLP_ENDPOINT="+c.URL,
					"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=")
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			switch {
			case err == nil && tc.exit == 0:
			case errors.As(err, &exit) && exit.ExitCode() == tc.exit:
			default:
				t.Errorf("the demo ended with %v, want exit status %d\nstdout:\n%s\nstderr:\n%s", err, tc.exit, stdout.String(), stderr.String())
			}
			if tc.exit == 0 && !strings.Contains(stdout.String(), "leaked connection returned") {
				t.Errorf("the demo's output has no leak section:\n%s", stdout.String())
			}
			if tc.exit != 0 && stderr.Len() == 0 {
				t.Error("the demo failed without a word on stderr")
			}
			secCheck(t, "the demo's standard output", stdout.String())
			secCheck(t, "the demo's standard error", stderr.String())
			if c != nil {
				all := c.Dump(t)
				if !strings.Contains(all, "db.client.connection.pool.name") {
					t.Errorf("the collector got no pool metrics: %.500q", all)
				}
				secCheck(t, "the demo's telemetry", all)
			}
		})
	}
}
