package dbtarget

import (
	"net/url"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	pg := func(ns, addr string, port int) Target { return Target{"postgresql", ns, addr, port} }
	my := func(ns, addr string, port int) Target { return Target{"mysql", ns, addr, port} }
	lite := func(ns string) Target { return Target{System: "sqlite", Namespace: ns} }
	other := Target{System: "other_sql"}

	tests := []struct {
		name, driver, dsn string
		want              Target
	}{
		// System.
		{"postgres driver", "postgres", "host=db dbname=app", pg("app", "db", 5432)},
		{"pgx driver", "pgx", "host=db dbname=app", pg("app", "db", 5432)},
		{"pgx/v5 driver", "pgx/v5", "host=db dbname=app", pg("app", "db", 5432)},
		{"postgresql driver", "postgresql", "host=db dbname=app", pg("app", "db", 5432)},
		{"cloudsqlpostgres driver", "cloudsqlpostgres", "host=db dbname=app", pg("app", "db", 5432)},
		{"mysql driver", "mysql", "u:p@tcp(db:3306)/app", my("app", "db", 3306)},
		{"sqlite3 driver", "sqlite3", "app.db", lite("app.db")},
		{"sqlite driver", "sqlite", "app.db", lite("app.db")},
		{"unknown driver", "sqlserver", "sqlserver://u:p@db:1433?database=app", other},
		{"unknown driver, postgres DSN", "Postgres", "postgres://u:p@db/app", other},
		{"empty driver", "", "host=db dbname=app", other},

		// PostgreSQL URLs.
		{"pg url", "postgres", "postgres://u:p@db.example.com:5433/app?sslmode=disable", pg("app", "db.example.com", 5433)},
		{"pg postgresql scheme", "pgx", "postgresql://u:p@db.example.com:5433/app", pg("app", "db.example.com", 5433)},
		{"pg url default port", "postgres", "postgres://u@db.example.com/app", pg("app", "db.example.com", 5432)},
		{"pg url no user", "postgres", "postgres://db.example.com/app", pg("app", "db.example.com", 5432)},
		{"pg url no database", "postgres", "postgres://u:p@db:5433", pg("", "db", 5433)},
		{"pg url no database, slash", "postgres", "postgres://u:p@db:5433/", pg("", "db", 5433)},
		{"pg url no database, query", "postgres", "postgres://db?sslmode=disable", pg("", "db", 5432)},
		{"pg url escaped database", "postgres", "postgres://db/my%20app", pg("my app", "db", 5432)},
		{"pg url multi-host", "pgx", "postgres://u:p@h1:5432,h2:5433/app", pg("app", "h1", 5432)},
		{"pg url multi-host, first without port", "pgx", "postgres://h1,h2:5433/app", pg("app", "h1", 5432)},
		{"pg url IPv6", "pgx", "postgres://u:p@[::1]:5433/app", pg("app", "::1", 5433)},
		{"pg url IPv6 default port", "pgx", "postgres://[2001:db8::1]/app", pg("app", "2001:db8::1", 5432)},
		{"pg url IPv6 multi-host", "pgx", "postgres://[::1]:5433,[::2]:5434/app", pg("app", "::1", 5433)},
		{"pg url IPv6 zone", "pgx", "postgres://[fe80::1%25eth0]:5433/app", pg("app", "fe80::1%eth0", 5433)},
		{"pg url no host", "postgres", "postgres:///app", pg("app", "", 0)},
		{"pg url no host, port", "postgres", "postgres://:5433/app", pg("app", "", 0)},
		{"pg url empty", "postgres", "postgres://", pg("", "", 0)},
		{"pg url socket via query", "postgres", "postgres:///app?host=/var/run/postgresql", pg("app", "/var/run/postgresql", 0)},
		{"pg url socket via query, port", "postgres", "postgres:///app?host=%2Fvar%2Frun%2Fpostgresql&port=5433", pg("app", "/var/run/postgresql", 0)},
		{"pg url socket escaped host", "pgx", "postgres://%2Fvar%2Frun%2Fpostgresql/app", pg("app", "/var/run/postgresql", 0)},
		{"pg url query overrides", "postgres", "postgres://u:p@h1:1111/db1?host=h2&port=2222&dbname=db2", pg("db2", "h2", 2222)},
		{"pg url query host list", "postgres", "postgres:///app?host=h1,h2&port=6001,6002", pg("app", "h1", 6001)},
		{"pg url query hostaddr", "postgres", "postgres:///app?hostaddr=10.0.0.1", pg("app", "10.0.0.1", 5432)},
		{"pg url bad port", "postgres", "postgres://db:port/app", pg("app", "db", 0)},
		{"pg url port out of range", "postgres", "postgres://db:70000/app", pg("app", "db", 0)},
		{"pg url unclosed IPv6", "postgres", "postgres://[::1:5432/app", pg("", "", 0)},
		{"pg url junk after IPv6", "postgres", "postgres://[::1]x/app", pg("", "", 0)},
		{"pg url bad escape", "postgres", "postgres://d%zzb/app", pg("", "", 0)},

		// PostgreSQL URL passwords. User info ends at the last '@' before
		// the first '/'.
		{"pg password with @", "postgres", "postgres://u:p@ss@db:5433/app", pg("app", "db", 5433)},
		{"pg password with :", "postgres", "postgres://u:p:ss@db:5433/app", pg("app", "db", 5433)},
		{"pg password with ?", "postgres", "postgres://u:p?ss@db:5433/app", pg("app", "db", 5433)},
		{"pg password with #", "postgres", "postgres://u:p#ss@db:5433/app", pg("app", "db", 5433)},
		{"pg password with ?, no path", "postgres", "postgres://u:p?ss@db:5433", pg("", "db", 5433)},
		{"pg password escaped", "postgres", "postgres://u:p%2F%3F%40%3Ass@db:5433/app", pg("app", "db", 5433)},
		// An unescaped '/' would make drivers read "u" as the host, "1234"
		// as the port and "ss@db:5433/app" as the database name.
		{"pg password with /", "postgres", "postgres://u:1234/ss@db:5433/app", pg("", "", 0)},
		{"pg password with / and ?", "postgres", "postgres://u:p/s?s@db:5433/app", pg("", "", 0)},
		{"pg @ in a parameter is ambiguous", "postgres", "postgres://u:p@db/app?application_name=me@host", pg("", "", 0)},

		// PostgreSQL keyword/value strings.
		{"pg keywords", "postgres", "host=db port=5433 dbname=app user=x password='a b'", pg("app", "db", 5433)},
		{"pg keywords default port", "postgres", "host=db dbname=app", pg("app", "db", 5432)},
		{"pg keywords spaces around =", "postgres", " host = db\tport =\n5433  dbname= app ", pg("app", "db", 5433)},
		{"pg keywords quoted values", "postgres", `host='db' port='5433' dbname='my app'`, pg("my app", "db", 5433)},
		{"pg keywords escaped values", "postgres", `dbname=my\ app\'s host=d\b`, pg("my app's", "db", 5432)},
		{"pg keywords quote right after value", "postgres", `password='x'host=db`, pg("", "db", 5432)},
		// libpq skips blanks after '=', so an empty value must be quoted.
		{"pg keywords blank after =", "postgres", "host= dbname=app", pg("", "dbname=app", 5432)},
		{"pg keywords empty value", "postgres", "host='' dbname=app", pg("app", "", 0)},
		{"pg keywords empty last value", "postgres", "dbname=app host=", pg("app", "", 0)},
		{"pg keywords last one wins", "postgres", "host=h1 host=h2", pg("", "h2", 5432)},
		{"pg keywords no host", "postgres", "dbname=app user=alice", pg("app", "", 0)},
		{"pg keywords no host, port", "postgres", "port=5433 dbname=app", pg("app", "", 0)},
		{"pg keywords socket", "postgres", "host=/var/run/postgresql port=5433 dbname=app", pg("app", "/var/run/postgresql", 0)},
		{"pg keywords hostaddr", "postgres", "hostaddr=10.0.0.1 dbname=app", pg("app", "10.0.0.1", 5432)},
		{"pg keywords host beats hostaddr", "postgres", "host=db hostaddr=10.0.0.1", pg("", "db", 5432)},
		{"pg keywords IPv6", "postgres", "host=::1 port=5433", pg("", "::1", 5433)},
		{"pg keywords host list", "pgx", "host=h1,h2 port=5433,5434", pg("", "h1", 5433)},
		{"pg keywords one port for all", "pgx", "host=h1,h2 port=5433", pg("", "h1", 5433)},
		{"pg keywords empty first port", "pgx", "host=h1,h2 port=,5434", pg("", "h1", 5432)},
		{"pg keywords bad port", "postgres", "host=db port=x", pg("", "db", 0)},
		{"pg keywords empty", "postgres", "", pg("", "", 0)},
		{"pg keywords blank", "postgres", " \t\n", pg("", "", 0)},
		{"pg keywords missing =", "postgres", "host db", pg("", "", 0)},
		{"pg keywords empty keyword", "postgres", "=db", pg("", "", 0)},
		{"pg keywords unterminated quote", "postgres", "host=db password='abc", pg("", "", 0)},
		{"pg keywords unterminated quote after backslash", "postgres", `host=db password='abc\`, pg("", "", 0)},
		{"pg keywords trailing backslash", "postgres", `dbname=app\`, pg("app", "", 0)},
		{"pg keywords not a URL", "postgres", "postgres:u@db/app", pg("", "", 0)},

		// PostgreSQL keyword passwords: nothing in them is read.
		{"pg quoted password with keywords", "postgres", `host=db password='a host=evil dbname=evil port=1' dbname=app`, pg("app", "db", 5432)},
		{"pg quoted password with escapes", "postgres", `password='it\'s \\' host='db'`, pg("", "db", 5432)},
		{"pg escaped password with keywords", "postgres", `password=a\ host=evil host=db`, pg("", "db", 5432)},
		{"pg quoted password with @/?:", "postgres", `host=db password='p@ss/w?r:d'`, pg("", "db", 5432)},

		// MySQL.
		{"mysql", "mysql", "u:p@tcp(db.example.com:3307)/app?parseTime=true", my("app", "db.example.com", 3307)},
		{"mysql default port", "mysql", "u:p@tcp(db.example.com)/app", my("app", "db.example.com", 3306)},
		{"mysql IPv6", "mysql", "u:p@tcp([::1]:3307)/app", my("app", "::1", 3307)},
		{"mysql IPv6 default port", "mysql", "u:p@tcp([::1])/app", my("app", "::1", 3306)},
		{"mysql IPv6 bare", "mysql", "u:p@tcp(::1)/app", my("app", "::1", 3306)},
		{"mysql tcp6", "mysql", "tcp6([::1]:3307)/app", my("app", "::1", 3307)},
		{"mysql unix", "mysql", "u:p@unix(/var/run/mysqld/mysqld.sock)/app", my("app", "/var/run/mysqld/mysqld.sock", 0)},
		{"mysql unix default", "mysql", "u:p@unix/app", my("app", "/tmp/mysql.sock", 0)},
		{"mysql custom network", "mysql", "u:p@cloudsql(proj:region:inst)/app", my("app", "proj:region:inst", 0)},
		{"mysql custom network, host:port", "mysql", "u:p@mynet(db:3307)/app", my("app", "db", 3307)},
		{"mysql no network", "mysql", "u:p@/app", my("app", "127.0.0.1", 3306)},
		{"mysql tcp without address", "mysql", "u:p@tcp/app", my("app", "127.0.0.1", 3306)},
		{"mysql tcp empty address", "mysql", "tcp()/app", my("app", "127.0.0.1", 3306)},
		{"mysql only database", "mysql", "/app", my("app", "127.0.0.1", 3306)},
		{"mysql only slash", "mysql", "/", my("", "127.0.0.1", 3306)},
		{"mysql empty", "mysql", "", my("", "127.0.0.1", 3306)},
		{"mysql no database", "mysql", "u:p@tcp(db:3307)/?parseTime=true", my("", "db", 3307)},
		{"mysql escaped database", "mysql", "tcp(db)/my%20app", my("my app", "db", 3306)},
		{"mysql bad port", "mysql", "tcp(db:x)/app", my("app", "db", 0)},
		{"mysql no slash", "mysql", "u:p@tcp(db:3306)", my("", "", 0)},
		{"mysql unclosed address", "mysql", "u:p@tcp(db:3306/app", my("", "", 0)},
		{"mysql junk after address", "mysql", "u:p@tcp(db:3306)x/app", my("", "", 0)},
		{"mysql bad escape in database", "mysql", "tcp(db)/a%zz", my("", "", 0)},

		// MySQL passwords: user info ends at the last '@' before the last '/'.
		{"mysql password with @", "mysql", "u:p@ss@tcp(db:3307)/app", my("app", "db", 3307)},
		{"mysql password with /", "mysql", "u:p/ss@tcp(db:3307)/app", my("app", "db", 3307)},
		{"mysql password with ?", "mysql", "u:p?ss@tcp(db:3307)/app?parseTime=true", my("app", "db", 3307)},
		{"mysql password with :", "mysql", "u:p:ss@tcp(db:3307)/app", my("app", "db", 3307)},
		{"mysql password with ()", "mysql", "u:p(x)ss@tcp(db:3307)/app", my("app", "db", 3307)},
		{"mysql password with all", "mysql", "u:p@/?:(s)s@unix(/tmp/my.sock)/app", my("app", "/tmp/my.sock", 0)},
		// No '/' after the password: the driver would read "ss@tcp(db)"
		// as the database name and "tcp(x" as the network.
		{"mysql password with /, no database", "mysql", "u:p(x)/ss@tcp(db)", my("", "", 0)},

		// SQLite.
		{"sqlite file", "sqlite3", "app.db", lite("app.db")},
		{"sqlite path with params", "sqlite3", "/var/lib/app.db?_busy_timeout=5000", lite("/var/lib/app.db")},
		{"sqlite URI", "sqlite3", "file:app.db?cache=shared&mode=rwc", lite("app.db")},
		{"sqlite URI absolute", "sqlite3", "file:/var/lib/app.db", lite("/var/lib/app.db")},
		{"sqlite URI empty authority", "sqlite3", "file:///var/lib/app.db?mode=ro", lite("/var/lib/app.db")},
		{"sqlite URI localhost", "sqlite3", "file://localhost/var/lib/app.db", lite("/var/lib/app.db")},
		{"sqlite URI escaped", "sqlite3", "file:my%20app.db", lite("my app.db")},
		{"sqlite URI fragment", "sqlite3", "file:app.db#x", lite("app.db")},
		{"sqlite URI auth password", "sqlite3", "file:app.db?_auth&_auth_user=admin&_auth_pass=s3cr3t", lite("app.db")},
		{"sqlite memory", "sqlite3", ":memory:", lite("")},
		{"sqlite memory params", "sqlite3", ":memory:?_foreign_keys=on", lite("")},
		{"sqlite URI memory", "sqlite3", "file::memory:", lite("")},
		{"sqlite URI memory shared", "sqlite3", "file::memory:?cache=shared", lite("")},
		{"sqlite URI mode=memory", "sqlite3", "file:memdb1?mode=memory&cache=shared", lite("")},
		{"sqlite URI vfs=memdb", "sqlite3", "file:/memdb1?vfs=memdb", lite("")},
		// mattn/go-sqlite3 drops the query of a plain file name, so
		// SQLite never sees this mode=memory and opens test.db.
		{"sqlite plain mode=memory", "sqlite3", "test.db?mode=memory", lite("test.db")},
		{"sqlite empty (temporary database)", "sqlite3", "", lite("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parse(tt.driver, tt.dsn); got != tt.want {
				t.Errorf("Parse(%q, %q)\n got %+v\nwant %+v", tt.driver, tt.dsn, got, tt.want)
			}
		})
	}
}

// secretMarker is the distinctive part of the fuzzed passwords.
const secretMarker = "Zq7SeCrEtXw"

// passwordDSNs are DSNs with a password in place of {pw}, after escape (if
// any). want is what Parse should return whatever the password; raw URLs
// whose password holds an unescaped '/' may give System alone instead.
var passwordDSNs = []struct {
	driver, dsn string
	escape      func(string) string
	want        Target
	raw         bool
}{
	{"postgres", "postgres://user:{pw}@db.example.com:5433/app?sslmode=disable", nil,
		Target{"postgresql", "app", "db.example.com", 5433}, true},
	{"pgx", "postgresql://user:{pw}@[::1]", nil,
		Target{"postgresql", "", "::1", 5432}, true},
	{"pgx", "postgres://user:{pw}@/app?host=/tmp", nil,
		Target{"postgresql", "app", "/tmp", 0}, true},
	{"postgres", "postgres://user:{pw}@h1:5433,h2/app", url.PathEscape,
		Target{"postgresql", "app", "h1", 5433}, false},
	{"postgres", "host=db port=5433 user=u password='{pw}' dbname=app", quoteKeyword,
		Target{"postgresql", "app", "db", 5433}, false},
	{"postgres", "password='{pw}'host=db", quoteKeyword,
		Target{"postgresql", "", "db", 5432}, false},
	{"postgres", "host=db password={pw} dbname=app", escapeKeyword,
		Target{"postgresql", "app", "db", 5432}, false},
	{"mysql", "user:{pw}@tcp(db.example.com:3307)/app?parseTime=true", nil,
		Target{"mysql", "app", "db.example.com", 3307}, false},
	{"mysql", "user:{pw}@/app", nil,
		Target{"mysql", "app", "127.0.0.1", 3306}, false},
	{"mysql", "user:{pw}@unix(/tmp/mysql.sock)/app", nil,
		Target{"mysql", "app", "/tmp/mysql.sock", 0}, false},
	{"sqlite3", "file:app.db?_auth&_auth_user=admin&_auth_pass={pw}", url.QueryEscape,
		Target{"sqlite", "app.db", "", 0}, false},
}

// quoteKeyword escapes s for a single-quoted libpq keyword value.
func quoteKeyword(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// escapeKeyword escapes every byte of s for a bare libpq keyword value.
func escapeKeyword(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte('\\')
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestPasswordNeverLeaks(t *testing.T) {
	for _, pw := range []string{
		"", "plain", "p@ss", "p/ss", "p?ss", "p:ss", "p#ss", "p,ss", "p'ss", `p\ss`, "p ss",
		"@/?:", "1234/x", "h@db.evil:1/evil", "x(y)/z@tcp(evil)", "?host=evil&dbname=evil",
		"' host=evil '", `\' host=evil`, "[::1]:1,evil", "%2F%40",
	} {
		for i := range passwordDSNs {
			checkPassword(t, i, pw+secretMarker+pw)
		}
	}
}

// checkPassword checks passwordDSNs[i] with password pw, which holds secretMarker.
func checkPassword(t *testing.T, i int, pw string) {
	t.Helper()
	tmpl := passwordDSNs[i]
	if tmpl.escape != nil {
		pw = tmpl.escape(pw)
	}
	dsn := strings.Replace(tmpl.dsn, "{pw}", pw, 1)
	got := Parse(tmpl.driver, dsn)
	for _, field := range []string{got.System, got.Namespace, got.Address} {
		if strings.Contains(field, secretMarker) {
			t.Fatalf("Parse(%q, %q) = %+v: leaks the password", tmpl.driver, dsn, got)
		}
	}
	if got != tmpl.want && !(tmpl.raw && got == Target{System: tmpl.want.System}) {
		t.Fatalf("Parse(%q, %q)\n got %+v\nwant %+v", tmpl.driver, dsn, got, tmpl.want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []struct{ driver, dsn string }{
		{"postgres", "postgres://u:p@db.example.com:5433/app?sslmode=disable"},
		{"pgx", "postgres://[::1]:5433,h2/app?host=/tmp&port=1,2"},
		{"postgres", `host=db port=5433 dbname='my app' password='a\'b'`},
		{"mysql", "u:p@tcp([::1]:3307)/app?parseTime=true"},
		{"mysql", "u:p@unix(/tmp/mysql.sock)/app"},
		{"sqlite3", "file:///var/lib/app.db?mode=memory#x"},
		{"other", "anything"},
	} {
		f.Add(s.driver, s.dsn, uint8(0), "p@/?:", "'\\ x")
	}
	f.Fuzz(func(t *testing.T, driver, dsn string, tmpl uint8, pre, post string) {
		got := Parse(driver, dsn)
		switch got.System {
		case "postgresql", "mysql", "sqlite":
		case "other_sql":
			if got != (Target{System: "other_sql"}) {
				t.Fatalf("Parse(%q, %q) = %+v: other_sql with details", driver, dsn, got)
			}
		default:
			t.Fatalf("Parse(%q, %q) = %+v: bad System", driver, dsn, got)
		}
		if got.Port < 0 || got.Port > 65535 {
			t.Fatalf("Parse(%q, %q) = %+v: bad Port", driver, dsn, got)
		}
		checkPassword(t, int(tmpl)%len(passwordDSNs), pre+secretMarker+post)
	})
}
