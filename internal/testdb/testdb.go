// Package testdb gives sqlpool's tests the real databases they run against:
// the local PostgreSQL and MariaDB servers, found through environment
// variables with the defaults of a fresh development machine. A test that
// needs a server it cannot reach is skipped with a message that says how to
// start it, except under CI=true, where it fails: CI must prove everything.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the "mysql" driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/lib/pq"              // the "postgres" driver
)

// Defaults for the local servers; override with the environment variables.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" // SQLPOOL_TEST_POSTGRES
	DefaultMySQL    = "root@tcp(127.0.0.1:3306)/test"                           // SQLPOOL_TEST_MYSQL
)

// InCI reports whether the tests run in CI, where unreachable servers fail
// the test instead of skipping it.
func InCI() bool { return os.Getenv("CI") == "true" }

func unavailable(t testing.TB, what, how string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not reachable (%v); %s", what, err, how)
	if InCI() {
		t.Fatalf("%s (CI=true: service-backed tests are required)", msg)
	}
	t.Skip(msg)
}

// PostgresURL returns the URL of the test PostgreSQL database, skipping (or,
// in CI, failing) the test if it cannot be reached.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := envOr("SQLPOOL_TEST_POSTGRES", DefaultPostgres)
	if err := ping("postgres", u); err != nil {
		unavailable(t, "PostgreSQL", "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set SQLPOOL_TEST_POSTGRES", err)
	}
	return u
}

// MySQLDSN returns the go-sql-driver/mysql DSN of the test MariaDB/MySQL
// database, skipping (or, in CI, failing) the test if it cannot be reached.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	d := envOr("SQLPOOL_TEST_MYSQL", DefaultMySQL)
	if err := ping("mysql", d); err != nil {
		unavailable(t, "MariaDB/MySQL", "start it (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) or set SQLPOOL_TEST_MYSQL", err)
	}
	return d
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func ping(driverName, dsn string) error {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

var appSeq atomic.Int64

// AppName returns an application_name unique to this test and process, so a
// test can find its own backends in pg_stat_activity.
func AppName(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("sqlpool_%d_%d_%s", os.Getpid(), appSeq.Add(1), name)
}

// WithParams returns the URL u with the query parameters kv (key, value, …)
// added or replaced.
func WithParams(u string, kv ...string) string {
	pu, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	q := pu.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	pu.RawQuery = q.Encode()
	return pu.String()
}

// Admin opens a plain lib/pq connection pool on the test database for
// inspecting and manipulating the server (pg_stat_activity,
// pg_terminate_backend), with its connection open already (so that it does
// not count among what a test opens after). It is closed when the test ends.
func Admin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	return db
}

// Backends returns the pids of the server backends whose application_name is
// app.
func Backends(t testing.TB, admin *sql.DB, app string) []int {
	t.Helper()
	rows, err := admin.Query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid`, app)
	if err != nil {
		t.Fatalf("reading pg_stat_activity: %v", err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// WaitFor polls cond every few milliseconds until it holds, failing the test
// if it does not within 20s. Use it instead of sleeping.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitForExplained(t, what, cond, nil)
}

// WaitForExplained is WaitFor, but on failure the test also says what
// describe returns (what is left, say); describe may be nil.
func WaitForExplained(t testing.TB, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if describe != nil {
				t.Fatalf("timed out waiting for %s; left:\n%s", what, describe())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
