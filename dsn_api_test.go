package sqlpool_test

import (
	"database/sql"
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/sqlpool/sqlpool"
)

// apiPassword is a password distinctive enough that finding it anywhere
// means a DSN was quoted.
const apiPassword = "S3cr3t-Pa55"

func TestSplitDSNRemovesThePoolParamsAndKeepsTheRestByteForByte(t *testing.T) {
	for _, tt := range []struct {
		dsn, name, inner string
	}{
		{"postgres:postgres://app:" + apiPassword + "@db:5432/app?sslmode=disable&pool_max_conns=4&connect_timeout=5",
			"postgres", "postgres://app:" + apiPassword + "@db:5432/app?sslmode=disable&connect_timeout=5"},
		{"postgres:postgres://app@db/app?pool_max_conns=4", "postgres", "postgres://app@db/app"},
		{"pgx/v5:postgres://app@db/app?pool_name=a%20b#frag", "pgx/v5", "postgres://app@db/app#frag"},
		{"postgres:host=db  user=app password='a b' pool_max_conns=4 dbname=app", "postgres", "host=db  user=app password='a b' dbname=app"},
		{"pgx:host=db pool_max_conns=4", "pgx", "host=db"},
		{"mysql:root:p?w@tcp(127.0.0.1:3306)/test?pool_max_conns=4&parseTime=true", "mysql", "root:p?w@tcp(127.0.0.1:3306)/test?parseTime=true"},
		{"sqlite3:file:/tmp/a.db?_busy_timeout=5000&pool_max_conn_lifetime=1h30m&_journal_mode=WAL", "sqlite3", "file:/tmp/a.db?_busy_timeout=5000&_journal_mode=WAL"},
		{"sqlite3::memory:", "sqlite3", ":memory:"},
		// Without pool_* parameters the inner DSN is untouched, odd spacing,
		// empty parameters and escapes included.
		{"postgres:postgres://app@db/app?a=%41&&b=+", "postgres", "postgres://app@db/app?a=%41&&b=+"},
		{"postgres: host=db   dbname=app ", "postgres", " host=db   dbname=app "},
	} {
		name, inner, err := sqlpool.SplitDSN(tt.dsn)
		if err != nil || name != tt.name || inner != tt.inner {
			t.Errorf("SplitDSN(%q)\ngot  %q, %q, %v\nwant %q, %q, nil", tt.dsn, name, inner, err, tt.name, tt.inner)
		}
	}
}

// TestSplitDSNFailsWithOpensErrorWithoutThePassword checks that SplitDSN
// refuses what sql.Open("sqlpool", dsn) refuses in the DSN itself, with the
// same message, and that the message never has the password.
func TestSplitDSNFailsWithOpensErrorWithoutThePassword(t *testing.T) {
	for _, dsn := range []string{
		"",
		"postgres://app:" + apiPassword + "@db/app", // the driver name forgotten
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_con=3",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conns=many",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conns=0",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conns=2&pool_min_conns=3",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_name=a&pool_name=b",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_ping_idle_after=-1s",
		"postgres:host=db password=" + apiPassword + " pool_max_conn_lifetime=5",
		"postgres:host=db password=" + apiPassword + " pool_name='" + apiPassword,
		"mysql:app:" + apiPassword + "@tcp(db)/app?pool_reuse=lilo",
		"sqlite3:file:app.db?pool_leak_threshold=-1s",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conns=1000000",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conn_lifetime=2562047h",
		"postgres:host=db password=" + apiPassword + " pool_min_conns=2 pool_min_conns=2",
	} {
		name, inner, err := sqlpool.SplitDSN(dsn)
		if err == nil {
			t.Errorf("SplitDSN(%q) = %q, %q, nil; want an error", dsn, name, inner)
			continue
		}
		if name != "" || inner != "" {
			t.Errorf("SplitDSN(%q) = %q, %q with an error; want empty strings", dsn, name, inner)
		}
		if strings.Contains(err.Error(), apiPassword) {
			t.Errorf("SplitDSN(%q): error %q has the password", dsn, err)
		}
		db, openErr := sql.Open("sqlpool", dsn)
		if openErr == nil {
			db.Close()
			t.Errorf("sql.Open(%q) succeeded where SplitDSN failed with %v", dsn, err)
			continue
		}
		if err.Error() != openErr.Error() {
			t.Errorf("SplitDSN(%q):\ngot  error %q\nwant sql.Open's %q", dsn, err, openErr)
		}
	}
}

func TestSplitDSNGivesWhatTheRawDriverOpens(t *testing.T) {
	dsn := "sqlite3:file:splitdsn?mode=memory&cache=shared&pool_max_conns=2"
	pooled, err := sql.Open("sqlpool", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pooled.Close() })
	if _, err := pooled.Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('through sqlpool')"); err != nil {
		t.Fatal(err)
	}

	name, inner, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		t.Fatalf("SplitDSN(%q): %v", dsn, err)
	}
	raw, err := sql.Open(name, inner)
	if err != nil {
		t.Fatalf("sql.Open(%q, %q): %v", name, inner, err)
	}
	t.Cleanup(func() { raw.Close() })
	var got string
	if err := raw.QueryRow("SELECT v FROM t").Scan(&got); err != nil {
		t.Fatalf("the raw driver on %q: %v", inner, err)
	}
	if got != "through sqlpool" {
		t.Errorf("the raw driver read %q, want %q", got, "through sqlpool")
	}
}

func TestPoolParamsReturnsWhatTheDSNSets(t *testing.T) {
	for _, tt := range []struct {
		dsn  string
		want map[string]string
	}{
		{"postgres:postgres://app@db/app?sslmode=disable&pool_max_conns=4&pool_name=a%20b&pool_max_conn_lifetime=1h30m",
			map[string]string{"pool_max_conns": "4", "pool_name": "a b", "pool_max_conn_lifetime": "1h30m"}},
		{"postgres:host=db pool_ping_idle_after = 3s pool_validation_query='SELECT 1' application_name=x",
			map[string]string{"pool_ping_idle_after": "3s", "pool_validation_query": "SELECT 1"}},
		{"mysql:root:pw@tcp(h:3306)/test?pool_reuse=fifo", map[string]string{"pool_reuse": "fifo"}},
		{"sqlite3:file:app.db?_busy_timeout=5000", map[string]string{}},
		{"sqlite3::memory:", map[string]string{}},
	} {
		got, err := sqlpool.PoolParams(tt.dsn)
		if err != nil || got == nil || !maps.Equal(got, tt.want) {
			t.Errorf("PoolParams(%q) = %v, %v; want %v, nil", tt.dsn, got, err, tt.want)
		}
	}
	for _, dsn := range []string{
		"postgres://app:" + apiPassword + "@db/app?pool_max_conns=4",
		"postgres:postgres://app:" + apiPassword + "@db/app?pool_max_conns=4&pool_max_conn=5",
		"postgres:host=db password=" + apiPassword + " pool_max_conn_lifetime=soon",
	} {
		got, err := sqlpool.PoolParams(dsn)
		_, _, splitErr := sqlpool.SplitDSN(dsn)
		if err == nil || got != nil || err.Error() != splitErr.Error() {
			t.Errorf("PoolParams(%q) = %v, %v; want nil and SplitDSN's error %v", dsn, got, err, splitErr)
		}
	}
}

func TestRedactDSNHidesThePasswordAndKeepsTheRest(t *testing.T) {
	const pw = apiPassword
	for _, tt := range []struct{ dsn, want string }{
		// URL
		{"postgres:postgres://app:" + pw + "@db:5432/app?sslmode=disable&pool_max_conns=4",
			"postgres:postgres://app:xxxxx@db:5432/app?sslmode=disable&pool_max_conns=4"},
		{"pgx:postgres://app:" + pw + "@db/app", "pgx:postgres://app:xxxxx@db/app"},
		{"pgx:postgres://app:S3cr3t%2FPa55@db/app", "pgx:postgres://app:xxxxx@db/app"},
		{"pgx:postgres://app@db/app?password=" + pw + "&sslmode=disable&pool_max_conns=4",
			"pgx:postgres://app@db/app?password=xxxxx&sslmode=disable&pool_max_conns=4"},
		{"pgx:postgres://app@db/app", "pgx:postgres://app@db/app"},
		// keyword
		{"postgres:host=db user=app password=" + pw + " dbname=app pool_max_conns=4",
			"postgres:host=db user=app password=xxxxx dbname=app pool_max_conns=4"},
		{`postgres:host=db user=app password='a b\'c' dbname=app pool_max_conns=4`,
			`postgres:host=db user=app password='xxxxx' dbname=app pool_max_conns=4`},
		{"postgres:host=db password = " + pw, "postgres:host=db password = xxxxx"},
		{"postgres:host=db user=app", "postgres:host=db user=app"},
		// go-sql-driver/mysql
		{"mysql:root:" + pw + "@tcp(127.0.0.1:3306)/test?parseTime=true&pool_max_conns=4",
			"mysql:root:xxxxx@tcp(127.0.0.1:3306)/test?parseTime=true&pool_max_conns=4"},
		{"mysql:root:" + pw + "@/test", "mysql:root:xxxxx@/test"},
		{"mysql:root@tcp(127.0.0.1:3306)/test", "mysql:root@tcp(127.0.0.1:3306)/test"},
		// go-sqlite3
		{"sqlite3:file:/tmp/a.db?_auth_user=u&_auth_pass=" + pw + "&pool_max_conns=2",
			"sqlite3:file:/tmp/a.db?_auth_user=u&_auth_pass=xxxxx&pool_max_conns=2"},
		{"sqlite3:file:/tmp/a.db", "sqlite3:file:/tmp/a.db"},
		// Not a sqlpool DSN: redacted as an inner DSN.
		{"postgres://app:" + pw + "@db/app", "postgres://app:xxxxx@db/app"},
		{"host=db password=" + pw, "host=db password=xxxxx"},
		{"", ""},
		// Not checked: a DSN sqlpool would refuse is redacted all the same.
		{"postgres:postgres://app:" + pw + "@db/app?pool_max_conns=lots",
			"postgres:postgres://app:xxxxx@db/app?pool_max_conns=lots"},
	} {
		got := sqlpool.RedactDSN(tt.dsn)
		if got != tt.want {
			t.Errorf("RedactDSN(%q)\ngot  %q\nwant %q", tt.dsn, got, tt.want)
		}
		if strings.Contains(got, "S3cr3t") || strings.Contains(got, "Pa55") {
			t.Errorf("RedactDSN(%q) = %q shows the password", tt.dsn, got)
		}
	}
}

// TestRedactDSNHidesCarelessPasswords writes the password with each
// character a driver could split it at, raw, in every DSN form.
func TestRedactDSNHidesCarelessPasswords(t *testing.T) {
	for _, c := range []string{"", "/", "?", "#", "@", ":", "&", "=", "'", `\`, "%41", "é"} {
		pw := "S3cr3t" + c + "Pa55"
		quoted := "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(pw) + "'"
		for _, dsn := range []string{
			"postgres:postgres://app:" + pw + "@db:5432/app?sslmode=disable",
			"pgx:postgres://app@db:5432/app?password=" + pw + "&sslmode=disable",
			"postgres:host=db password=" + quoted + " dbname=app",
			"mysql:app:" + pw + "@tcp(db:3306)/app?parseTime=true",
		} {
			if got := sqlpool.RedactDSN(dsn); strings.Contains(got, "S3cr3t") || strings.Contains(got, "Pa55") {
				t.Errorf("RedactDSN(%q) = %q shows the password", dsn, got)
			}
		}
	}
}

func TestRedactErrorMasksTheDSNsPasswordsInAnotherDriversError(t *testing.T) {
	const dsn = "postgres:postgres://app:S3cr3t-Pa55@db:bad/app?pool_max_conns=4"
	_, inner, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, perr := url.Parse(inner) // quotes the URL whole, as lib/pq's error does
	if perr == nil || !strings.Contains(perr.Error(), "S3cr3t-Pa55") {
		t.Fatalf("url.Parse(%q) = %v, want an error quoting the password", inner, perr)
	}
	for _, d := range []string{dsn, inner} {
		got := sqlpool.RedactError(perr, d)
		if want := `parse "postgres://app:xxxxx@db:bad/app": invalid port ":bad" after host`; got.Error() != want {
			t.Errorf("RedactError(err, %q) = %q, want %q", d, got, want)
		}
		var ue *url.Error
		if errors.As(got, &ue) {
			t.Errorf("errors.As reaches the *url.Error, which shows the password: %v", ue.URL)
		}
	}
	clean := errors.New("connection refused")
	if got := sqlpool.RedactError(clean, dsn); got != clean {
		t.Errorf("RedactError of an error without the password = %v, want it unchanged", got)
	}
	if got := sqlpool.RedactError(nil, dsn); got != nil {
		t.Errorf("RedactError(nil) = %v", got)
	}
}
