package sqlpool_test

// Cancellation: a context that ends at each stage an operation goes through
// (waiting for a connection, dialing one, pre-pinging one, running the
// statement, reading its rows) ends the operation with the context's error,
// leaves nothing behind, and never hands the next caller a connection whose
// state the interruption made unknown.

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// cancelSoon is a context that ends well before anything the test waits on
// would end by itself.
func cancelSoon(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func backendPID(t *testing.T, db *sql.DB) int {
	t.Helper()
	var pid int
	if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestCancelWhileWaitingForAConnection(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, app := openPG(t, inner, "pool_max_conns", "1", "pool_acquire_timeout", "30s")
			held, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := held.PingContext(context.Background()); err != nil {
				t.Fatal(err)
			}

			ctx := cancelSoon(t)
			_, err = db.ExecContext(ctx, "SELECT 1")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Exec while the only connection is held: %v, want the context's deadline", err)
			}
			s := stat(t, db)
			if s.Waiting != 0 || s.CanceledCount != 1 || s.CreatedCount != 1 {
				t.Errorf("after the waiter gave up: waiting %d, canceled %d, created %d; want 0, 1, 1",
					s.Waiting, s.CanceledCount, s.CreatedCount)
			}

			held.Close()
			if _, err := db.Exec("SELECT 1"); err != nil {
				t.Fatalf("Exec once the connection is back: %v", err)
			}
			if s := stat(t, db); s.CreatedCount != 1 {
				t.Errorf("connections created: %d, want the one connection reused", s.CreatedCount)
			}
			db.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

func TestCancelWhileDialing(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, px, app := openBehindProxy(t, inner, "pool_max_conns", "2", "pool_acquire_timeout", "2s")
			px.BlackHole(true) // the handshake of every new connection hangs

			ctx := cancelSoon(t)
			_, err := db.ExecContext(ctx, "SELECT 1")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Exec while the dial hangs: %v, want the context's deadline", err)
			}

			// The dial goes on without the caller, bounded by
			// pool_acquire_timeout; the next caller is not stuck behind it.
			px.BlackHole(false)
			if _, err := db.Exec("SELECT 1"); err != nil {
				t.Fatalf("Exec once the network is back: %v", err)
			}
			db.Close()
			// lib/pq's handshake ignores its context: the abandoned dial
			// returns when its connection is cut.
			px.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

func TestCancelWhilePrePinging(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, px, app := openBehindProxy(t, inner, "pool_max_conns", "2",
				"pool_ping_idle_after", "0", "pool_ping_timeout", "30s")
			if _, err := db.Exec("SELECT 1"); err != nil {
				t.Fatal(err)
			}
			px.BlackHoleAll() // the idle connection's pre-ping hangs

			ctx := cancelSoon(t)
			_, err := db.ExecContext(ctx, "SELECT 1")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Exec while the pre-ping hangs: %v, want the context's deadline", err)
			}
			if got := stat(t, db).DestroyedCount(pool.ReasonCheck); got != 1 {
				t.Errorf("connections destroyed by the interrupted pre-ping: %d, want 1: its state is unknown", got)
			}
			if _, err := db.Exec("SELECT 1"); err != nil {
				t.Fatalf("Exec after the interrupted pre-ping: %v", err)
			}
			if s := stat(t, db); s.CreatedCount != 2 {
				t.Errorf("connections created: %d, want 2: the pinged one must not come back", s.CreatedCount)
			}
			db.Close()
			// lib/pq's Ping ignores its context: it returns when the
			// connection is cut, and only then may the pool close it.
			px.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

func TestCancelMidQueryDestroysTheConnection(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, app := openPG(t, inner, "pool_max_conns", "1")
			pid := backendPID(t, db)

			ctx := cancelSoon(t)
			if _, err := db.ExecContext(ctx, "SELECT pg_sleep(30)"); err == nil {
				t.Fatal("a 30s statement with a 200ms context succeeded")
			}
			if got := backendPID(t, db); got == pid {
				t.Errorf("the next statement ran on backend %d, which the interrupted one was using", pid)
			}
			testdb.WaitFor(t, "the interrupted backend gone", func() bool {
				for _, p := range testdb.Backends(t, admin, app) {
					if p == pid {
						return false
					}
				}
				return true
			})
			db.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

func TestCancelMidRowsDestroysTheConnection(t *testing.T) {
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			admin := testdb.Admin(t)
			before := takeStock()
			db, app := openPG(t, inner, "pool_max_conns", "1")
			pid := backendPID(t, db)

			ctx, cancel := context.WithCancel(context.Background())
			rows, err := db.QueryContext(ctx, "SELECT generate_series(1, 10000000)")
			if err != nil {
				t.Fatal(err)
			}
			readThenCancel(t, rows, cancel)
			if got := backendPID(t, db); got == pid {
				t.Errorf("the next statement ran on backend %d, whose rows were interrupted", pid)
			}
			db.Close()
			nothingLeft(t, before, admin, app)
		})
	}
}

// readThenCancel reads a few rows, cancels their query's context and checks
// that the rows end with the context's error.
func readThenCancel(t *testing.T, rows *sql.Rows, cancel context.CancelFunc) {
	t.Helper()
	for range 10 {
		if !rows.Next() {
			t.Fatalf("rows ended early: %v", rows.Err())
		}
	}
	cancel()
	for rows.Next() { // database/sql closes the rows when it sees the cancellation
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("rows.Err after cancel: %v, want context.Canceled", err)
	}
	rows.Close()
}

// TestCancelDestroysConnectionsOfDriversThatCannotTellTheirState: go-sqlite3
// is no driver.Validator, so after an interrupted statement or result the
// pool cannot know the connection is sound, and destroys it. (database/sql
// would reuse it.) Leak detection and tracing are off: the fast path, on
// which sqlpool hands the driver's rows to database/sql unwrapped, must not
// miss the interruption.
func TestCancelDestroysConnectionsOfDriversThatCannotTellTheirState(t *testing.T) {
	const many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000000) SELECT x FROM c"
	before := takeStock()
	db, err := sql.Open("sqlpool", "sqlite3:file:"+filepath.Join(t.TempDir(), "cancel.db")+
		"?pool_max_conns=1&pool_leak_threshold=0&pool_tracing=false")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	destroyed := func() int64 { return stat(t, db).DestroyedCount(pool.ReasonBroken) }

	t.Run("mid-rows", func(t *testing.T) {
		d := destroyed()
		ctx, cancel := context.WithCancel(context.Background())
		rows, err := db.QueryContext(ctx, many)
		if err != nil {
			t.Fatal(err)
		}
		readThenCancel(t, rows, cancel)
		if got := destroyed() - d; got != 1 {
			t.Errorf("connections destroyed after interrupted rows: %d, want 1", got)
		}
	})
	t.Run("mid-statement", func(t *testing.T) {
		d := destroyed()
		if _, err := db.ExecContext(cancelSoon(t), "SELECT count(*) FROM ("+many+")"); err == nil {
			t.Fatal("a statement counting 10^8 rows finished within 200ms")
		}
		if got := destroyed() - d; got != 1 {
			t.Errorf("connections destroyed after an interrupted statement: %d, want 1", got)
		}
	})
	t.Run("finished before the cancel", func(t *testing.T) {
		d := destroyed()
		ctx, cancel := context.WithCancel(context.Background())
		rows, err := db.QueryContext(ctx, "SELECT 1 UNION ALL SELECT 2")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		cancel()
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if got := destroyed() - d; got != 0 {
			t.Errorf("connections destroyed after rows read to the end: %d, want 0", got)
		}
	})

	var n int
	if err := db.QueryRow("SELECT 41 + 1").Scan(&n); err != nil || n != 42 {
		t.Fatalf("query after the interruptions: %d, %v", n, err)
	}
	db.Close()
	nothingLeft(t, before, nil, "")
}
