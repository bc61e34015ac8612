package sqlpool_test

// Riding out a failover, with errors injected through sqlmock: which server
// errors evict their connection (destroyed when it comes back, the pool made
// suspect), which do not, and how the settings are checked at sql.Open.
// failover_pg_test.go runs the same against real PostgreSQL servers.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// failoverErrors are server errors as the drivers return them, each with
// whether it evicts, by default or with pool_evict_codes=40001,53,1205.
var failoverErrors = []struct {
	name   string
	err    error
	evicts bool // by default
	custom bool // with the custom codes
}{
	{"pq 25006 read-only transaction", &pq.Error{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, true, true},
	{"pgx 25006 read-only transaction", &pgconn.PgError{Code: "25006", Message: "cannot execute UPDATE in a read-only transaction"}, true, true},
	{"pgx 0A000 in recovery", &pgconn.PgError{Code: "0A000", Message: "cannot set transaction read-write mode during recovery"}, true, true},
	{"pq 57P01 admin shutdown", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, true, true},
	{"pgx 57P02 crash shutdown", &pgconn.PgError{Code: "57P02", Message: "terminating connection because of crash of another server process"}, true, true},
	{"pgx 57P03 cannot connect now", &pgconn.PgError{Code: "57P03", Message: "the database system is shutting down"}, true, true},
	{"pq 57P05 idle session timeout", &pq.Error{Code: "57P05", Message: "terminating connection due to idle-session timeout"}, true, true},
	{"pgx 08006 connection failure", &pgconn.PgError{Code: "08006", Message: "connection failure"}, true, true},
	{"mysql 1290 --read-only", &mysql.MySQLError{Number: 1290, Message: "The MySQL server is running with the --read-only option so it cannot execute this statement"}, true, true},
	{"mysql 1792 read-only transaction", &mysql.MySQLError{Number: 1792, Message: "Cannot execute statement in a READ ONLY transaction."}, true, true},
	{"mysql 1836 read-only mode", &mysql.MySQLError{Number: 1836, Message: "Running in read-only mode"}, true, true},
	{"mysql 1053 shutdown", &mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, true, true},
	{"mysql 1927 connection killed", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, true, true},
	{"mysql 4031 inactivity", &mysql.MySQLError{Number: 4031, Message: "The client was disconnected by the server because of inactivity."}, true, true},

	{"pgx 40001 serialization (custom code)", &pgconn.PgError{Code: "40001", Message: "could not serialize access due to concurrent update"}, false, true},
	{"pq 53100 disk full (custom class)", &pq.Error{Code: "53100", Message: "could not extend file"}, false, true},
	{"mysql 1205 lock wait (custom number)", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false, true},

	{"pq 23505 unique violation", &pq.Error{Code: "23505", Message: "duplicate key value violates unique constraint"}, false, false},
	{"pgx 0A000 other feature", &pgconn.PgError{Code: "0A000", Message: "cannot use ALTER TABLE on a partition"}, false, false},
	{"pgx 42P01 undefined table", &pgconn.PgError{Code: "42P01", Message: `relation "t" does not exist`}, false, false},
	{"mysql 1062 duplicate entry", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry '1' for key 'PRIMARY'"}, false, false},
	{"plain error", errMockBoom, false, false},
}

// TestFailoverServerErrorsEvictTheirConnectionAndReachTheApplication: an
// Exec that fails with a read-only or connection-fatal error returns that
// very error, and its physical connection is destroyed (broken) and
// replaced by the next operation; other errors keep the connection.
// pool_evict_codes adds SQLSTATEs, classes and MySQL numbers.
func TestFailoverServerErrorsEvictTheirConnectionAndReachTheApplication(t *testing.T) {
	ctx := context.Background()
	for _, custom := range []bool{false, true} {
		for _, tc := range failoverErrors {
			name := tc.name
			var opts []sqlpool.Option
			want := tc.evicts
			if custom {
				name = "custom codes/" + name
				opts = append(opts, sqlpool.WithEvictCodes("40001", "53", " 1205"))
				want = tc.custom
			}
			t.Run(name, func(t *testing.T) {
				db, mock := mockOpen(t, false, opts...)
				mock.ExpectExec("INSERT INTO t").WillReturnError(tc.err)
				mock.ExpectExec("INSERT INTO t").WillReturnResult(sqlmock.NewResult(1, 1))
				_, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)")
				if err != tc.err { //nolint:errorlint // unchanged means the same value
					t.Fatalf("Exec: got %v (%T), want the driver's error itself", err, err)
				}
				if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
					t.Fatalf("Exec after the error: %v", err)
				}
				mockMet(t, mock)
				st := mockStat(t, db)
				broken, created := st.Destroyed[pool.ReasonBroken], st.CreatedCount
				if want && (broken != 1 || created != 2) {
					t.Errorf("got %d destroyed as broken, %d created; want 1 and 2: the error evicts (destroyed: %v)", broken, created, mockDestroyed(st))
				}
				if !want && (len(mockDestroyed(st)) != 0 || created != 1) {
					t.Errorf("got destroyed %v, %d created; want none destroyed and 1 created: the error does not evict", mockDestroyed(st), created)
				}
			})
		}
	}
}

// TestFailoverEvictionMakesThePoolCheckIdleConnectionsBeforeTheirNextUse:
// after a read-only error on one connection, an idle one is pinged before
// its next use, though pings of idle connections are otherwise off, as
// after driver.ErrBadConn: a failover demoted the server under all of them.
func TestFailoverEvictionMakesThePoolCheckIdleConnectionsBeforeTheirNextUse(t *testing.T) {
	ctx := context.Background()
	db, mock := mockOpen(t, true, sqlpool.WithMaxConns(2))
	readOnly := &pq.Error{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}
	mock.ExpectExec("STEP A").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP B").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP C").WillReturnError(readOnly)
	mock.ExpectPing() // the idle connection, before STEP D
	mock.ExpectExec("STEP D").WillReturnResult(sqlmock.NewResult(0, 0))

	c1, c2 := mockConn(t, db), mockConn(t, db)
	if _, err := c1.ExecContext(ctx, "STEP A"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "STEP B"); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	if _, err := c2.ExecContext(ctx, "STEP C"); !errors.Is(err, readOnly) {
		t.Fatalf("Exec: got %v, want the read-only error", err)
	}
	c2.Close()
	if _, err := db.ExecContext(ctx, "STEP D"); err != nil {
		t.Fatalf("Exec after the eviction: %v", err)
	}
	mockMet(t, mock)
	if st := mockStat(t, db); st.Destroyed[pool.ReasonBroken] != 1 || st.CreatedCount != 2 {
		t.Errorf("destroyed %v, created %d; want broken 1, created 2", mockDestroyed(st), st.CreatedCount)
	}
}

// TestFailoverEvictionInATransactionFailsItAndDestroysTheConnection: a
// read-only error inside a transaction reaches the application, the
// rollback after it does not reuse the connection, and the next
// transaction runs on a new one.
func TestFailoverEvictionInATransactionFailsItAndDestroysTheConnection(t *testing.T) {
	ctx := context.Background()
	db, mock := mockOpen(t, false)
	readOnly := &pgconn.PgError{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}
	mock.ExpectBegin()
	mock.ExpectExec("INSERT").WillReturnError(readOnly)
	mock.ExpectRollback()
	mock.ExpectBegin()
	mock.ExpectExec("INSERT").WillReturnResult(sqlmock.NewResult(1, 1))
	mock.ExpectCommit()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, readOnly) {
		t.Fatalf("Exec in the transaction: got %v, want the read-only error", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mockMet(t, mock)
	if st := mockStat(t, db); st.Destroyed[pool.ReasonBroken] != 1 || st.CreatedCount != 2 {
		t.Errorf("destroyed %v, created %d; want broken 1, created 2", mockDestroyed(st), st.CreatedCount)
	}
}

// TestFailoverSettingsAreCheckedAtOpen: a malformed pool_evict_codes, and
// pool_require_writable for a database sqlpool cannot ask, fail sql.Open
// with the parameter, the value and the fix.
func TestFailoverSettingsAreCheckedAtOpen(t *testing.T) {
	dsn, _ := mockNew(t, false)
	for _, tc := range []struct {
		dsn  string
		want []string
	}{
		{"sqlmock:" + dsn + "?pool_evict_codes=40001,4000x1", []string{"pool_evict_codes", `"4000x1"`, "SQLSTATEs (40001)"}},
		{"sqlmock:" + dsn + "?pool_evict_codes=40001,,1205", []string{"pool_evict_codes", `""`}},
		{"sqlmock:" + dsn + "?pool_evict_codes=", []string{"pool_evict_codes has no value", "pool_evict_codes=40001,1205"}},
		{"sqlmock:" + dsn + "?pool_require_writable=yes", []string{"pool_require_writable", `"yes"`, "true or false"}},
		{"sqlmock:" + dsn + "?pool_require_writable=true", []string{"pool_require_writable=true", "PostgreSQL, MySQL and MariaDB", "drop pool_require_writable"}},
		{"sqlite3:file::memory:?pool_require_writable=true", []string{"pool_require_writable=true", "not sqlite3"}},
	} {
		db, err := sql.Open("sqlpool", tc.dsn)
		if err == nil {
			db.Close()
			t.Errorf("sql.Open(%q): got nil error, want one", tc.dsn)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("sql.Open(%q): got %q, want it to contain %q", tc.dsn, err, w)
			}
		}
	}
	db, err := sql.Open("sqlpool", "sqlmock:"+dsn+"?pool_evict_codes=40001,40,1205,hv000")
	if err != nil {
		t.Fatalf("sql.Open with valid codes: %v", err)
	}
	defer db.Close()
	snap, err := sqlpool.DBSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snap.Settings {
		if s.Name == "pool_evict_codes" && s.Value != "40001,40,1205,hv000" {
			t.Errorf("Snapshot: pool_evict_codes shown as %q, want the codes as given", s.Value)
		}
	}
}

// TestFailoverBeforeConnectErrorsAreRetriedAndNamed: a credentials hook
// that fails is a failed dial, retried with the pool's backoff while an
// operation waits, and named in the error when the wait runs out; Wrap,
// whose connector sqlpool does not dial by DSN, refuses the option.
func TestFailoverBeforeConnectErrorsAreRetriedAndNamed(t *testing.T) {
	dsn, mock := mockNew(t, false)
	var calls atomic.Int64
	sealed := errors.New("vault is sealed")
	ctr, err := sqlpool.NewConnector("sqlmock:"+dsn, sqlpool.WithBeforeConnect(func(_ context.Context, inner string) (string, error) {
		if calls.Add(1) <= 2 {
			return "", sealed
		}
		return inner, nil
	}), sqlpool.WithHealthCheckPeriod(0))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	mock.ExpectExec("UPDATE t").WillReturnResult(sqlmock.NewResult(0, 1))
	if _, err := db.Exec("UPDATE t SET x = 1"); err != nil {
		t.Fatalf("Exec while the hook failed twice: %v, want the third dial to serve it", err)
	}
	if st := mockStat(t, db); st.CreateErrorCount != 2 || st.CreatedCount != 1 {
		t.Errorf("got %d dial errors, %d created; want 2 and 1", st.CreateErrorCount, st.CreatedCount)
	}

	ctr, err = sqlpool.NewConnector("sqlmock:"+dsn+"?pool_acquire_timeout=100ms", sqlpool.WithBeforeConnect(func(context.Context, string) (string, error) {
		return "", sealed
	}))
	if err != nil {
		t.Fatal(err)
	}
	failing := sql.OpenDB(ctr)
	defer failing.Close()
	_, err = failing.Exec("UPDATE t SET x = 1")
	if !errors.Is(err, sealed) || !strings.Contains(err.Error(), "WithBeforeConnect: vault is sealed") {
		t.Errorf("Exec while the hook always fails: got %v, want an error that wraps and names the hook's", err)
	}

	ctr, err = sqlpool.NewConnector("sqlmock:"+dsn, sqlpool.WithBeforeConnect(func(context.Context, string) (string, error) {
		return "sqlmock_no_such_dsn", nil
	}), sqlpool.WithAcquireTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	wrong := sql.OpenDB(ctr)
	defer wrong.Close()
	if _, err := wrong.Exec("UPDATE t SET x = 1"); err == nil || !strings.Contains(err.Error(), "expected a connection to be available") {
		t.Errorf("Exec with a DSN the driver cannot dial: got %v, want sqlmock's error for it", err)
	}
	if st := mockStat(t, wrong); st.CreatedCount != 0 || st.CreateErrorCount == 0 {
		t.Errorf("a DSN the driver cannot dial: got %d created, %d dial errors; want 0 and at least 1", st.CreatedCount, st.CreateErrorCount)
	}

	if _, err := sqlpool.Wrap(ctr, sqlpool.WithBeforeConnect(func(_ context.Context, s string) (string, error) { return s, nil })); err == nil || !strings.Contains(err.Error(), "stdlib.OptionBeforeConnect") {
		t.Errorf("Wrap with WithBeforeConnect: got %v, want an error pointing to the driver's own hook", err)
	}
}
