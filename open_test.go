package sqlpool_test

import (
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/testdb"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
)

// TestOpenRejectsBadInputNamingTheParameterAndTheFix is the table of hostile
// input: every bad DSN or setting, and the exact error a user gets for it. A
// mistake in the DSN's pool settings, or in its shape, fails at sql.Open with
// a message that names the parameter and the fix. A mistake in the inner
// driver's own DSN is that driver's to find: go-sql-driver/mysql finds it at
// sql.Open, but lib/pq, pgx and go-sqlite3 parse their DSN only when they
// connect, so it shows at the first use (Ping here), after
// pool_acquire_timeout, as the pool's last error. No error shows the password
// the DSN holds.
func TestOpenRejectsBadInputNamingTheParameterAndTheFix(t *testing.T) {
	const pw = "S3cr3t-Pa55"
	// The DSN forms, each holding the password, with pool_* parameters p.
	pgURL := func(p string) string { return "postgres:postgres://app:" + pw + "@db:5432/app?sslmode=disable&" + p }
	pgKeywords := func(p string) string { return "postgres:host=db user=app password=" + pw + " " + p }
	pgxURL := func(p string) string { return "pgx:postgres://app@db/app?password=" + pw + "&" + p }
	pgxKeywords := func(p string) string { return "pgx:host=db user=app password='" + pw + "' " + p }
	mysqlDSN := func(p string) string { return "mysql:app:" + pw + "@tcp(db:3306)/app?parseTime=true&" + p }
	sqliteDSN := func(p string) string { return "sqlite3:file:app.db?_busy_timeout=5000&_auth_pass=" + pw + "&" + p }
	// Errors found when connecting are permanent: the first operation gets
	// the driver's own error at once (within the test's wait, far below
	// the minute-long acquire timeout), as from the raw driver.
	const atPing = "pool_max_conns=1&pool_acquire_timeout=1m&pool_name=hostile"

	const noDriver = `sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`
	const known = "(known: pool_acquire_timeout, pool_alert_utilization, pool_alert_wait, pool_alert_window, pool_evict_codes, pool_health_check_period, pool_init_sql, pool_leak_reclaim, pool_leak_threshold, " +
		"pool_max_conn_idle_time, pool_max_conn_lifetime, pool_max_conn_lifetime_jitter, pool_max_conns, " +
		"pool_min_conns, pool_min_idle_conns, pool_name, pool_ping_idle_after, pool_ping_timeout, pool_require_writable, pool_reset_query, pool_reset_session, pool_reuse, pool_share, " +
		"pool_sqlcommenter, pool_stmt_cache_size, pool_trace_query_text, pool_tracing, pool_validation_query)"
	const units = "write a number and a unit (h, m, s, ms, us or ns), e.g. "
	const longest = "the longest duration is 2562047h47m16.854775807s"
	const keywordSyntax = `; quote values with spaces as key='a b', and write ' and \ inside quotes as \' and \\`
	defaultMax := fmt.Sprintf("%d, the default: max(10, number of CPUs)", max(10, runtime.NumCPU()))
	registered := func(except string) string {
		return "(registered: " + strings.Join(slices.DeleteFunc(sql.Drivers(), func(n string) bool { return n == except }), ", ") + ")"
	}

	tests := []struct {
		name string
		dsn  string
		ping bool   // sql.Open succeeds; the error comes from db.Ping
		want string // the whole error message
	}{
		// The DSN's shape.
		{"empty DSN", "", false, noDriver},
		{"inner driver name missing from a URL", "postgres://app:" + pw + "@db/app?pool_max_conns=2", false, noDriver},
		{"inner driver name missing from a sqlite DSN", ":memory:", false, noDriver},
		{"inner driver name alone", "sqlite3", false, noDriver},
		{"inner driver name with a space", "my driver:x", false, noDriver},
		{"unregistered inner driver", "postgress:postgres://app:" + pw + "@db/app", false,
			`sqlpool: no database/sql driver named "postgress" is registered; import the package that registers it ` + registered("postgress")},
		{"known but unimported inner driver", "sqlite:file:app.db?_auth_pass=" + pw, false,
			`sqlpool: no database/sql driver named "sqlite" is registered; add the import _ "modernc.org/sqlite" ` + registered("sqlite")},
		{"mysql DSN without the driver name: the user name reads as one", "app:" + pw + "@tcp(db:3306)/app", false,
			`sqlpool: no database/sql driver named "app" is registered; import the package that registers it ` + registered("app")},
		{"sqlpool wrapping itself", "sqlpool:sqlite3::memory:", false,
			`sqlpool: the inner driver "sqlpool" is sqlpool itself; name the driver sqlpool should wrap`},

		// Unknown parameters, with a suggestion when one is close.
		{"unknown parameter, a typo", pgURL("pool_max_con=3"), false, "sqlpool: unknown DSN parameter pool_max_con; did you mean pool_max_conns? " + known},
		{"unknown parameter, a missing underscore", pgKeywords("pool_maxconns=3"), false, "sqlpool: unknown DSN parameter pool_maxconns; did you mean pool_max_conns? " + known},
		{"unknown parameter, another pool's name", mysqlDSN("pool_idle_timeout=1m"), false, "sqlpool: unknown DSN parameter pool_idle_timeout " + known},
		{"unknown parameter, the prefix alone", sqliteDSN("pool_=1"), false, "sqlpool: unknown DSN parameter pool_ " + known},
		{"parameter name with a bad escape", pgURL("pool_max%zz=1"), false, `sqlpool: pool_max%zz: the parameter name is not valid URL escaping; write a literal % as %25`},

		// Malformed values, one per parameter.
		{"pool_max_conns not a number", pgURL("pool_max_conns=many"), false, `sqlpool: pool_max_conns: "many" is not a whole number; write e.g. pool_max_conns=10`},
		{"pool_max_conns with no value", pgURL("pool_max_conns"), false, "sqlpool: pool_max_conns has no value; write e.g. pool_max_conns=10"},
		{"pool_min_conns a fraction", pgKeywords("pool_min_conns=1.5"), false, `sqlpool: pool_min_conns: "1.5" is not a whole number; write e.g. pool_min_conns=2`},
		{"pool_min_idle_conns in hex", pgxURL("pool_min_idle_conns=0x10"), false, `sqlpool: pool_min_idle_conns: "0x10" is not a whole number; write e.g. pool_min_idle_conns=2`},
		{"pool_stmt_cache_size with a space", mysqlDSN("pool_stmt_cache_size=%2B10+"), false, `sqlpool: pool_stmt_cache_size: "+10 " is not a whole number; write e.g. pool_stmt_cache_size=256`},
		{"pool_max_conn_lifetime without a unit", pgURL("pool_max_conn_lifetime=5"), false, `sqlpool: pool_max_conn_lifetime: "5" is not a duration; ` + units + "pool_max_conn_lifetime=30m or 1h30m"},
		{"pool_max_conn_lifetime_jitter in days", pgKeywords("pool_max_conn_lifetime_jitter=1d"), false, `sqlpool: pool_max_conn_lifetime_jitter: "1d" is not a duration; ` + units + "pool_max_conn_lifetime_jitter=5m or 90s"},
		{"pool_max_conn_idle_time in words", pgURL("pool_max_conn_idle_time=30+minutes"), false, `sqlpool: pool_max_conn_idle_time: "30 minutes" is not a duration; ` + units + "pool_max_conn_idle_time=30m or 1h"},
		{"pool_health_check_period in months", pgxKeywords("pool_health_check_period=1M"), false, `sqlpool: pool_health_check_period: "1M" is not a duration; ` + units + "pool_health_check_period=1m or 30s"},
		{"pool_acquire_timeout in sec", mysqlDSN("pool_acquire_timeout=30sec"), false, `sqlpool: pool_acquire_timeout: "30sec" is not a duration; ` + units + "pool_acquire_timeout=30s or 1m"},
		{"pool_ping_idle_after a word", sqliteDSN("pool_ping_idle_after=one"), false, `sqlpool: pool_ping_idle_after: "one" is not a duration; ` + units + "pool_ping_idle_after=1s or 500ms"},
		{"pool_ping_timeout upper case", pgKeywords("pool_ping_timeout=5S"), false, `sqlpool: pool_ping_timeout: "5S" is not a duration; ` + units + "pool_ping_timeout=5s or 500ms"},
		{"pool_leak_threshold ISO 8601", pgURL("pool_leak_threshold=PT2M"), false, `sqlpool: pool_leak_threshold: "PT2M" is not a duration; ` + units + "pool_leak_threshold=30s or 5m"},
		{"pool_leak_reclaim garbage bool", pgURL("pool_leak_reclaim=yes"), false, `sqlpool: pool_leak_reclaim: "yes" is not true or false`},
		{"pool_tracing garbage bool", pgxURL("pool_tracing=on"), false, `sqlpool: pool_tracing: "on" is not true or false`},
		{"pool_sqlcommenter garbage bool", sqliteDSN("pool_sqlcommenter=2"), false, `sqlpool: pool_sqlcommenter: "2" is not true or false`},
		{"pool_sqlcommenter with no value", pgKeywords("pool_sqlcommenter=''"), false, "sqlpool: pool_sqlcommenter has no value; write pool_sqlcommenter=true or pool_sqlcommenter=false"},
		{"pool_reuse unknown order", sqliteDSN("pool_reuse=random"), false, `sqlpool: pool_reuse: "random" is not lifo or fifo`},
		{"pool_reuse upper case", mysqlDSN("pool_reuse=FIFO"), false, `sqlpool: pool_reuse: "FIFO" is not lifo or fifo`},
		{"pool_trace_query_text unknown choice", pgURL("pool_trace_query_text=full"), false, `sqlpool: pool_trace_query_text: "full" is not auto, sanitized or off`},
		{"pool_trace_query_text with no value", pgURL("pool_trace_query_text="), false, "sqlpool: pool_trace_query_text has no value; write pool_trace_query_text=auto, pool_trace_query_text=sanitized or pool_trace_query_text=off"},
		{"pool_name empty", pgKeywords("pool_name=''"), false, "sqlpool: pool_name has no value; write e.g. pool_name=orders"},
		{"pool_validation_query with a bad escape", pgURL("pool_validation_query=SELECT%zz1"), false, `sqlpool: pool_validation_query: "SELECT%zz1" is not valid URL escaping; write a literal % as %25`},
		{"pool value with an unterminated quote", pgKeywords("pool_name='orders pool_max_conns=2"), false, "sqlpool: cannot find the pool_* parameters in the keyword=value DSN: a quoted value has no closing quote" + keywordSyntax},
		{"keyword without =", pgxKeywords("sslmode pool_max_conns=2"), false, `sqlpool: cannot find the pool_* parameters in the keyword=value DSN: a keyword is not followed by "="` + keywordSyntax},

		// Negative numbers, and zero where zero is not allowed.
		{"pool_max_conns zero", pgURL("pool_max_conns=0"), false, "sqlpool: pool_max_conns must be >= 1, got 0"},
		{"pool_max_conns negative", pgURL("pool_max_conns=-1"), false, "sqlpool: pool_max_conns must be >= 1, got -1"},
		{"pool_min_conns negative", pgKeywords("pool_min_conns=-1"), false, "sqlpool: pool_min_conns must be >= 0, got -1"},
		{"pool_min_idle_conns negative", mysqlDSN("pool_min_idle_conns=-2"), false, "sqlpool: pool_min_idle_conns must be >= 0, got -2"},
		{"pool_stmt_cache_size negative", sqliteDSN("pool_stmt_cache_size=-1"), false, "sqlpool: pool_stmt_cache_size must be >= 0, got -1"},
		{"pool_max_conn_lifetime negative", pgURL("pool_max_conn_lifetime=-1h"), false, "sqlpool: pool_max_conn_lifetime must be >= 0 (0 turns it off), got -1h0m0s"},
		{"pool_max_conn_lifetime_jitter negative", pgURL("pool_max_conn_lifetime_jitter=-1s"), false, "sqlpool: pool_max_conn_lifetime_jitter must be >= 0 (0 turns it off), got -1s"},
		{"pool_max_conn_idle_time negative", pgxKeywords("pool_max_conn_idle_time=-1m"), false, "sqlpool: pool_max_conn_idle_time must be >= 0 (0 turns it off), got -1m0s"},
		{"pool_health_check_period negative", pgxURL("pool_health_check_period=-1ms"), false, "sqlpool: pool_health_check_period must be >= 0 (0 turns it off), got -1ms"},
		{"pool_acquire_timeout negative", pgURL("pool_acquire_timeout=-2s"), false, "sqlpool: pool_acquire_timeout must be >= 0 (0 turns it off), got -2s"},
		{"pool_ping_idle_after negative", mysqlDSN("pool_ping_idle_after=-1s"), false, "sqlpool: pool_ping_idle_after must be >= 0 (0 pings before every hand-out), got -1s"},
		{"pool_ping_timeout negative", sqliteDSN("pool_ping_timeout=-5s"), false, "sqlpool: pool_ping_timeout must be >= 0 (0 turns it off), got -5s"},
		{"pool_leak_threshold negative", pgKeywords("pool_leak_threshold=-1ns"), false, "sqlpool: pool_leak_threshold must be >= 0 (0 turns it off), got -1ns"},

		// Enormous numbers.
		{"pool_max_conns beyond int64", pgURL("pool_max_conns=99999999999999999999"), false, `sqlpool: pool_max_conns: "99999999999999999999" is out of range; write e.g. pool_max_conns=10`},
		{"pool_max_conns the largest int64", pgURL("pool_max_conns=9223372036854775807"), false, "sqlpool: pool_max_conns must be <= 100000, got 9223372036854775807; lower it to what the database server accepts"},
		{"pool_max_conns a million", mysqlDSN("pool_max_conns=1000000"), false, "sqlpool: pool_max_conns must be <= 100000, got 1000000; lower it to what the database server accepts"},
		{"pool_min_conns in exponent notation", pgURL("pool_min_conns=1e30"), false, `sqlpool: pool_min_conns: "1e30" is not a whole number; write e.g. pool_min_conns=2`},
		{"pool_min_conns the largest int64, pool_max_conns left to default", pgKeywords("pool_min_conns=9223372036854775807"), false,
			"sqlpool: pool_min_conns (9223372036854775807) must not exceed pool_max_conns (" + defaultMax + "); lower pool_min_conns or raise pool_max_conns"},
		{"pool_stmt_cache_size below int64", sqliteDSN("pool_stmt_cache_size=-99999999999999999999"), false, `sqlpool: pool_stmt_cache_size: "-99999999999999999999" is out of range; write e.g. pool_stmt_cache_size=256`},
		{"pool_max_conns a hundred digits", pgURL("pool_max_conns=" + strings.Repeat("9", 100)), false, `sqlpool: pool_max_conns: "` + strings.Repeat("9", 64) + `..." is out of range; write e.g. pool_max_conns=10`},
		{"pool_acquire_timeout beyond int64 nanoseconds", pgURL("pool_acquire_timeout=9999999999h"), false, `sqlpool: pool_acquire_timeout: "9999999999h" is out of range; ` + longest},
		{"pool_ping_timeout beyond int64 nanoseconds", pgxKeywords("pool_ping_timeout=99999999999999999999ns"), false, `sqlpool: pool_ping_timeout: "99999999999999999999ns" is out of range; ` + longest},
		{"pool_leak_threshold below int64 nanoseconds", mysqlDSN("pool_leak_threshold=-2562048h"), false, `sqlpool: pool_leak_threshold: "-2562048h" is out of range; ` + longest},
		{"pool_max_conn_idle_time in exponent notation", pgURL("pool_max_conn_idle_time=1e30h"), false, `sqlpool: pool_max_conn_idle_time: "1e30h" is not a duration; ` + units + "pool_max_conn_idle_time=30m or 1h"},
		{"pool_max_conn_lifetime that overflows with its default jitter", pgURL("pool_max_conn_lifetime=2562047h"), false,
			"sqlpool: pool_max_conn_lifetime (2562047h0m0s) plus its default jitter, a tenth of it (256204h42m0s), exceeds the longest duration, 2562047h47m16.854775807s; lower it, or write pool_max_conn_lifetime=0 for no limit"},
		{"pool_max_conn_lifetime_jitter that overflows the lifetime", sqliteDSN("pool_max_conn_lifetime=1h&pool_max_conn_lifetime_jitter=2562047h"), false,
			"sqlpool: pool_max_conn_lifetime (1h0m0s) plus pool_max_conn_lifetime_jitter (2562047h0m0s) exceeds the longest duration, 2562047h47m16.854775807s; lower them, or write pool_max_conn_lifetime=0 for no limit"},

		// Duplicates, whatever the values.
		{"duplicate, URL form", pgURL("pool_max_conns=2&pool_max_conns=3"), false, "sqlpool: pool_max_conns is given twice; keep one"},
		{"duplicate with the same value", pgxURL("pool_max_conns=2&pool_max_conns=2"), false, "sqlpool: pool_max_conns is given twice; keep one"},
		{"duplicate, once escaped", pgURL("pool_max_conns=2&pool%5Fmax_conns=3"), false, "sqlpool: pool_max_conns is given twice; keep one"},
		{"duplicate, keyword form", pgKeywords("pool_max_conns=2 dbname=app pool_max_conns=3"), false, "sqlpool: pool_max_conns is given twice; keep one"},
		{"duplicate, keyword form with quotes", pgxKeywords("pool_name='a' pool_name = 'b'"), false, "sqlpool: pool_name is given twice; keep one"},
		{"duplicate, mysql form", mysqlDSN("pool_reuse=fifo&loc=UTC&pool_reuse=fifo"), false, "sqlpool: pool_reuse is given twice; keep one"},
		{"duplicate, sqlite form", sqliteDSN("pool_leak_threshold=1m&pool_leak_threshold=0"), false, "sqlpool: pool_leak_threshold is given twice; keep one"},
		{"three times", pgURL("pool_max_conns=1&pool_max_conns=2&pool_max_conns=3"), false, "sqlpool: pool_max_conns is given twice; keep one"},

		// Settings that contradict each other.
		{"min above max, URL form", pgURL("pool_min_conns=9&pool_max_conns=2"), false, "sqlpool: pool_min_conns (9) must not exceed pool_max_conns (2); lower pool_min_conns or raise pool_max_conns"},
		{"min above max, keyword form", pgKeywords("pool_min_conns=9 pool_max_conns=2"), false, "sqlpool: pool_min_conns (9) must not exceed pool_max_conns (2); lower pool_min_conns or raise pool_max_conns"},
		{"min above max, mysql form", mysqlDSN("pool_min_conns=9&pool_max_conns=2"), false, "sqlpool: pool_min_conns (9) must not exceed pool_max_conns (2); lower pool_min_conns or raise pool_max_conns"},
		{"min above max, sqlite form", sqliteDSN("pool_max_conns=2&pool_min_conns=9"), false, "sqlpool: pool_min_conns (9) must not exceed pool_max_conns (2); lower pool_min_conns or raise pool_max_conns"},
		{"min above the default max", pgxURL("pool_min_conns=1000"), false, "sqlpool: pool_min_conns (1000) must not exceed pool_max_conns (" + defaultMax + "); lower pool_min_conns or raise pool_max_conns"},
		{"min idle above max", pgURL("pool_min_idle_conns=5&pool_max_conns=4"), false, "sqlpool: pool_min_idle_conns (5) must not exceed pool_max_conns (4); lower pool_min_idle_conns or raise pool_max_conns"},
		{"reclaim without leak detection", sqliteDSN("pool_leak_reclaim=true&pool_leak_threshold=0"), false,
			"sqlpool: pool_leak_reclaim=true needs leak detection; set pool_leak_threshold > 0 (e.g. pool_leak_threshold=5m) or drop pool_leak_reclaim"},

		// The inner driver's own DSN. go-sql-driver/mysql checks it at sql.Open.
		{"mysql: address not closed", "mysql:app:" + pw + "@tcp(db:3306/app?pool_max_conns=2", false, "sqlpool: the mysql driver rejected its DSN: invalid DSN: network address not terminated (missing closing brace)"},
		{"mysql: bad bool", mysqlDSN("pool_max_conns=2&interpolateParams=maybe"), false, "sqlpool: the mysql driver rejected its DSN: invalid bool value: maybe"},
		{"mysql: bad escape in the database name", "mysql:app:" + pw + "@tcp(db:3306)/app%zz?pool_max_conns=2", false, `sqlpool: the mysql driver rejected its DSN: invalid dbname "app%zz": invalid URL escape "%zz"`},
		{"mysql: duration without a unit", mysqlDSN("timeout=5"), false, `sqlpool: the mysql driver rejected its DSN: time: missing unit in duration "5"`},
		{"mysql: given a URL", "mysql:mysql://app:" + pw + "@db:3306/app?pool_max_conns=2", false, "sqlpool: the mysql driver rejected its DSN: default addr for network 'db:3306' unknown"},
		{"mysql: port out of range", "mysql:app:" + pw + "@tcp(127.0.0.1:99999)/app?" + atPing, true, "dial tcp: address 99999: invalid port"},
		// lib/pq, pgx and go-sqlite3 check theirs when connecting.
		{"lib/pq: port not a number", "postgres:postgres://app:" + pw + "@db:bad/app?" + atPing, true, `parse "postgres://app:xxxxx@db:bad/app": invalid port ":bad" after host`},
		{"lib/pq: port out of range", "postgres:postgres://app:" + pw + "@db:99999/app?" + atPing, true, `pq: wrong value for "port": strconv.ParseUint: parsing "99999": value out of range`},
		{"lib/pq: IPv6 host not closed", "postgres:postgres://app:" + pw + "@[::1/app?" + atPing, true, `parse "postgres://app:xxxxx@[::1/app": missing ']' in host`},
		{"lib/pq: bad escape in the password", "postgres:postgres://app:" + pw + "%zz@db/app?" + atPing, true, `parse "postgres://app:xxxxx@db/app": invalid URL escape "%zz"`},
		{"lib/pq: unknown sslmode", "postgres:postgres://app:" + pw + "@db/app?sslmode=maybe&" + atPing, true, `pq: wrong value for "sslmode": "maybe" is not supported; supported values are disable, allow, prefer, require, verify-full, or verify-ca`},
		{"lib/pq: keyword port not a number", pgKeywords("port=bad " + strings.ReplaceAll(atPing, "&", " ")), true, `pq: wrong value for "port": strconv.ParseUint: parsing "bad": invalid syntax`},
		{"pgx: port not a number", "pgx:postgres://app:" + pw + "@db:bad/app?" + atPing, true, "cannot parse `postgres://app:xxxxx@db:bad/app`: invalid port"},
		{"pgx: IPv6 host not closed", "pgx:postgres://app:" + pw + "@[::1/app?" + atPing, true, "cannot parse `postgres://app:xxxxx@[::1/app`: failed to parse as URL (end of string reached when looking for matching \"]\" in IPv6 host address in URI)"},
		{"pgx: unknown sslmode", pgxURL(atPing + "&sslmode=maybe"), true, "cannot parse `postgres://app@db/app?password=xxxxx&sslmode=maybe`: failed to configure TLS (sslmode is invalid)"},
		{"pgx: keyword port not a number", pgxKeywords("port=bad " + strings.ReplaceAll(atPing, "&", " ")), true, "cannot parse `host=db user=app password=xxxxx port=bad`: invalid port"},
		{"sqlite3: unknown mode", sqliteDSN(atPing + "&mode=bogus"), true, "no such access mode: bogus"},
		{"sqlite3: busy timeout not a number", "sqlite3:file:app.db?_busy_timeout=abc&" + atPing, true, `Invalid _busy_timeout: abc: strconv.ParseInt: parsing "abc": invalid syntax`},
		{"sqlite3: directory missing", "sqlite3:file:/nonexistent/sqlpool/app.db?mode=ro&" + atPing, true, "unable to open database file: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("sqlpool", tt.dsn)
			if tt.ping {
				if err != nil {
					t.Fatalf("sql.Open(%q): %v; want it to succeed and Ping to fail", tt.dsn, err)
				}
				defer db.Close()
				start := time.Now()
				err = db.Ping()
				if waited := time.Since(start); waited > 30*time.Second {
					t.Errorf("db.Ping() after sql.Open(%q) failed after %v, not at once", tt.dsn, waited)
				}
				if err == nil {
					t.Fatalf("db.Ping() after sql.Open(%q) succeeded, want %s", tt.dsn, tt.want)
				}
				if msg := err.Error(); msg != tt.want {
					t.Errorf("db.Ping() after sql.Open(%q):\n got %s\nwant %s", tt.dsn, msg, tt.want)
				}
			} else {
				if err == nil {
					db.Close()
					t.Fatalf("sql.Open(%q) succeeded, want %s", tt.dsn, tt.want)
				}
				if msg := err.Error(); msg != tt.want {
					t.Errorf("sql.Open(%q):\n got %s\nwant %s", tt.dsn, msg, tt.want)
				}
			}
			if strings.Contains(tt.dsn, pw) && strings.Contains(fmt.Sprintf("%+v", err), pw) {
				t.Errorf("the error shows the password: %+v", err)
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
