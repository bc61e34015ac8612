package integration

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/go-sql-driver/mysql" // the "mysql" driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "github.com/lib/pq"              // the "postgres" driver
	_ "github.com/mattn/go-sqlite3"    // the "sqlite3" driver
	_ "github.com/sqlpool/sqlpool"     // the "sqlpool" driver

	"github.com/sqlpool/sqlpool/internal/pgtemp"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// target is one database an integration runs against, through sqlpool.
type target struct {
	name    string
	dialect string // "postgres", "mysql" or "sqlite"
	// dsn returns the sqlpool DSN ("<inner driver>:<inner DSN>"), skipping
	// (or, in CI, failing) the test when the server is unreachable.
	dsn func(t *testing.T) string
}

// targets are the real databases every integration runs against: the test
// PostgreSQL through pgx and lib/pq, MariaDB, and a SQLite file.
var targets = []target{
	{"pgx", "postgres", func(t *testing.T) string { return "pgx:" + testdb.PostgresURL(t) + "&pool_max_conns=4" }},
	{"libpq", "postgres", func(t *testing.T) string { return "postgres:" + testdb.PostgresURL(t) + "&pool_max_conns=4" }},
	{"mysql", "mysql", func(t *testing.T) string {
		return "mysql:" + withQuery(testdb.MySQLDSN(t), "parseTime=true&pool_max_conns=4")
	}},
	{"sqlite", "sqlite", func(t *testing.T) string {
		return "sqlite3:file:" + filepath.Join(t.TempDir(), "app.db") + "?_busy_timeout=5000&_journal_mode=WAL&pool_max_conns=4"
	}},
}

// withQuery appends query parameters to a DSN that may have some already.
func withQuery(dsn, params string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + params
	}
	return dsn + "?" + params
}

// openDB opens dsn with sqlpool and closes it when the test ends.
func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlpool", dsn)
	if err != nil {
		t.Fatalf("sql.Open(sqlpool, %q): %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var nameSeq atomic.Int64

// tableName returns a table name unique to this process, so runs of this
// module beside others on the same database do not collide.
func tableName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), nameSeq.Add(1))
}

// dropTable drops table now and when the test ends.
func dropTable(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
		t.Fatalf("dropping %s: %v", table, err)
	}
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + table) })
}

// unavailable skips the test with msg, or fails it under CI=true, where
// every integration must run.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if testdb.InCI() {
		t.Fatalf("%s (CI=true: service-backed tests are required)", msg)
	}
	t.Skip(msg)
}

// startPostgres starts a throwaway PostgreSQL server, stopped when the test
// ends.
func startPostgres(t testing.TB, opts pgtemp.Options) *pgtemp.Server {
	t.Helper()
	if _, err := pgtemp.BinDir(); err != nil {
		unavailable(t, err.Error())
	}
	srv, err := pgtemp.Start(opts)
	if err != nil {
		t.Fatalf("starting a throwaway PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(srv.LogFile()); err == nil {
				t.Logf("PostgreSQL log:\n%s", b)
			}
		}
		srv.Stop()
	})
	return srv
}

// lookPath finds a program, skipping (failing in CI) when it is missing.
func lookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			if _, err2 := os.Stat(filepath.Join(dir, name)); err2 == nil {
				return filepath.Join(dir, name)
			}
		}
		unavailable(t, fmt.Sprintf("%s is not installed (%v); %s", name, err, install))
	}
	return p
}
