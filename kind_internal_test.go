package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"

	"github.com/sqlpool/sqlpool/internal/fakedb"
)

func TestKindOfKnowsTheDriversByTheirTypeNotTheirName(t *testing.T) {
	mockDB, _, err := sqlmock.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mockDB.Close()
	for _, tc := range []struct {
		drv  driver.Driver
		want driverKind
	}{
		{&pq.Driver{}, kindLibPQ},
		{stdlib.GetDefaultDriver(), kindPgx},
		{&mysql.MySQLDriver{}, kindMySQL},
		{&sqlite3.SQLiteDriver{ConnectHook: func(*sqlite3.SQLiteConn) error { return nil }}, kindSQLite},
		{mockDB.Driver(), kindSQLMock},
		{fakedb.New(fakedb.Caps{}), kindOther},
		{nil, kindOther},
	} {
		if got := kindOf(tc.drv); got != tc.want {
			t.Errorf("kindOf(%T): got %d, want %d", tc.drv, got, tc.want)
		}
	}
}

func TestConnScopedFindsSQLiteDatabasesThatLiveInTheirConnection(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want bool
	}{
		{":memory:", true},
		{":memory:?_busy_timeout=5000", true},
		{"", true}, // a private temporary database
		{"file::memory:", true},
		{"file::memory:?cache=shared", false},
		{"file:app?mode=memory", true},
		{"file:app?mode=memory&cache=shared", false},
		{"file:app?mode=memory&cache=private", true},
		{"file:", true},
		{"file:app.db", false},
		{"file:///tmp/app.db?mode=rwc", false},
		{"app.db", false},
		{"app.db?mode=memory", false}, // not a URI: go-sqlite3 opens the file app.db
		{"file:/db?vfs=memdb", false}, // memdb names starting with "/" are shared
		{"file:db?vfs=memdb", true},
	} {
		if got := kindSQLite.connScoped(tc.dsn); got != tc.want {
			t.Errorf("connScoped(%q): got %v, want %v", tc.dsn, got, tc.want)
		}
	}
	if kindLibPQ.connScoped(":memory:") {
		t.Error("a PostgreSQL DSN is never connection-scoped")
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// dialerErr is a net.Error of a dialer's own, neither a timeout nor an errno.
type dialerErr struct{}

func (dialerErr) Error() string   { return "mock net error" }
func (dialerErr) Timeout() bool   { return false }
func (dialerErr) Temporary() bool { return true }

func TestPermanentDialErrorTellsWhatRedialingCures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name      string
		kind      driverKind
		err       error
		permanent bool
	}{
		{"refused", kindLibPQ, refused, false},
		{"refused, wrapped", kindPgx, fmt.Errorf("failed to connect: %w", refused), false},
		{"reset", kindMySQL, &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
		{"unreachable", kindOther, &net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, false},
		{"EOF mid-handshake", kindLibPQ, io.ErrUnexpectedEOF, false},
		{"the pool's deadline", kindPgx, fmt.Errorf("sqlpool: connecting: %w", context.DeadlineExceeded), false},
		{"a timeout", kindOther, timeoutErr{}, false},
		{"a lookup that timed out", kindOther, &net.DNSError{Err: "timeout", Name: "db", IsTimeout: true}, false},
		{"no such host", kindLibPQ, &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, true},
		{"a dialer's own error", kindMySQL, dialerErr{}, true},
		{"a bad port", kindMySQL, &net.OpError{Op: "dial", Err: &net.AddrError{Err: "invalid port", Addr: "99999"}}, true},
		{"a TLS alert", kindPgx, &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, true},
		{"lib/pq wrong password", kindLibPQ, &pq.Error{Code: "28P01"}, true},
		{"lib/pq no such database", kindLibPQ, &pq.Error{Code: "3D000"}, true},
		{"lib/pq starting up", kindLibPQ, &pq.Error{Code: "57P03"}, false},
		{"lib/pq too many clients", kindLibPQ, &pq.Error{Code: "53300"}, false},
		{"pgx wrong password", kindPgx, fmt.Errorf("failed to connect: %w", &pgconn.PgError{Code: "28P01"}), true},
		{"pgx shutting down", kindPgx, &pgconn.PgError{Code: "57P01"}, false},
		{"pgx connection failure", kindPgx, &pgconn.PgError{Code: "08006"}, false},
		{"lib/pq SSL refused", kindLibPQ, errors.New("pq: SSL is not enabled on the server"), true},
		{"mysql access denied", kindMySQL, &mysql.MySQLError{Number: 1045}, true},
		{"mysql unknown database", kindMySQL, &mysql.MySQLError{Number: 1049}, true},
		{"mysql too many connections", kindMySQL, &mysql.MySQLError{Number: 1040}, false},
		{"mysql broken connection", kindMySQL, mysql.ErrInvalidConn, false},
		{"sqlite can't open", kindSQLite, sqlite3.Error{Code: sqlite3.ErrCantOpen}, true},
		{"sqlite not a database", kindSQLite, sqlite3.Error{Code: sqlite3.ErrNotADB}, true},
		{"sqlite busy", kindSQLite, sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{"an unknown driver's error", kindOther, errors.New("bad credentials"), true},
		{"bad connection", kindOther, driver.ErrBadConn, false},
	} {
		if got := permanentDialError(tc.kind, tc.err); got != tc.permanent {
			t.Errorf("%s (%v): permanent %v, want %v", tc.name, tc.err, got, tc.permanent)
		}
	}
}

func TestMayPrepareSeesPREPAREInAnyCase(t *testing.T) {
	for q, want := range map[string]bool{
		"PREPARE p AS SELECT 1":                             true,
		"prepare p as select 1":                             true,
		"  PrEpArE p AS SELECT 1":                           true,
		"DO $$BEGIN EXECUTE 'PREPARE p AS SELECT 1'; END$$": true,
		"SELECT 1":       false,
		"SELECT $1::int": false,
		"DEALLOCATE p":   false,
		"prepar":         false,
	} {
		if got := mayPrepare(q); got != want {
			t.Errorf("mayPrepare(%q): got %v, want %v", q, got, want)
		}
	}
}
