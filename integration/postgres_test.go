package integration

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// TestPgxCopyFromThroughUnwrap reaches pgx's *pgx.Conn through
// sql.Conn.Raw and sqlpool.Unwrap, as the README shows, and bulk-loads with
// CopyFrom.
func TestPgxCopyFromThroughUnwrap(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, "pgx:"+testdb.PostgresURL(t)+"&pool_max_conns=2")
	table := tableName("copyfrom_items")
	dropTable(t, db, table)
	if _, err := db.Exec("CREATE TABLE " + table + " (id int PRIMARY KEY, name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{i + 1, fmt.Sprintf("item-%d", i+1)}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var copied int64
	err = conn.Raw(func(dc any) error {
		inner, err := sqlpool.Unwrap(dc)
		if err != nil {
			return err
		}
		pgxConn := inner.(*stdlib.Conn).Conn()
		copied, err = pgxConn.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "name"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	if copied != 1000 {
		t.Fatalf("CopyFrom copied %d rows, want 1000", copied)
	}
	// The same sql.Conn, and the pool's other connections, see the rows.
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 1000 {
		t.Fatalf("count on the sql.Conn = %d, %v; want 1000", n, err)
	}
	var last string
	if err := db.QueryRow("SELECT name FROM "+table+" WHERE id = $1", 1000).Scan(&last); err != nil || last != "item-1000" {
		t.Fatalf("row 1000 = %q, %v; want item-1000", last, err)
	}
}

// TestLibPQCopyIn bulk-loads with lib/pq's CopyIn (a COPY statement
// prepared in a transaction), twice with the same text on the same physical
// connection, with sqlpool's statement cache on and off.
func TestLibPQCopyIn(t *testing.T) {
	for _, cache := range []string{"256", "0"} {
		t.Run("pool_stmt_cache_size="+cache, func(t *testing.T) {
			db := openDB(t, "postgres:"+testdb.PostgresURL(t)+"&pool_max_conns=1&pool_stmt_cache_size="+cache)
			table := tableName("copyin_items")
			dropTable(t, db, table)
			if _, err := db.Exec("CREATE TABLE " + table + " (id int PRIMARY KEY, name text NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			for round := range 2 {
				// The second round fails if the statement cache kept the
				// first round's COPY statement, which lib/pq finished.
				if err := copyIn(db, table, round*500, 500); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != 1000 {
				t.Fatalf("count = %d, %v; want 1000", n, err)
			}
		})
	}
}

func copyIn(db *sql.DB, table string, from, n int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(pq.CopyIn(table, "id", "name"))
	if err != nil {
		return fmt.Errorf("prepare CopyIn: %w", err)
	}
	for i := from; i < from+n; i++ {
		if _, err := stmt.Exec(i, fmt.Sprintf("item-%d", i)); err != nil {
			return fmt.Errorf("CopyIn row %d: %w", i, err)
		}
	}
	if _, err := stmt.Exec(); err != nil {
		return fmt.Errorf("CopyIn flush: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// TestPostgresSessionFeaturesStayOnOneSession checks that a sql.Conn keeps
// one server session across its operations while other goroutines load the
// same pool: a temporary table, SET and an advisory lock taken on it are
// seen by its later operations, and the lock is held by its backend.
func TestPostgresSessionFeaturesStayOnOneSession(t *testing.T) {
	for _, drv := range []string{"pgx", "postgres"} {
		t.Run(drv, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, drv+":"+testdb.PostgresURL(t)+"&pool_max_conns=4")
			admin := testdb.Admin(t)

			// Background load on the same pool, so that a session that
			// moved would land on a backend other than its own.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var loadErr error
			var loadMu sync.Mutex
			for range 3 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						var one int
						if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
							loadMu.Lock()
							loadErr = err
							loadMu.Unlock()
							return
						}
					}
				})
			}
			defer func() {
				close(stop)
				wg.Wait()
				if loadErr != nil {
					t.Errorf("background load: %v", loadErr)
				}
			}()

			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var pid int
			if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			mustExec := func(q string, args ...any) {
				t.Helper()
				if _, err := conn.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			mustExec("CREATE TEMPORARY TABLE session_scratch (v int)")
			mustExec("SET application_name = 'sqlpool_session_test'")
			mustExec("SET statement_timeout = '12s'")
			const lockKey = 8_080_808
			mustExec("SELECT pg_advisory_lock($1)", lockKey)
			for i := range 50 {
				mustExec("INSERT INTO session_scratch VALUES ($1)", i)
				var got int
				if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&got); err != nil || got != pid {
					t.Fatalf("operation %d ran on backend %d (%v), want %d", i, got, err, pid)
				}
			}
			var n int
			var timeout string
			if err := conn.QueryRowContext(ctx, "SELECT count(*), current_setting('statement_timeout') FROM session_scratch").Scan(&n, &timeout); err != nil {
				t.Fatal(err)
			}
			if n != 50 || timeout != "12s" {
				t.Fatalf("temp table rows %d, statement_timeout %q; want 50, 12s", n, timeout)
			}
			var holder int
			if err := admin.QueryRow("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted", lockKey).Scan(&holder); err != nil || holder != pid {
				t.Fatalf("advisory lock held by %d (%v), want the sql.Conn's backend %d", holder, err, pid)
			}
			// Another connection of the same pool cannot take the lock.
			var got bool
			if err := db.QueryRow("SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil || got {
				t.Fatalf("pg_try_advisory_lock from the pool = %v, %v; want false", got, err)
			}
			var unlocked bool
			if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", lockKey).Scan(&unlocked); err != nil || !unlocked {
				t.Fatalf("pg_advisory_unlock on the sql.Conn = %v, %v; want true", unlocked, err)
			}
			// Leave the session as found: the physical connection goes back
			// to the pool (RESET ALL; DISCARD TEMP is what a caller owes).
			mustExec("RESET ALL")
			mustExec("DROP TABLE session_scratch")
		})
	}
}

// TestPostgresPreparedAfterSchemaChange prepares SELECT * again after a
// column was added: raw database/sql prepares afresh and sees the new
// column. With pool_stmt_cache_size=0 so does sqlpool; with the cache on,
// the cached statement's plan is stale.
func TestPostgresPreparedAfterSchemaChange(t *testing.T) {
	for _, drv := range []string{"pgx", "postgres"} {
		for _, cache := range []string{"0", "256"} {
			t.Run(drv+"/pool_stmt_cache_size="+cache, func(t *testing.T) {
				db := openDB(t, drv+":"+testdb.PostgresURL(t)+"&pool_max_conns=1&pool_stmt_cache_size="+cache)
				table := tableName("schema_change")
				dropTable(t, db, table)
				if _, err := db.Exec("CREATE TABLE " + table + " (id int)"); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec("INSERT INTO " + table + " VALUES (1)"); err != nil {
					t.Fatal(err)
				}
				columns := func() ([]string, error) {
					st, err := db.Prepare("SELECT * FROM " + table)
					if err != nil {
						return nil, err
					}
					defer st.Close()
					rows, err := st.Query()
					if err != nil {
						return nil, err
					}
					defer rows.Close()
					return rows.Columns()
				}
				if cols, err := columns(); err != nil || len(cols) != 1 {
					t.Fatalf("columns before = %v, %v; want [id]", cols, err)
				}
				if _, err := db.Exec("ALTER TABLE " + table + " ADD COLUMN extra int"); err != nil {
					t.Fatal(err)
				}
				for i := range 2 { // a driver may fail once and recover; sqlpool must not fail twice
					cols, err := columns()
					if err != nil && i == 0 && strings.Contains(err.Error(), "0A000") {
						continue // the cached statement fails once and is dropped
					}
					if err != nil {
						t.Fatalf("after the schema change, attempt %d: %v", i, err)
					}
					if len(cols) != 2 {
						t.Fatalf("columns after = %v, want [id extra]", cols)
					}
				}
			})
		}
	}
}
