package sqlpool

import (
	"database/sql/driver"
	"net/url"
	"reflect"
	"strings"
)

// driverKind is what sqlpool knows about an inner driver: how its database
// resets a session, which of its dial errors are permanent, whether a
// statement costs a round trip. It is found from the Go type of the
// driver.Driver, never from the name the driver is registered under: a
// go-sqlite3 registered as "sqlite3_with_hooks" to add a ConnectHook is
// still go-sqlite3.
type driverKind uint8

const (
	kindOther   driverKind = iota // a driver sqlpool knows nothing of
	kindLibPQ                     // github.com/lib/pq
	kindPgx                       // github.com/jackc/pgx's stdlib (v4 or v5)
	kindMySQL                     // github.com/go-sql-driver/mysql (MySQL, MariaDB)
	kindSQLite                    // mattn/go-sqlite3, modernc.org/sqlite, ncruces/go-sqlite3
	kindSQLMock                   // DATA-DOG/go-sqlmock: no database, no session
)

// kindPackages maps the import path of a driver's type to its kind; a path
// matches its own entry or a package below it.
var kindPackages = []struct {
	path string
	kind driverKind
}{
	{"github.com/lib/pq", kindLibPQ},
	{"github.com/jackc/pgx/v5/stdlib", kindPgx},
	{"github.com/jackc/pgx/v4/stdlib", kindPgx},
	{"github.com/go-sql-driver/mysql", kindMySQL},
	{"github.com/mattn/go-sqlite3", kindSQLite},
	{"modernc.org/sqlite", kindSQLite},
	{"github.com/ncruces/go-sqlite3", kindSQLite},
	{"github.com/DATA-DOG/go-sqlmock", kindSQLMock},
}

// kindOf returns the kind of drv.
func kindOf(drv driver.Driver) driverKind {
	t := reflect.TypeOf(drv)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return kindOther
	}
	pkg := t.PkgPath()
	for _, k := range kindPackages {
		if pkg == k.path || strings.HasPrefix(pkg, k.path+"/") {
			return k.kind
		}
	}
	return kindOther
}

// postgres reports whether the database is PostgreSQL.
func (k driverKind) postgres() bool { return k == kindLibPQ || k == kindPgx }

// system is the database's db.system.name, as far as the driver tells:
// MariaDB is told from MySQL by asking the server (telemetry.go).
func (k driverKind) system() string {
	switch k {
	case kindLibPQ, kindPgx:
		return "postgresql"
	case kindMySQL:
		return "mysql"
	case kindSQLite:
		return "sqlite"
	}
	return "other_sql"
}

// dsnDialect is the driver name whose DSN syntax dbtarget reads for k, or
// innerName where sqlpool does not know the driver.
func (k driverKind) dsnDialect(innerName string) string {
	switch k {
	case kindLibPQ:
		return "postgres"
	case kindPgx:
		return "pgx"
	case kindMySQL:
		return "mysql"
	case kindSQLite:
		return "sqlite3"
	}
	return innerName
}

// doubleQuotedStrings reports whether the database reads "..." as a string
// rather than an identifier (MySQL and MariaDB do, unless ANSI_QUOTES is
// set): such text is sanitized as a literal.
func (k driverKind) doubleQuotedStrings() bool { return k == kindMySQL }

// inProcess reports whether the database runs in the process (SQLite). Its
// statements hold database locks while they are part-way through a result
// (go-sqlite3's Exec of a SELECT leaves it so until the statement is
// closed), and preparing one costs no round trip; so a statement must close
// when the application closes it, and the statement cache is off unless set
// explicitly.
func (k driverKind) inProcess() bool { return k == kindSQLite }

// connScoped reports whether the database named by dsn (the inner driver's
// DSN, pool_* parameters removed) lives in its connection and dies with it:
// SQLite's private in-memory databases (":memory:", "file::memory:",
// mode=memory) and its private temporary databases (an empty file name),
// unless cache=shared makes them shared by the process's connections. Each
// connection of database/sql is then a database of its own, as on the raw
// driver: sqlpool pins one physical connection to each, never shares the
// pool and never replaces the connection by lifetime, idle time or
// keepalive.
func (k driverKind) connScoped(dsn string) bool {
	if k != kindSQLite {
		return false
	}
	name, query, hasQuery := strings.Cut(dsn, "?")
	uri := strings.HasPrefix(name, "file:")
	if !uri {
		// go-sqlite3 and modernc pass a plain file name on as it is (its
		// query holds only their own _-prefixed settings).
		return name == ":memory:" || name == ""
	}
	path := strings.TrimPrefix(name, "file:")
	path = strings.TrimPrefix(path, "//") // file:///abs/path and file://localhost/...
	var params url.Values
	if hasQuery {
		params, _ = url.ParseQuery(query)
	}
	if params.Get("cache") == "shared" {
		return false
	}
	switch {
	case params.Get("vfs") == "memdb":
		// memdb's databases whose names start with "/" are shared.
		return !strings.HasPrefix(path, "/")
	case params.Get("mode") == "memory", path == ":memory:", path == "":
		return true
	}
	return false
}
