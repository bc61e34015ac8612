package sqlpool_test

// Driver errors injected with sqlmock, and sqlpool's reactions: which errors
// reach the application unchanged, which destroy the physical connection,
// when the pool pings, and what an acquire timeout looks like.
//
// sqlmock's driver hands out one and the same connection (the *sqlmock) for
// every Open of a DSN, and forgets the DSN when that connection has been
// closed as often as it was opened. So each test keeps the *sql.DB that
// sqlmock.NewWithDSN returns open until the end: its own connection keeps
// the DSN registered while sqlpool destroys and dials "new" physical
// connections, which are the same mock with the same queue of expectations.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

var mockSeq atomic.Int64

// mockDSN returns a sqlmock DSN unique to this process.
func mockDSN() string { return fmt.Sprintf("sqlpool_mock_%d_%d", os.Getpid(), mockSeq.Add(1)) }

// mockNew registers a sqlmock under a new DSN, with ping expectations when
// monitorPings is set, and keeps its own DB open until the test ends.
func mockNew(t *testing.T, monitorPings bool) (string, sqlmock.Sqlmock) {
	t.Helper()
	dsn := mockDSN()
	var (
		mdb  *sql.DB
		mock sqlmock.Sqlmock
		err  error
	)
	if monitorPings {
		mdb, mock, err = sqlmock.NewWithDSN(dsn, sqlmock.MonitorPingsOption(true))
	} else {
		mdb, mock, err = sqlmock.NewWithDSN(dsn)
	}
	if err != nil {
		t.Fatalf("sqlmock.NewWithDSN: %v", err)
	}
	// Registered first, so it runs after the sqlpool DB's Close.
	t.Cleanup(func() { mdb.Close() })
	return dsn, mock
}

// mockOpen opens a sqlpool DB on a new sqlmock through NewConnector. Unless
// opts say otherwise the pool holds one connection, runs no background
// checks and never pings (so that a ping is always one a test asked for).
func mockOpen(t *testing.T, monitorPings bool, opts ...sqlpool.Option) (*sql.DB, sqlmock.Sqlmock) {
	t.Helper()
	dsn, mock := mockNew(t, monitorPings)
	base := []sqlpool.Option{
		sqlpool.WithName("mock " + t.Name()),
		sqlpool.WithMaxConns(1),
		sqlpool.WithHealthCheckPeriod(0),
		sqlpool.WithPingIdleAfter(-1),
	}
	ctr, err := sqlpool.NewConnector("sqlmock:"+dsn, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	db := sql.OpenDB(ctr)
	t.Cleanup(func() { db.Close() })
	return db, mock
}

func mockStat(t *testing.T, db *sql.DB) sqlpool.Stat {
	t.Helper()
	st, err := sqlpool.DBStat(context.Background(), db)
	if err != nil {
		t.Fatalf("DBStat: %v", err)
	}
	return st
}

func mockMet(t *testing.T, mock sqlmock.Sqlmock) {
	t.Helper()
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Errorf("sqlmock: %v", err)
	}
}

// mockDestroyed returns the pool's destroyed counts by reason, for messages
// that show all of them.
func mockDestroyed(st sqlpool.Stat) map[string]int64 {
	m := map[string]int64{}
	for _, r := range pool.DestroyReasons() {
		if n := st.DestroyedCount(r); n > 0 {
			m[r.String()] = n
		}
	}
	return m
}

var errMockBoom = errors.New("boom")

// TestMockBadConnIsRetriedOnANewPhysicalConnectionAndTheBrokenOneDestroyed:
// an inner Exec, Query, Prepare or Begin that fails with driver.ErrBadConn
// is retried by database/sql, and the retry succeeds; sqlpool destroys the
// physical connection that failed (Destroyed[broken]) and dials another.
func TestMockBadConnIsRetriedOnANewPhysicalConnectionAndTheBrokenOneDestroyed(t *testing.T) {
	ctx := context.Background()
	ops := []struct {
		name   string
		expect func(sqlmock.Sqlmock)
		run    func(*sql.DB) error
	}{
		{"Exec", func(m sqlmock.Sqlmock) {
			m.ExpectExec("UPDATE t").WillReturnError(driver.ErrBadConn)
			m.ExpectExec("UPDATE t").WillReturnResult(sqlmock.NewResult(0, 1))
		}, func(db *sql.DB) error {
			res, err := db.ExecContext(ctx, "UPDATE t SET x = 1")
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("RowsAffected = %d, %v; want 1", n, err)
			}
			return nil
		}},
		{"Query", func(m sqlmock.Sqlmock) {
			m.ExpectQuery("SELECT x").WillReturnError(driver.ErrBadConn)
			m.ExpectQuery("SELECT x").WillReturnRows(sqlmock.NewRows([]string{"x"}).AddRow(42))
		}, func(db *sql.DB) error {
			var x int
			if err := db.QueryRowContext(ctx, "SELECT x FROM t").Scan(&x); err != nil {
				return err
			}
			if x != 42 {
				return fmt.Errorf("got %d, want 42", x)
			}
			return nil
		}},
		{"Prepare", func(m sqlmock.Sqlmock) {
			m.ExpectPrepare("SELECT x").WillReturnError(driver.ErrBadConn)
			m.ExpectPrepare("SELECT x").ExpectQuery().WillReturnRows(sqlmock.NewRows([]string{"x"}).AddRow(7))
		}, func(db *sql.DB) error {
			st, err := db.PrepareContext(ctx, "SELECT x FROM t")
			if err != nil {
				return err
			}
			defer st.Close()
			var x int
			return st.QueryRowContext(ctx).Scan(&x)
		}},
		{"Begin", func(m sqlmock.Sqlmock) {
			m.ExpectBegin().WillReturnError(driver.ErrBadConn)
			m.ExpectBegin()
			m.ExpectCommit()
		}, func(db *sql.DB) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			return tx.Commit()
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			db, mock := mockOpen(t, false)
			op.expect(mock)
			if err := op.run(db); err != nil {
				t.Fatalf("got %v, want database/sql to retry the bad connection and succeed", err)
			}
			mockMet(t, mock)
			st := mockStat(t, db)
			if got := st.Destroyed[pool.ReasonBroken]; got != 1 {
				t.Errorf("Destroyed[broken] = %d, want 1 (destroyed: %v)", got, mockDestroyed(st))
			}
			if st.CreatedCount != 2 || st.Idle != 1 {
				t.Errorf("CreatedCount = %d, Idle = %d; want 2 (the broken one and its replacement) and 1", st.CreatedCount, st.Idle)
			}
		})
	}
}

// TestMockBadConnMakesThePoolPingIdleConnectionsBeforeTheirNextUse: after
// driver.ErrBadConn on one connection the pool is suspect: an idle
// connection is pinged before it is handed out again, though pings of idle
// connections are otherwise off. The application's sql.Conn sees the
// ErrBadConn itself (database/sql retries only on a DB).
func TestMockBadConnMakesThePoolPingIdleConnectionsBeforeTheirNextUse(t *testing.T) {
	ctx := context.Background()
	db, mock := mockOpen(t, true, sqlpool.WithMaxConns(2))
	mock.ExpectExec("STEP A").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP B").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP C").WillReturnError(driver.ErrBadConn)
	mock.ExpectPing() // the idle connection, before STEP D
	mock.ExpectExec("STEP D").WillReturnResult(sqlmock.NewResult(0, 0))

	c1, c2 := mockConn(t, db), mockConn(t, db)
	if _, err := c1.ExecContext(ctx, "STEP A"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "STEP B"); err != nil {
		t.Fatal(err)
	}
	c1.Close() // its physical connection is idle now
	if _, err := c2.ExecContext(ctx, "STEP C"); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("sql.Conn Exec: got %v, want driver.ErrBadConn", err)
	}
	c2.Close()
	if _, err := db.ExecContext(ctx, "STEP D"); err != nil {
		t.Fatalf("Exec after the bad connection: %v", err)
	}
	mockMet(t, mock)
	st := mockStat(t, db)
	if st.Destroyed[pool.ReasonBroken] != 1 || st.Destroyed[pool.ReasonCheck] != 0 || st.CreatedCount != 2 {
		t.Errorf("destroyed %v, created %d; want broken 1, check_failed 0, created 2", mockDestroyed(st), st.CreatedCount)
	}
}

func mockConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMockOtherErrorsReachTheApplicationUnchangedAndKeepTheConnection: an
// error that is not about the connection, from Exec, Query, a prepared
// statement or the rows, is the very error the application gets, and the
// physical connection is reused: nothing destroyed, nothing dialed again,
// and the pool is not made suspect (no ping is expected).
func TestMockOtherErrorsReachTheApplicationUnchangedAndKeepTheConnection(t *testing.T) {
	ctx := context.Background()
	db, mock := mockOpen(t, true)
	mock.ExpectExec("UPDATE t").WillReturnError(errMockBoom)
	mock.ExpectQuery("SELECT x").WillReturnError(errMockBoom)
	mock.ExpectPrepare("SELECT y").ExpectQuery().WillReturnError(errMockBoom)
	mock.ExpectQuery("SELECT z").WillReturnRows(sqlmock.NewRows([]string{"z"}).AddRow(1).AddRow(2).RowError(1, errMockBoom))
	mock.ExpectQuery("SELECT ok").WillReturnRows(sqlmock.NewRows([]string{"ok"}).AddRow(1))

	check := func(what string, err error) {
		t.Helper()
		if err != errMockBoom { //nolint:errorlint // unchanged means the same value
			t.Errorf("%s: got %v (%T), want the driver's error value itself", what, err, err)
		}
	}
	_, err := db.ExecContext(ctx, "UPDATE t SET x = 1")
	check("Exec", err)
	_, err = db.QueryContext(ctx, "SELECT x FROM t")
	check("Query", err)
	st, err := db.PrepareContext(ctx, "SELECT y FROM t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.QueryContext(ctx)
	check("Stmt.Query", err)
	st.Close()
	rows, err := db.QueryContext(ctx, "SELECT z FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	check("Rows.Err", rows.Err())
	rows.Close()
	var ok int
	if err := db.QueryRowContext(ctx, "SELECT ok").Scan(&ok); err != nil || ok != 1 {
		t.Errorf("query after the errors: %d, %v", ok, err)
	}
	mockMet(t, mock)
	s := mockStat(t, db)
	if len(mockDestroyed(s)) != 0 || s.CreatedCount != 1 || s.Idle != 1 {
		t.Errorf("destroyed %v, created %d, idle %d; want none destroyed, 1 created, 1 idle", mockDestroyed(s), s.CreatedCount, s.Idle)
	}
}

// TestMockFailingBeginCommitRollbackPropagate: errors of the inner Begin,
// Commit and Rollback reach the application as they are; after each, the
// DB keeps working. A Begin that failed started nothing, so its connection
// is kept; a Commit that reports driver.ErrBadConn destroys it.
func TestMockFailingBeginCommitRollbackPropagate(t *testing.T) {
	ctx := context.Background()
	t.Run("Begin", func(t *testing.T) {
		db, mock := mockOpen(t, false)
		mock.ExpectBegin().WillReturnError(errMockBoom)
		mock.ExpectExec("UPDATE t").WillReturnResult(sqlmock.NewResult(0, 1))
		if _, err := db.BeginTx(ctx, nil); !errors.Is(err, errMockBoom) {
			t.Errorf("BeginTx: got %v, want %v", err, errMockBoom)
		}
		if _, err := db.ExecContext(ctx, "UPDATE t SET x = 1"); err != nil {
			t.Errorf("Exec after the failed Begin: %v", err)
		}
		mockMet(t, mock)
		if st := mockStat(t, db); len(mockDestroyed(st)) != 0 || st.CreatedCount != 1 {
			t.Errorf("destroyed %v, created %d; want none destroyed, 1 created", mockDestroyed(st), st.CreatedCount)
		}
	})
	for _, tc := range []struct {
		name      string
		expect    func(sqlmock.Sqlmock, error)
		end       func(*sql.Tx) error
		err       error
		destroyed int64 // Destroyed[broken]
	}{
		{"Commit", func(m sqlmock.Sqlmock, err error) { m.ExpectCommit().WillReturnError(err) }, (*sql.Tx).Commit, errMockBoom, 0},
		{"Rollback", func(m sqlmock.Sqlmock, err error) { m.ExpectRollback().WillReturnError(err) }, (*sql.Tx).Rollback, errMockBoom, 0},
		{"Commit bad connection", func(m sqlmock.Sqlmock, err error) { m.ExpectCommit().WillReturnError(err) }, (*sql.Tx).Commit, driver.ErrBadConn, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, mock := mockOpen(t, false)
			mock.ExpectBegin()
			mock.ExpectExec("INSERT").WillReturnResult(sqlmock.NewResult(1, 1))
			tc.expect(mock, tc.err)
			mock.ExpectQuery("SELECT ok").WillReturnRows(sqlmock.NewRows([]string{"ok"}).AddRow(1))
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			if err := tc.end(tx); !errors.Is(err, tc.err) {
				t.Errorf("got %v, want %v", err, tc.err)
			}
			var ok int
			if err := db.QueryRowContext(ctx, "SELECT ok").Scan(&ok); err != nil {
				t.Errorf("query after the failed %s: %v", tc.name, err)
			}
			mockMet(t, mock)
			if st := mockStat(t, db); st.Destroyed[pool.ReasonBroken] != tc.destroyed {
				t.Errorf("destroyed %v; want broken %d", mockDestroyed(st), tc.destroyed)
			}
		})
	}
}

// TestMockFailedPrePingDestroysTheConnectionAndTheQueryRunsOnANewOne: with
// pool_ping_idle_after=0 every hand-out of an idle connection pings it first.
// A failing ping destroys it (Destroyed[check_failed]) and the application's
// query succeeds on a newly dialed one; a passing ping hands it out.
func TestMockFailedPrePingDestroysTheConnectionAndTheQueryRunsOnANewOne(t *testing.T) {
	ctx := context.Background()
	t.Run("ping fails", func(t *testing.T) {
		db, mock := mockOpen(t, true, sqlpool.WithPingIdleAfter(0))
		mock.ExpectExec("STEP A").WillReturnResult(sqlmock.NewResult(0, 0)) // a new connection: no ping
		mock.ExpectPing().WillReturnError(errors.New("server gone"))
		mock.ExpectExec("STEP B").WillReturnResult(sqlmock.NewResult(0, 0))
		for _, q := range []string{"STEP A", "STEP B"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		mockMet(t, mock)
		st := mockStat(t, db)
		if st.Destroyed[pool.ReasonCheck] != 1 || st.Destroyed[pool.ReasonBroken] != 0 || st.CreatedCount != 2 {
			t.Errorf("destroyed %v, created %d; want check_failed 1 only, 2 created", mockDestroyed(st), st.CreatedCount)
		}
	})
	t.Run("ping passes", func(t *testing.T) {
		db, mock := mockOpen(t, true, sqlpool.WithPingIdleAfter(0))
		mock.ExpectExec("STEP A").WillReturnResult(sqlmock.NewResult(0, 0))
		mock.ExpectPing()
		mock.ExpectExec("STEP B").WillReturnResult(sqlmock.NewResult(0, 0))
		for _, q := range []string{"STEP A", "STEP B"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		mockMet(t, mock)
		st := mockStat(t, db)
		if len(mockDestroyed(st)) != 0 || st.CreatedCount != 1 {
			t.Errorf("destroyed %v, created %d; want none destroyed, 1 created", mockDestroyed(st), st.CreatedCount)
		}
	})
}

// TestMockAcquireTimeoutSaysHowThePoolLookedAndIsNotRetried: with the only
// connection held by a sql.Conn, a query on the DB waits pool_acquire_timeout
// and fails with an error wrapping sqlpool.ErrAcquireTimeout that says
// "1/1 in use". It is not driver.ErrBadConn, so database/sql does not retry
// it: the pool counts exactly one timed-out wait. The query never reaches
// the driver. Configured through the DSN.
func TestMockAcquireTimeoutSaysHowThePoolLookedAndIsNotRetried(t *testing.T) {
	ctx := context.Background()
	dsn, mock := mockNew(t, false)
	db, err := sql.Open("sqlpool", "sqlmock:"+dsn+"?pool_max_conns=1&pool_acquire_timeout=50ms&pool_health_check_period=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mock.ExpectQuery("SELECT 1").WillReturnRows(sqlmock.NewRows([]string{"one"}).AddRow(1))

	c := mockConn(t, db)
	var one int
	if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	before := mockStat(t, db)
	start := time.Now()
	_, err = db.ExecContext(ctx, "UPDATE t SET x = 1")
	waited := time.Since(start)
	if !errors.Is(err, sqlpool.ErrAcquireTimeout) {
		t.Fatalf("got %v, want an error wrapping sqlpool.ErrAcquireTimeout", err)
	}
	if !strings.Contains(err.Error(), "1/1 in use") {
		t.Errorf("error %q does not say %q", err, "1/1 in use")
	}
	if errors.Is(err, driver.ErrBadConn) {
		t.Errorf("error %q is driver.ErrBadConn: database/sql would retry it", err)
	}
	if waited < 50*time.Millisecond {
		t.Errorf("failed after %v, before the 50ms acquire timeout", waited)
	}
	st := mockStat(t, db)
	if timeouts, waits := st.TimeoutCount-before.TimeoutCount, st.WaitCount-before.WaitCount; timeouts != 1 || waits != 1 {
		t.Errorf("the Exec timed out %d times in %d waits; want 1 in 1 (database/sql must not retry)", timeouts, waits)
	}
	c.Close()
	mockMet(t, mock)
}

// TestMockConnectionInUseWhenThePoolBecameSuspectIsPingedBeforeReuse: a
// connection held by a sql.Conn when another one failed with
// driver.ErrBadConn is as suspect as an idle one (the server probably
// restarted under both): its release must not vouch for it, and it is pinged
// before its next hand-out, so that the next sql.Conn, which database/sql
// does not retry, gets no error (pool.SuspectIdle: "idle now, or in use now").
func TestMockConnectionInUseWhenThePoolBecameSuspectIsPingedBeforeReuse(t *testing.T) {
	ctx := context.Background()
	db, mock := mockOpen(t, true, sqlpool.WithMaxConns(2))
	mock.ExpectExec("STEP A").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP B").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("STEP C").WillReturnError(driver.ErrBadConn)
	mock.ExpectPing() // the connection c1 held, before STEP D
	mock.ExpectExec("STEP D").WillReturnResult(sqlmock.NewResult(0, 0))

	c1, c2 := mockConn(t, db), mockConn(t, db)
	if _, err := c1.ExecContext(ctx, "STEP A"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "STEP B"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "STEP C"); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("sql.Conn Exec: got %v, want driver.ErrBadConn", err)
	}
	c2.Close()
	c1.Close() // in use when the pool became suspect; idle now
	c3 := mockConn(t, db)
	if _, err := c3.ExecContext(ctx, "STEP D"); err != nil {
		t.Fatalf("first Exec on a new sql.Conn after the bad connection: %v", err)
	}
	mockMet(t, mock)
}
