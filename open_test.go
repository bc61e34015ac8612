package sqlpool_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/sqlpool/sqlpool/internal/testdb"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
)

// Every bad DSN or setting fails at sql.Open, names what is wrong and how to
// fix it, and never shows the password.
func TestOpenRejectsBadInputNamingTheParameterAndTheFix(t *testing.T) {
	const password = "S3cr3t-Pa55"
	tests := []struct {
		name string
		dsn  string
		want []string // substrings of the error
	}{
		{"empty DSN", "", []string{"must start with the inner driver's name and a colon"}},
		{"inner name missing", "postgres://app:" + password + "@db/app", []string{"must start with the inner driver's name and a colon", `"postgres:postgres://user@host/db"`}},
		{"unregistered inner driver", "postgress:postgres://app:" + password + "@db/app", []string{`no database/sql driver named "postgress" is registered`, "import"}},
		{"known but unimported inner driver", "sqlmock2:x", []string{`"sqlmock2"`, "import the package that registers it"}},
		{"pgx not imported hints at its import", "pgx-missing:x", []string{`"pgx-missing"`}},
		{"unknown pool parameter", "postgres:postgres://app:" + password + "@db/app?pool_max_con=3", []string{"unknown DSN parameter pool_max_con", "did you mean pool_max_conns?"}},
		{"malformed integer", "postgres:postgres://app:" + password + "@db/app?pool_max_conns=many", []string{"pool_max_conns", `"many" is not a whole number`, "pool_max_conns=10"}},
		{"duration without unit", "postgres:postgres://app:" + password + "@db/app?pool_max_conn_lifetime=5", []string{"pool_max_conn_lifetime", "with a unit", "30m"}},
		{"zero max conns", "postgres:postgres://app:" + password + "@db/app?pool_max_conns=0", []string{"pool_max_conns must be >= 1, got 0"}},
		{"negative duration", "postgres:postgres://app:" + password + "@db/app?pool_acquire_timeout=-1s", []string{"pool_acquire_timeout must be >= 0"}},
		{"min above max, URL form", "postgres:postgres://app:" + password + "@db/app?pool_min_conns=9&pool_max_conns=2", []string{"pool_min_conns (9) must not exceed pool_max_conns (2)", "lower pool_min_conns or raise pool_max_conns"}},
		{"min above max, keyword form", "postgres:host=db password=" + password + " pool_min_conns=9 pool_max_conns=2", []string{"pool_min_conns (9) must not exceed pool_max_conns (2)"}},
		{"min above max, mysql form", "mysql:root:" + password + "@tcp(127.0.0.1:3306)/test?pool_min_conns=9&pool_max_conns=2", []string{"pool_min_conns (9) must not exceed pool_max_conns (2)"}},
		{"min above max, sqlite form", "sqlite3:file:app.db?_busy_timeout=5000&pool_min_conns=9&pool_max_conns=2", []string{"pool_min_conns (9) must not exceed pool_max_conns (2)"}},
		{"duplicate parameter", "postgres:postgres://app:" + password + "@db/app?pool_max_conns=2&pool_max_conns=3", []string{"pool_max_conns is given twice"}},
		{"bad reuse order", "sqlite3:file:app.db?pool_reuse=lilo", []string{`pool_reuse: "lilo" is not lifo or fifo`}},
		{"inner DSN rejected by the inner driver", "mysql:root:" + password + "@tcp(127.0.0.1:3306/test", []string{"the mysql driver rejected its DSN"}},
		{"sqlpool wrapping itself", "sqlpool:sqlite3::memory:", []string{"is sqlpool itself"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("sqlpool", tt.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("sql.Open(%q) succeeded, want an error containing %q", tt.dsn, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sqlpool: ") {
				t.Errorf("error %q does not start with %q", msg, "sqlpool: ")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

// MariaDB and PostgreSQL reject parameters they do not know (as a system
// variable, a runtime parameter), so a pool_* parameter that reached them
// would fail the query.
func TestOpenStripsPoolParametersBeforeTheInnerDriverSeesThem(t *testing.T) {
	pg := testdb.PostgresURL(t)
	host := "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"
	for _, dsn := range []string{
		"postgres:" + testdb.WithParams(pg, "pool_max_conns", "4", "pool_max_conn_lifetime", "1m"),
		"pgx:" + testdb.WithParams(pg, "pool_max_conns", "4", "pool_name", "strip test"),
		"postgres:" + host + " pool_max_conns=4 pool_ping_idle_after=2s",
		"pgx:pool_min_conns=1 " + host + " pool_max_conns=4",
		"mysql:" + testdb.MySQLDSN(t) + "?pool_max_conns=4&parseTime=true&pool_reuse=fifo",
		"sqlite3:" + t.TempDir() + "/app.db?_busy_timeout=5000&pool_max_conns=4",
	} {
		db, err := sql.Open("sqlpool", dsn)
		if err != nil {
			t.Fatalf("sql.Open(%q): %v", dsn, err)
		}
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Errorf("query through %q: got %d, %v; want 1, nil", dsn, one, err)
		}
		db.Close()
	}
}
