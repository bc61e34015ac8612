package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"

	"github.com/sqlpool/sqlpool/pool"
)

// What sqlpool knows of the inner drivers it wraps, found from the Go type
// of their driver.Driver: their kind, the databases that live in their
// connection, which dial errors are permanent, pgx's client-side statement
// caches.

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

// permanentDialError reports whether err, an error of the inner driver's
// Connect, will not go away by dialing again, so the operation that asked
// for a connection must see it at once, as the raw driver would show it,
// rather than wait out pool_acquire_timeout while the pool redials: a wrong
// password, a missing database, a file SQLite cannot open, a DSN or TLS
// setting the driver rejects.
//
// What is transient is named, and everything else is permanent, since that
// is what the raw driver does with every error: the network failing
// (refused, reset, unreachable, timed out, closed mid-handshake, a name
// lookup that could not finish), the server starting up or shutting down,
// too many connections, and the pool's own deadline.
func permanentDialError(k driverKind, err error) bool {
	if err == nil {
		return false
	}
	// A read-only server (pool_require_writable) is what a failover leaves
	// behind for a while; a credentials hook (WithBeforeConnect) asks a
	// service that may be down for as long.
	var hook *beforeConnectError
	if errors.Is(err, errReadOnly) || errors.As(err, &hook) {
		return false
	}
	switch k {
	case kindLibPQ, kindPgx:
		if code, ok := sqlState(err); ok {
			return !transientSQLState(code)
		}
	case kindMySQL:
		if n, ok := mysqlErrorNumber(err); ok {
			return !transientMySQLError[n]
		}
		if anyInChain(err, func(e error) bool { return mysqlTransientMessages[e.Error()] }) {
			return false
		}
	case kindSQLite:
		if code, ok := sqliteErrorCode(err); ok {
			return code&0xff != sqliteBusy && code&0xff != sqliteLocked
		}
	}
	return !transientNetError(err)
}

// sqlState returns the SQLSTATE of a PostgreSQL server error in err's
// chain: lib/pq's *pq.Error and pgx's *pgconn.PgError both have the method.
func sqlState(err error) (string, bool) {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState(), true
	}
	return "", false
}

// transientSQLState reports whether a PostgreSQL error at connect time may
// clear by itself: class 08 (connection exception), 53300 (too many
// connections) and 53400 (configuration limit exceeded), class 57P (the
// server shutting down, crashed, starting up, or unreachable), class 58
// (system error). Everything else at connect time is a setting to fix:
// class 28 (wrong password, no pg_hba.conf entry), 3D000 (no such
// database), 42501 (no CONNECT privilege), 55000 (connections not allowed).
func transientSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "57P"), strings.HasPrefix(code, "58"):
		return true
	case code == "53300", code == "53400":
		return true
	}
	return false
}

// transientMySQLError are the server errors at connect time that may clear
// by themselves: too many connections (1040), too many for the user
// (1203), a resource limit (1226), shutdown in progress (1053), connection
// killed (1927, MariaDB), and network errors the server reports (1158 to
// 1161). Others, such as access denied (1044, 1045), unknown database
// (1049) or a host not allowed (1130), are permanent.
var transientMySQLError = map[uint16]bool{
	1040: true, 1053: true, 1158: true, 1159: true, 1160: true, 1161: true,
	1203: true, 1226: true, 1927: true,
}

// mysqlTransientMessages are go-sql-driver/mysql's errors for a connection
// that broke under it (ErrInvalidConn, ErrMalformPkt, ErrPktSync,
// ErrPktSyncMul, ErrBusyBuffer): the network error itself is only logged.
var mysqlTransientMessages = map[string]bool{
	"invalid connection": true,
	"malformed packet":   true,
	"commands out of sync. You can't run this command now":           true,
	"commands out of sync. Did you run multiple statements at once?": true,
	"busy buffer": true,
}

// mysqlErrorNumber returns the Number of a go-sql-driver/mysql *MySQLError
// in err's chain. sqlpool does not import the driver, so it reads the
// field by name.
func mysqlErrorNumber(err error) (uint16, bool) {
	var n uint16
	found := anyInChain(err, func(e error) bool {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || v.Elem().Type().Name() != "MySQLError" {
			return false
		}
		f := v.Elem().FieldByName("Number")
		if f.Kind() != reflect.Uint16 {
			return false
		}
		n = uint16(f.Uint())
		return true
	})
	return n, found
}

// The SQLite result codes that mean another connection holds the database.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// sqliteErrorCode returns the result code of a SQLite error in err's chain:
// mattn/go-sqlite3's sqlite3.Error (a struct with a Code field),
// modernc.org/sqlite's and ncruces/go-sqlite3's *Error (a Code method).
func sqliteErrorCode(err error) (int, bool) {
	var code int
	found := anyInChain(err, func(e error) bool {
		if c, ok := e.(interface{ Code() int }); ok {
			code = c.Code()
			return true
		}
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct || v.Type().Name() != "Error" {
			return false
		}
		f := v.FieldByName("Code")
		if !f.CanInt() {
			return false
		}
		code = int(f.Int())
		return true
	})
	return code, found
}

// transientNetError reports whether err says the network or a deadline
// failed, not the database: the pool rides such errors out.
func transientNetError(err error) bool {
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return false // a TLS alert from the server: a certificate or setting to fix
	}
	var addrErr *net.AddrError
	var unknownNet net.UnknownNetworkError
	var invalidAddr net.InvalidAddrError
	var parseErr *net.ParseError
	if errors.As(err, &addrErr) || errors.As(err, &unknownNet) || errors.As(err, &invalidAddr) || errors.As(err, &parseErr) {
		return false // an address that cannot be dialed: a DSN to fix
	}
	// A timeout, or a lookup the resolver could not finish, is the
	// network's; another net.Error (a name that does not exist, a dialer's
	// own error) is an answer that redialing does not change.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
			syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
			syscall.EHOSTDOWN, syscall.EAGAIN, syscall.EADDRNOTAVAIL:
			return true
		}
	}
	return false
}

// anyInChain reports whether f holds for err or an error it wraps, through
// Unwrap() error and Unwrap() []error.
func anyInChain(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// pgxForgetStatements clears the client-side statement state of pgx's
// stdlib connection ic after DISCARD ALL deallocated the statements on the
// server: pgx keeps its statement caches (every query with arguments, by
// default) and its prepared statements (database/sql's Stmts) by name, and
// each would otherwise fail once with "prepared statement does not exist".
// sqlpool does not import pgx: it reaches the *pgx.Conn by reflection
// (stdlib.Conn.Conn). pgx's DeallocateAll clears that state and then sends
// a "deallocate all" that DISCARD ALL made needless: given a context already
// done, pgconn returns before any I/O (it checks the context before it
// writes), so only the client state is cleared.
func pgxForgetStatements(ctx context.Context, ic driver.Conn) error {
	m := reflect.ValueOf(ic).MethodByName("Conn")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return fmt.Errorf("sqlpool: %T has no Conn method to reach pgx's statement caches; turn resets off with pool_reset_session=false: %w", ic, pool.ErrRetire)
	}
	d, ok := m.Call(nil)[0].Interface().(interface {
		DeallocateAll(context.Context) error
	})
	if !ok {
		return fmt.Errorf("sqlpool: %T's Conn has no DeallocateAll; turn resets off with pool_reset_session=false: %w", ic, pool.ErrRetire)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.DeallocateAll(done); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
