package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

func TestRegisterWrapsTheInnerDriverWithItsOwnSettingsUnderDSNParameters(t *testing.T) {
	// Like sql.Register, Register panics on a name already taken: one per run.
	name := testdb.AppName(t)
	sqlpool.Register(name, "postgres", sqlpool.WithMaxConns(7), sqlpool.WithName("registered"))
	db, err := sql.Open(name, testdb.WithParams(testdb.PostgresURL(t), "pool_min_conns", "1"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	s := stat(t, db)
	if s.Name != "registered" || s.MaxSize != 7 {
		t.Errorf("pool: got name %q, max %d; want %q, 7 (from the options)", s.Name, s.MaxSize, "registered")
	}

	// A DSN parameter overrides the option.
	// (With another name: a pool_name is one pool's, and shares it only
	// with sql.DBs of the same DSN.)
	db2, err := sql.Open(name, testdb.WithParams(testdb.PostgresURL(t), "pool_max_conns", "2", "pool_name", "registered-2"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got := stat(t, db2).MaxSize; got != 2 {
		t.Errorf("max conns with pool_max_conns=2 over WithMaxConns(7): got %d, want 2", got)
	}
}

func TestWrapPoolsConnectionsOfAConnectorConfiguredInCode(t *testing.T) {
	cfg, err := pgx.ParseConfig(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := sqlpool.Wrap(stdlib.GetConnector(*cfg), sqlpool.WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	db.SetMaxIdleConns(0)
	for range 50 {
		if _, err := db.Exec("SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	if s := ctr.Stat(); s.CreatedCount != 1 || s.AcquireCount != 50 {
		t.Errorf("serial queries: got %d created, %d acquires; want 1, 50", s.CreatedCount, s.AcquireCount)
	}
	db.Close()
	if _, err := ctr.Connect(context.Background()); err != nil {
		t.Fatalf("Connect after Close: %v (a logical connection costs nothing)", err)
	}
	if err := db.Ping(); err == nil {
		t.Error("Ping after DB.Close succeeded")
	}
	if s := ctr.Stat(); s.Total != 0 {
		t.Errorf("physical connections after DB.Close: got %d, want 0", s.Total)
	}
}

func TestWrapRejectsBadSettingsAndNilConnector(t *testing.T) {
	if _, err := sqlpool.Wrap(nil); err == nil {
		t.Error("Wrap(nil) succeeded")
	}
	cfg, _ := pgx.ParseConfig("postgres://u@127.0.0.1/db")
	_, err := sqlpool.Wrap(stdlib.GetConnector(*cfg), sqlpool.WithMinConns(5), sqlpool.WithMaxConns(2))
	if err == nil || err.Error() != "sqlpool: pool_min_conns (5) must not exceed pool_max_conns (2); lower pool_min_conns or raise pool_max_conns" {
		t.Errorf("Wrap with min > max: got %v", err)
	}
}

func TestSnapshotsListEveryOpenPoolAndForgetClosedOnes(t *testing.T) {
	db, err := sql.Open("sqlpool", "sqlite3:file::memory:?pool_name=stats-listed")
	if err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		for _, s := range sqlpool.Snapshots() {
			if s.Name == "stats-listed" {
				return true
			}
		}
		return false
	}
	if !has() {
		t.Error("Snapshots() does not list an open pool")
	}
	db.Close()
	if has() {
		t.Error("Snapshots() still lists a closed pool")
	}
}

func TestDBStatRejectsAnotherDriversDB(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlpool.DBStat(context.Background(), db); err == nil {
		t.Error("DBStat of a plain sqlite3 DB succeeded")
	}
}

func TestUnwrapReturnsOtherDriverConnectionsUnchanged(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		got, err := sqlpool.Unwrap(dc)
		if err != nil {
			return err
		}
		if got != dc.(driver.Conn) {
			return errors.New("Unwrap changed a non-sqlpool connection")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if _, err := sqlpool.Unwrap(42); err == nil {
		t.Error("Unwrap(42) succeeded")
	}
}
