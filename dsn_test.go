package sqlpool

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sqlpool/sqlpool/internal/kv"
	"github.com/sqlpool/sqlpool/internal/redact"
)

// dsnTestPassword is a password distinctive enough that finding it in an
// error message can only mean the message quotes the DSN.
const dsnTestPassword = "S3cr3t-Pa55"

// dsnTestKnown is the list every unknown-parameter error ends with.
const dsnTestKnown = "(known: pool_acquire_timeout, pool_alert_utilization, pool_alert_wait, pool_alert_window, pool_evict_codes, pool_health_check_period, pool_init_sql, pool_leak_reclaim, pool_leak_threshold, " +
	"pool_max_conn_idle_time, pool_max_conn_lifetime, pool_max_conn_lifetime_jitter, pool_max_conns, " +
	"pool_min_conns, pool_min_idle_conns, pool_name, pool_ping_idle_after, pool_ping_timeout, pool_require_writable, pool_reset_query, pool_reset_session, pool_reuse, pool_share, " +
	"pool_sqlcommenter, pool_stmt_cache_size, pool_trace_query_text, pool_tracing, pool_validation_query)"

// dsnTestParse does with a DSN what opening a sqlpool DB does: split it,
// take the pool_* parameters out, apply them to the defaults and validate.
func dsnTestParse(dsn string) (driverName, clean string, c config, err error) {
	driverName, inner, err := splitDSN(dsn)
	if err != nil {
		return "", "", c, err
	}
	clean, params, err := extractPoolParams(inner)
	if err != nil {
		return "", "", c, err
	}
	c = defaultConfig()
	if err := c.applyParams(params); err != nil {
		return "", "", c, err
	}
	if err := c.validate(); err != nil {
		return "", "", c, err
	}
	return driverName, clean, c, nil
}

func TestSplitDSN(t *testing.T) {
	for _, tt := range []struct {
		dsn, name, inner string
	}{
		{"postgres:postgres://app@db/app?sslmode=disable", "postgres", "postgres://app@db/app?sslmode=disable"},
		{"pgx:host=db dbname=app", "pgx", "host=db dbname=app"},
		{"pgx/v5:postgres://app@db/app", "pgx/v5", "postgres://app@db/app"},
		{"sqlite3:file:app.db?_busy_timeout=5000", "sqlite3", "file:app.db?_busy_timeout=5000"},
		{"sqlite3::memory:", "sqlite3", ":memory:"},
		{"sqlite3:", "sqlite3", ""},
		{"mysql:root:pw@tcp(127.0.0.1:3306)/test", "mysql", "root:pw@tcp(127.0.0.1:3306)/test"},
		{"my_driver-2.0:x", "my_driver-2.0", "x"},
	} {
		name, inner, err := splitDSN(tt.dsn)
		if err != nil || name != tt.name || inner != tt.inner {
			t.Errorf("splitDSN(%q) = %q, %q, %v; want %q, %q, nil", tt.dsn, name, inner, err, tt.name, tt.inner)
		}
	}
}

func TestSplitDSNWithoutDriverNameFailsWithoutQuotingTheDSN(t *testing.T) {
	const want = `sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`
	for _, dsn := range []string{
		"",
		"postgres",
		":postgres://app:" + dsnTestPassword + "@db/app",
		"postgres://app:" + dsnTestPassword + "@db/app", // the driver name forgotten
		"postgresql://app:" + dsnTestPassword + "@db/app",
		"my driver:x",
		"app@db:" + dsnTestPassword,
		"pösgres:x",
		" postgres:x",
	} {
		name, inner, err := splitDSN(dsn)
		if err == nil || err.Error() != want || name != "" || inner != "" {
			t.Errorf("splitDSN(%q) = %q, %q, %v; want error %s", dsn, name, inner, err, want)
		}
	}
}

func TestExtractPoolParams(t *testing.T) {
	type ps = []dsnParam
	for _, tt := range []struct {
		name   string
		inner  string
		clean  string
		params ps
	}{
		// Query form.
		{"url", "postgres://app:secret@db:5432/app?sslmode=disable&pool_max_conns=20",
			"postgres://app:secret@db:5432/app?sslmode=disable", ps{{"pool_max_conns", "20"}}},
		{"sqlite uri", "file:app.db?_busy_timeout=5000&pool_max_conns=4",
			"file:app.db?_busy_timeout=5000", ps{{"pool_max_conns", "4"}}},
		{"mysql", "root:pw@tcp(127.0.0.1:3306)/test?pool_max_conns=8&parseTime=true",
			"root:pw@tcp(127.0.0.1:3306)/test?parseTime=true", ps{{"pool_max_conns", "8"}}},
		{"only pool params drop the ?", "postgres://db/app?pool_max_conns=2&pool_min_conns=1",
			"postgres://db/app", ps{{"pool_max_conns", "2"}, {"pool_min_conns", "1"}}},
		{"order kept", "postgres://db/app?pool_name=b&a=1&pool_max_conns=3&c=2",
			"postgres://db/app?a=1&c=2", ps{{"pool_name", "b"}, {"pool_max_conns", "3"}}},
		{"other params byte for byte", "postgres://db/app?application_name=a%20b+c&pool_name=my%20pool&options=-c%20x%3Dy&x=%zz",
			"postgres://db/app?application_name=a%20b+c&options=-c%20x%3Dy&x=%zz", ps{{"pool_name", "my pool"}}},
		{"plus is a space", "postgres://db/app?pool_name=my+pool", "postgres://db/app", ps{{"pool_name", "my pool"}}},
		{"escaped key", "postgres://db/app?pool%5Fmax_conns=2", "postgres://db/app", ps{{"pool_max_conns", "2"}}},
		{"no value", "postgres://db/app?pool_max_conns&a=1", "postgres://db/app?a=1", ps{{"pool_max_conns", ""}}},
		{"empty pieces dropped", "postgres://db/app?a=1&&pool_max_conns=2&", "postgres://db/app?a=1", ps{{"pool_max_conns", "2"}}},
		{"fragment kept", "postgres://db/app?pool_max_conns=3#frag", "postgres://db/app#frag", ps{{"pool_max_conns", "3"}}},
		{"query ends at fragment", "postgres://db/app?a=1&pool_max_conns=3#f?pool_min_conns=1",
			"postgres://db/app?a=1#f?pool_min_conns=1", ps{{"pool_max_conns", "3"}}},
		{"slash in url query value", "postgres://db/app?sslrootcert=/etc/ssl/ca.pem&pool_max_conns=3",
			"postgres://db/app?sslrootcert=/etc/ssl/ca.pem", ps{{"pool_max_conns", "3"}}},
		{"slash in sqlite query value", "file:app.db?vfs=a/b&pool_max_conns=2",
			"file:app.db?vfs=a/b", ps{{"pool_max_conns", "2"}}},
		{"sqlite absolute path", "file:/var/lib/app.db?mode=ro&pool_max_conns=2",
			"file:/var/lib/app.db?mode=ro", ps{{"pool_max_conns", "2"}}},
		{"sqlite memory with params", ":memory:?pool_max_conns=2", ":memory:", ps{{"pool_max_conns", "2"}}},
		{"url without path", "postgres://db?pool_max_conns=2&sslmode=disable",
			"postgres://db?sslmode=disable", ps{{"pool_max_conns", "2"}}},
		{"url raw ? and # in password", "postgres://u:p?a#ss@db/app?pool_max_conns=2",
			"postgres://u:p?a#ss@db/app", ps{{"pool_max_conns", "2"}}},
		{"url multi-host", "postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write&pool_max_conns=3",
			"postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write", ps{{"pool_max_conns", "3"}}},
		{"sqlserver url", "sqlserver://sa:pw@localhost:1433?database=x&pool_max_conns=3",
			"sqlserver://sa:pw@localhost:1433?database=x", ps{{"pool_max_conns", "3"}}},
		{"mysql ? in password", "u:p?w@tcp(h:3306)/db?pool_max_conns=2", "u:p?w@tcp(h:3306)/db", ps{{"pool_max_conns", "2"}}},
		{"mysql @ and : in password", "user:p@ss:w@rd@tcp(host)/db?pool_max_conns=2&parseTime=true",
			"user:p@ss:w@rd@tcp(host)/db?parseTime=true", ps{{"pool_max_conns", "2"}}},
		{"mysql unix socket", "u:pw@unix(/tmp/mysql.sock)/db?pool_max_conns=2", "u:pw@unix(/tmp/mysql.sock)/db", ps{{"pool_max_conns", "2"}}},
		{"mysql no user", "tcp(localhost:3306)/db?pool_max_conns=2", "tcp(localhost:3306)/db", ps{{"pool_max_conns", "2"}}},
		{"mysql bare db", "/db?pool_max_conns=2", "/db", ps{{"pool_max_conns", "2"}}},

		// Keyword form.
		{"keyword", "host=127.0.0.1 dbname=test pool_max_conns=5", "host=127.0.0.1 dbname=test", ps{{"pool_max_conns", "5"}}},
		{"keyword quoted", `password='a b?c' pool_max_conns=5 user=x`, `password='a b?c' user=x`, ps{{"pool_max_conns", "5"}}},
		{"keyword first", "pool_max_conns=5 host=h", "host=h", ps{{"pool_max_conns", "5"}}},
		{"keyword spaces around =", "host=h  pool_max_conns = 5\tdbname = d", "host=h\tdbname = d", ps{{"pool_max_conns", "5"}}},
		{"keyword escapes", `  host=h pool_name='my \'pool\' \\o/' `, "  host=h ", ps{{"pool_name", `my 'pool' \o/`}}},
		{"keyword unquoted escape", `pool_name=a\ b host=h`, "host=h", ps{{"pool_name", "a b"}}},
		{"keyword only pool", "pool_max_conns=5 pool_min_conns=1", "", ps{{"pool_max_conns", "5"}, {"pool_min_conns", "1"}}},
		{"keyword adjacent after quote", "host=h pool_name='p'dbname=d", "host=h dbname=d", ps{{"pool_name", "p"}}},
		{"keyword empty quoted", "pool_name='' host=h", "host=h", ps{{"pool_name", ""}}},
		{"keyword pool_ inside a value", "options='-c pool_max_conns=5' host=h", "options='-c pool_max_conns=5' host=h", nil},

		// No pool parameters: unchanged.
		{"memory", ":memory:", ":memory:", nil},
		{"shared memory", "file::memory:?cache=shared", "file::memory:?cache=shared", nil},
		{"url without pool params", "postgres://u:p@h/db?a=1&&b=%zz", "postgres://u:p@h/db?a=1&&b=%zz", nil},
		{"upper case is not ours", "postgres://h/db?POOL_MAX_CONNS=2", "postgres://h/db?POOL_MAX_CONNS=2", nil},
		{"pool_ after #", "postgres://h/db#?pool_max_conns=2", "postgres://h/db#?pool_max_conns=2", nil},
		{"keyword unterminated without pool params", "host=h password='oops", "host=h password='oops", nil},
		{"empty", "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clean, params, err := extractPoolParams(tt.inner)
			if err != nil {
				t.Fatalf("extractPoolParams(%q): %v", tt.inner, err)
			}
			if clean != tt.clean {
				t.Errorf("extractPoolParams(%q) clean = %q, want %q", tt.inner, clean, tt.clean)
			}
			if !reflect.DeepEqual(params, tt.params) {
				t.Errorf("extractPoolParams(%q) params = %q, want %q", tt.inner, params, tt.params)
			}
			// Taking the parameters out twice changes nothing more.
			again, more, err := extractPoolParams(clean)
			if err != nil || again != clean || more != nil {
				t.Errorf("extractPoolParams(%q) = %q, %q, %v; want it unchanged", clean, again, more, err)
			}
		})
	}
}

func TestApplyParamsSetsEveryField(t *testing.T) {
	params := []dsnParam{
		{"pool_max_conns", "20"},
		{"pool_min_conns", "2"},
		{"pool_min_idle_conns", "3"},
		{"pool_stmt_cache_size", "0"},
		{"pool_max_conn_lifetime", "1h30m"},
		{"pool_max_conn_lifetime_jitter", "0"},
		{"pool_max_conn_idle_time", "0"},
		{"pool_health_check_period", "45s"},
		{"pool_acquire_timeout", "2.5s"},
		{"pool_ping_idle_after", "0"},
		{"pool_ping_timeout", "250ms"},
		{"pool_leak_threshold", "1m"},
		{"pool_validation_query", "SELECT 1"},
		{"pool_name", "orders"},
		{"pool_reuse", "fifo"},
		{"pool_share", "true"},
		{"pool_reset_session", "true"},
		{"pool_reset_query", "DISCARD ALL"},
		{"pool_init_sql", "SET search_path = app; SET statement_timeout = '5s'"},
	}
	c := defaultConfig()
	if err := c.applyParams(params); err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.maxConns, want.minConns, want.minIdleConns, want.stmtCacheSize = 20, 2, 3, 0
	for _, p := range params {
		want.mark(settingByParam[p.key]) // every one given
	}
	want.maxConnLifetime = 90 * time.Minute
	want.maxConnLifetimeJitter = 0
	want.maxConnIdleTime = 0
	want.healthCheckPeriod = 45 * time.Second
	want.acquireTimeout = 2500 * time.Millisecond
	want.pingIdleAfter = 0
	want.pingTimeout = 250 * time.Millisecond
	want.leakThreshold = time.Minute
	want.validationQuery = "SELECT 1"
	want.name = "orders"
	want.reuseFIFO = true
	want.share = true
	want.resetQuery = "DISCARD ALL"
	want.initSQL = []string{"SET search_path = app; SET statement_timeout = '5s'"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if err := c.validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestApplyParamsKeepsWhatTheDSNDoesNotSet(t *testing.T) {
	c := defaultConfig()
	WithMaxConns(7)(&c)
	WithFIFOReuse(true)(&c)
	WithValidationQuery("SELECT 2")(&c)
	if err := c.applyParams([]dsnParam{{"pool_min_conns", "1"}, {"pool_reuse", "lifo"}, {"pool_validation_query", ""}}); err != nil {
		t.Fatal(err)
	}
	if jitterSet := c.isSet(sMaxConnLifetimeJitter); c.maxConns != 7 || c.minConns != 1 || c.reuseFIFO || c.validationQuery != "" || jitterSet {
		t.Errorf("got maxConns=%d minConns=%d reuseFIFO=%v validationQuery=%q jitterSet=%v; want 7 1 false \"\" false",
			c.maxConns, c.minConns, c.reuseFIFO, c.validationQuery, jitterSet)
	}
	if err := c.applyParams(nil); err != nil {
		t.Errorf("applyParams(nil) = %v", err)
	}
}

func TestParseDSNErrors(t *testing.T) {
	long := strings.Repeat("1", 100)
	for _, tt := range []struct {
		dsn, want string
	}{
		// The DSN's shape.
		{"", `sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`},
		{"postgres://u:p@db/app?pool_max_conns=2", `sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`},
		{":memory:", `sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`},
		{"pgx:host=h pool_max_conns='5", `sqlpool: cannot find the pool_* parameters in the keyword=value DSN: a quoted value has no closing quote; quote values with spaces as key='a b', and write ' and \ inside quotes as \' and \\`},
		{"pgx:host=h dbname pool_max_conns=5", `sqlpool: cannot find the pool_* parameters in the keyword=value DSN: a keyword is not followed by "="; quote values with spaces as key='a b', and write ' and \ inside quotes as \' and \\`},
		{"postgres:postgres://h/db?pool_name=a%zz", `sqlpool: pool_name: "a%zz" is not valid URL escaping; write a literal % as %25`},
		{"postgres:postgres://h/db?pool_max%zz=1", `sqlpool: pool_max%zz: the parameter name is not valid URL escaping; write a literal % as %25`},

		// Unknown names.
		{"postgres:postgres://h/db?pool_max_con=5", "sqlpool: unknown DSN parameter pool_max_con; did you mean pool_max_conns? " + dsnTestKnown},
		{"postgres:postgres://h/db?pool_maxconns=5", "sqlpool: unknown DSN parameter pool_maxconns; did you mean pool_max_conns? " + dsnTestKnown},
		{"pgx:host=h pool_lifetime=1h", "sqlpool: unknown DSN parameter pool_lifetime " + dsnTestKnown},
		{"sqlite3:file:a.db?pool_idle_timeout=1m", "sqlpool: unknown DSN parameter pool_idle_timeout " + dsnTestKnown},
		{"sqlite3:file:a.db?pool_=1", "sqlpool: unknown DSN parameter pool_ " + dsnTestKnown},
		{"sqlite3:file:a.db?pool_reuses=fifo", "sqlpool: unknown DSN parameter pool_reuses; did you mean pool_reuse? " + dsnTestKnown},

		// Integers.
		{"postgres:postgres://h/db?pool_max_conns=abc", `sqlpool: pool_max_conns: "abc" is not a whole number; write e.g. pool_max_conns=10`},
		{"postgres:postgres://h/db?pool_min_conns=1.5", `sqlpool: pool_min_conns: "1.5" is not a whole number; write e.g. pool_min_conns=2`},
		{"postgres:postgres://h/db?pool_min_idle_conns=0x10", `sqlpool: pool_min_idle_conns: "0x10" is not a whole number; write e.g. pool_min_idle_conns=2`},
		{"postgres:postgres://h/db?pool_stmt_cache_size=1_000", `sqlpool: pool_stmt_cache_size: "1_000" is not a whole number; write e.g. pool_stmt_cache_size=256`},
		{"postgres:postgres://h/db?pool_max_conns=%2B10+", `sqlpool: pool_max_conns: "+10 " is not a whole number; write e.g. pool_max_conns=10`},
		{"postgres:postgres://h/db?pool_max_conns=99999999999999999999", `sqlpool: pool_max_conns: "99999999999999999999" is out of range; write e.g. pool_max_conns=10`},
		{"postgres:postgres://h/db?pool_min_conns=-99999999999999999999", `sqlpool: pool_min_conns: "-99999999999999999999" is out of range; write e.g. pool_min_conns=2`},
		{"postgres:postgres://h/db?pool_max_conns=" + long, `sqlpool: pool_max_conns: "` + long[:64] + `..." is out of range; write e.g. pool_max_conns=10`},
		{"postgres:postgres://h/db?pool_max_conns=0", "sqlpool: pool_max_conns must be >= 1, got 0"},
		{"postgres:postgres://h/db?pool_max_conns=-1", "sqlpool: pool_max_conns must be >= 1, got -1"},
		{"postgres:postgres://h/db?pool_min_conns=-1", "sqlpool: pool_min_conns must be >= 0, got -1"},
		{"postgres:postgres://h/db?pool_min_idle_conns=-2", "sqlpool: pool_min_idle_conns must be >= 0, got -2"},
		{"postgres:postgres://h/db?pool_stmt_cache_size=-1", "sqlpool: pool_stmt_cache_size must be >= 0, got -1"},
		{"postgres:postgres://h/db?pool_min_conns=5&pool_max_conns=4", "sqlpool: pool_min_conns (5) must not exceed pool_max_conns (4); lower pool_min_conns or raise pool_max_conns"},
		{"postgres:postgres://h/db?pool_min_idle_conns=9999999999&pool_max_conns=4", "sqlpool: pool_min_idle_conns (9999999999) must not exceed pool_max_conns (4); lower pool_min_idle_conns or raise pool_max_conns"},
		{"postgres:postgres://h/db?pool_max_conns=100001", "sqlpool: pool_max_conns must be <= 100000, got 100001; lower it to what the database server accepts"},

		// Durations.
		{"postgres:postgres://h/db?pool_max_conn_lifetime=5", `sqlpool: pool_max_conn_lifetime: "5" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_max_conn_lifetime=30m or 1h30m`},
		{"postgres:postgres://h/db?pool_max_conn_lifetime_jitter=1h30", `sqlpool: pool_max_conn_lifetime_jitter: "1h30" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_max_conn_lifetime_jitter=5m or 90s`},
		{"postgres:postgres://h/db?pool_max_conn_idle_time=10+min", `sqlpool: pool_max_conn_idle_time: "10 min" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_max_conn_idle_time=30m or 1h`},
		{"postgres:postgres://h/db?pool_health_check_period=s", `sqlpool: pool_health_check_period: "s" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_health_check_period=1m or 30s`},
		{"pgx:host=h pool_acquire_timeout=30S", `sqlpool: pool_acquire_timeout: "30S" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_acquire_timeout=30s or 1m`},
		{"pgx:host=h pool_ping_idle_after='1 s'", `sqlpool: pool_ping_idle_after: "1 s" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_ping_idle_after=1s or 500ms`},
		{"pgx:host=h pool_ping_timeout=P5S", `sqlpool: pool_ping_timeout: "P5S" is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. pool_ping_timeout=5s or 500ms`},
		{"pgx:host=h pool_leak_threshold=9999999999h", `sqlpool: pool_leak_threshold: "9999999999h" is out of range; the longest duration is 2562047h47m16.854775807s`},
		{"pgx:host=h pool_leak_threshold=-99999999999999999999ns", `sqlpool: pool_leak_threshold: "-99999999999999999999ns" is out of range; the longest duration is 2562047h47m16.854775807s`},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=-1h", "sqlpool: pool_max_conn_lifetime must be >= 0 (0 turns it off), got -1h0m0s"},
		{"postgres:postgres://h/db?pool_max_conn_lifetime_jitter=-1s", "sqlpool: pool_max_conn_lifetime_jitter must be >= 0 (0 turns it off), got -1s"},
		{"postgres:postgres://h/db?pool_max_conn_idle_time=-1m", "sqlpool: pool_max_conn_idle_time must be >= 0 (0 turns it off), got -1m0s"},
		{"postgres:postgres://h/db?pool_health_check_period=-1ms", "sqlpool: pool_health_check_period must be >= 0 (0 turns it off), got -1ms"},
		{"postgres:postgres://h/db?pool_acquire_timeout=-2s", "sqlpool: pool_acquire_timeout must be >= 0 (0 turns it off), got -2s"},
		{"postgres:postgres://h/db?pool_ping_timeout=-5s", "sqlpool: pool_ping_timeout must be >= 0 (0 turns it off), got -5s"},
		{"postgres:postgres://h/db?pool_leak_threshold=-1ns", "sqlpool: pool_leak_threshold must be >= 0 (0 turns it off), got -1ns"},
		{"postgres:postgres://h/db?pool_ping_idle_after=-1s", "sqlpool: pool_ping_idle_after must be >= 0 (0 pings before every hand-out), got -1s"},

		// No value.
		{"postgres:postgres://h/db?pool_max_conns=", "sqlpool: pool_max_conns has no value; write e.g. pool_max_conns=10"},
		{"postgres:postgres://h/db?pool_stmt_cache_size", "sqlpool: pool_stmt_cache_size has no value; write e.g. pool_stmt_cache_size=256"},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=", "sqlpool: pool_max_conn_lifetime has no value; write e.g. pool_max_conn_lifetime=30m"},
		{"pgx:host=h pool_acquire_timeout=''", "sqlpool: pool_acquire_timeout has no value; write e.g. pool_acquire_timeout=30s"},
		{"pgx:host=h pool_name= ", "sqlpool: pool_name has no value; write e.g. pool_name=orders"},
		{"sqlite3:file:a.db?pool_reuse=", "sqlpool: pool_reuse has no value; write pool_reuse=lifo or pool_reuse=fifo"},

		// Strings and choices.
		{"sqlite3:file:a.db?pool_reuse=lilo", `sqlpool: pool_reuse: "lilo" is not lifo or fifo`},
		{"sqlite3:file:a.db?pool_reuse=FIFO", `sqlpool: pool_reuse: "FIFO" is not lifo or fifo`},

		// Duplicates, even with equal values.
		{"postgres:postgres://h/db?pool_max_conns=5&pool_max_conns=6", "sqlpool: pool_max_conns is given twice; keep one"},
		{"pgx:pool_name=a host=h pool_name=a", "sqlpool: pool_name is given twice; keep one"},
		{"postgres:postgres://h/db?pool_max_conns=5&pool%5Fmax_conns=5", "sqlpool: pool_max_conns is given twice; keep one"},
	} {
		_, _, _, err := dsnTestParse(tt.dsn)
		if err == nil {
			t.Errorf("parse %q: no error, want %s", tt.dsn, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("parse %q:\n got %s\nwant %s", tt.dsn, got, tt.want)
		}
	}
}

func TestParseDSNGoodValues(t *testing.T) {
	for _, tt := range []struct {
		dsn   string
		check func(c config) bool
	}{
		{"postgres:postgres://h/db?pool_max_conns=%2B10", func(c config) bool { return c.maxConns == 10 }},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=0", func(c config) bool { return c.maxConnLifetime == 0 && c.lifetimeJitter() == 0 }},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=10m", func(c config) bool { return c.lifetimeJitter() == time.Minute && !c.isSet(sMaxConnLifetimeJitter) }},
		{"postgres:postgres://h/db?pool_max_conn_lifetime_jitter=0", func(c config) bool { return c.lifetimeJitter() == 0 && c.isSet(sMaxConnLifetimeJitter) }},
		{"postgres:postgres://h/db?pool_leak_threshold=-0", func(c config) bool { return c.leakThreshold == 0 }},
		{"postgres:postgres://h/db?pool_ping_idle_after=0", func(c config) bool { return c.pingIdleAfter == 0 }},
		{"postgres:postgres://h/db?pool_acquire_timeout=1.5h", func(c config) bool { return c.acquireTimeout == 90*time.Minute }},
		{"postgres:postgres://h/db?pool_validation_query=SELECT+1", func(c config) bool { return c.validationQuery == "SELECT 1" }},
		{"postgres:postgres://h/db?pool_name=%E2%9C%93", func(c config) bool { return c.name == "✓" }},
		{"postgres:postgres://h/db?pool_reuse=lifo", func(c config) bool { return !c.reuseFIFO }},
		{"pgx:host=h pool_validation_query='SELECT \\'x\\''", func(c config) bool { return c.validationQuery == "SELECT 'x'" }},
		{"postgres:postgres://h/db?pool_max_conns=100000", func(c config) bool { return c.maxConns == maxPoolConns }},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=2000000h", func(c config) bool { return c.maxConnLifetime == 2000000*time.Hour }},
		{"postgres:postgres://h/db?pool_max_conn_lifetime=1h&pool_max_conn_lifetime_jitter=2562046h", func(c config) bool { return c.lifetimeJitter() == 2562046*time.Hour }},
	} {
		_, _, c, err := dsnTestParse(tt.dsn)
		if err != nil {
			t.Errorf("parse %q: %v", tt.dsn, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("parse %q: got %+v", tt.dsn, c)
		}
	}
}

// TestParseDSNErrorsNeverQuoteThePassword runs DSNs of every form, each
// with a mistake, and checks that no error, unredacted, has the password.
func TestParseDSNErrorsNeverQuoteThePassword(t *testing.T) {
	const pw = dsnTestPassword
	var dsns []string
	for _, inner := range []string{
		"postgres://app:" + pw + "@db:5432/app?sslmode=disable&",
		"postgres://app:" + url.PathEscape(pw+"/?#@") + "@db/app?",
		"postgres://app:" + pw + "?#@db/app?",
		"postgres://db/app?password=" + pw + "&",
		"postgres://db?password=" + pw + "&",
		"host=db password=" + pw + " ",
		"host=db password='" + pw + " x' ",
		"password = " + pw + " ",
		"app:" + pw + "@tcp(127.0.0.1:3306)/app?",
		"app:" + pw + "@/app?",
		"app:p@" + pw + ":w@tcp(db)/app?",
		"server=db;password=" + pw + ";?",
	} {
		for _, mistake := range []string{
			"pool_max_conns=abc", "pool_max_conns=", "pool_max_conns=0", "pool_max_conn_lifetime=5",
			"pool_max_conn_lifetime=-1h", "pool_ping_idle_after=-1s", "pool_reuse=lilo", "pool_max_con=1",
			"pool_max_conns=99999999999999999999", "pool_name=a&pool_name=b", "pool_name=a pool_name=b",
			"pool_name=%zz", "pool_name='unterminated", "pool_max_conns", "pool_x%zz=1",
		} {
			dsns = append(dsns, "driver:"+inner+mistake)
		}
	}
	dsns = append(dsns, "", "postgres://app:"+pw+"@db/app", ":"+pw, pw+" :x", "app@"+pw+":x")
	for _, dsn := range dsns {
		_, _, _, err := dsnTestParse(dsn)
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("parse %q: error quotes the password: %v", dsn, err)
		}
	}
}

// dsnTestURLPassword returns the password in a URL as net/url (and so
// lib/pq) reads it, and where its raw text is in s.
func dsnTestURLPassword(t *testing.T, s string) (pw string, start, end int, ok bool) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return "", 0, 0, false
	}
	pw, ok = u.User.Password()
	if !ok || pw == "" {
		return "", 0, 0, false
	}
	// net/url: the authority follows "scheme://" (or a leading "//") and
	// ends at the first '/' (after the fragment and query are cut); the
	// userinfo is up to its last '@'.
	i := 2
	if u.Scheme != "" {
		i = len(u.Scheme) + len("://")
	}
	auth := s[i:]
	if j := strings.IndexAny(auth, "#?/"); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	colon := strings.IndexByte(auth, ':')
	if at < 0 || colon < 0 || colon > at || s[i+colon+1:i+at] == "" {
		t.Fatalf("net/url found password %q in %q, but not where expected", pw, s)
	}
	return pw, i + colon + 1, i + at, true
}

// FuzzParseDSN runs what opening a sqlpool DB does with a DSN on arbitrary
// input. It must not panic, errors start with "sqlpool: ", extraction is
// idempotent, SplitDSN fails exactly where the parse does, with the same
// error but redacted, and for each password in the DSN (a URL's, a mysql
// DSN's, a keyword DSN's password=...): the error does not depend on the
// password, and once redacted it does not hold it.
func FuzzParseDSN(f *testing.F) {
	for _, seed := range []string{
		"postgres:postgres://app:" + dsnTestPassword + "@db:5432/app?sslmode=disable&pool_max_conns=20",
		"postgres:postgres://app:" + dsnTestPassword + "@db/app?pool_max_conns=abc",
		"postgres:postgres://app:p%40ss@db/app?pool_max_con=1&pool_name=my%20pool#frag",
		"pgx:host=127.0.0.1 dbname=test password='a b?c' pool_max_conns=5 pool_reuse=fifo",
		"pgx:host=h pool_name='unterminated",
		"sqlite3:file:app.db?_busy_timeout=5000&pool_max_conns=4&pool_max_conn_lifetime=1h30m",
		"sqlite3::memory:",
		"mysql:root:pw@tcp(127.0.0.1:3306)/test?pool_max_conns=8&parseTime=true",
		"mysql:user:p@ss:w@rd@tcp(host)/db?pool_min_conns=9&pool_max_conns=2",
		"postgres:postgres://h/db?pool_max_conns=99999999999999999999&pool_leak_threshold=-1s",
		"pgx:host=db password=" + dsnTestPassword + " pool_max_conns=2 pool_max_conns=" + dsnTestPassword,
		"postgres:postgres://app:" + dsnTestPassword + "@db/app?pool_max_conn_lifetime=2562047h&pool_min_conns=1e30",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		_, clean, _, err := dsnTestParse(dsn)
		if err != nil && !strings.HasPrefix(err.Error(), "sqlpool: ") {
			t.Errorf("error %q does not start with \"sqlpool: \"", err)
		}
		if err == nil {
			again, params, err := extractPoolParams(clean)
			if err != nil || again != clean || params != nil {
				t.Errorf("extractPoolParams(%q) = %q, %q, %v; want it unchanged", clean, again, params, err)
			}
		}

		_, inner, splitErr := splitDSN(dsn)
		if splitErr != nil {
			inner = dsn // what a driver registered with a fixed inner driver gets
		}
		// The public path: the same error, redacted.
		_, _, apiErr := SplitDSN(dsn)
		if (apiErr == nil) != (err == nil) {
			t.Fatalf("SplitDSN: %v; the parse: %v; want both to fail or neither", apiErr, err)
		}
		if err != nil {
			want := err.Error() // splitDSN's error, which quotes nothing
			if splitErr == nil {
				want = redact.Error(err, redact.Secrets(inner)).Error()
			}
			if apiErr.Error() != want {
				t.Errorf("SplitDSN: %v\nwant the parse's error redacted: %s", apiErr, want)
			}
		}

		// Each password and where its text is in inner.
		type password struct {
			from       string
			pw         string
			start, end int
		}
		var pws []password
		if pw, start, end, ok := dsnTestURLPassword(t, inner); ok {
			pws = append(pws, password{"net/url", pw, start, end})
		}
		// mysql's own reading of the DSN: redact.Secrets must find its password.
		// (A password starting with "//" is left to the URL readings.)
		if cfg, err := mysql.ParseDSN(inner); err == nil && cfg.Passwd != "" && !strings.HasPrefix(cfg.Passwd, "//") {
			if !slices.Contains(redact.Secrets(inner), cfg.Passwd) {
				t.Errorf("redact.Secrets(%q) = %q, misses mysql's password %q", inner, redact.Secrets(inner), cfg.Passwd)
			}
			// ParseDSN: the last '/', the last '@' before it, the first
			// ':' before that.
			slash := strings.LastIndexByte(inner, '/')
			at := strings.LastIndexByte(inner[:max(slash, 0)], '@')
			if colon := strings.IndexByte(inner[:max(at, 0)], ':'); at > 0 && colon >= 0 && inner[colon+1:at] == cfg.Passwd {
				pws = append(pws, password{"mysql", cfg.Passwd, colon + 1, at})
			}
		}
		if kv.IsDSN(inner) {
			if toks, err := kv.Parse(inner); err == nil {
				for i, tok := range toks {
					if !redact.IsSecretKey(tok.Key) || tok.Value == "" {
						continue
					}
					// The value's text ends at the setting's end, or just
					// before its closing quote: take the one where putting
					// another password there changes that value alone.
					for _, end := range []int{tok.End - 1, tok.End} {
						start := end - len(tok.RawValue)
						if start < tok.Start || inner[start:end] != tok.RawValue {
							continue
						}
						other, err := kv.Parse(inner[:start] + "Zz9" + inner[end:])
						if err != nil || len(other) != len(toks) || other[i].Value != "Zz9" {
							continue
						}
						same := true
						for j := range toks {
							same = same && other[j].Key == toks[j].Key && (j == i || other[j].Value == toks[j].Value)
						}
						if same {
							pws = append(pws, password{"keyword " + tok.Key, tok.Value, start, end})
							break
						}
					}
				}
			}
		}
		if err == nil {
			return
		}
		for _, p := range pws {
			// The same DSN with another password gets the same error: no
			// error text comes from the password.
			other := "Zz9"
			if p.pw == other {
				other = "Qq8"
			}
			variant := strings.TrimSuffix(dsn, inner) + inner[:p.start] + other + inner[p.end:]
			if _, _, _, err2 := dsnTestParse(variant); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("%s password %q: %v\nwith password %q: %v\nwant the same error", p.from, p.pw, err, other, err2)
			}
			// Redacted as SplitDSN and the dial errors are, the error
			// does not have the password. (A password starting or ending
			// with 'x' could be made up with the mask.)
			if strings.HasPrefix(p.pw, "x") || strings.HasSuffix(p.pw, "x") {
				continue
			}
			if red := redact.Error(err, redact.Secrets(inner)); strings.Contains(red.Error(), p.pw) {
				t.Errorf("redacted error %q has the %s password %q (secrets %q)", red, p.from, p.pw, redact.Secrets(inner))
			}
		}
	})
}
