package pgtemp_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq"

	"github.com/sqlpool/sqlpool/internal/pgtemp"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

func TestStartAppliesSettingsAndFilesAndStopRemovesTheDirectory(t *testing.T) {
	if _, err := pgtemp.BinDir(); err != nil {
		if testdb.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv, err := pgtemp.Start(pgtemp.Options{
		Settings: map[string]string{"work_mem": "7MB"},
		Files:    map[string][]byte{"note.txt": []byte("hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	db, err := sql.Open("postgres", srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var workMem string
	if err := db.QueryRow("SHOW work_mem").Scan(&workMem); err != nil || workMem != "7MB" {
		t.Fatalf("work_mem = %q, %v; want 7MB", workMem, err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.DataDir(), "note.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("note.txt = %q, %v; want hello", b, err)
	}
	db.Close()
	srv.Stop()
	stopped = true
	if _, err := os.Stat(srv.Dir()); !os.IsNotExist(err) {
		t.Fatalf("Stat(%s) after Stop = %v, want not exist", srv.Dir(), err)
	}
}

// TestStandbyReplicatesUntilPromotedThenAcceptsWrites: a standby made by
// StartStandby is read-only and sees the primary's writes; promoted, it
// accepts writes of its own.
func TestStandbyReplicatesUntilPromotedThenAcceptsWrites(t *testing.T) {
	if _, err := pgtemp.BinDir(); err != nil {
		if testdb.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	primary, err := pgtemp.Start(pgtemp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	pdb, err := sql.Open("postgres", primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if _, err := pdb.Exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	standby, err := pgtemp.StartStandby(primary)
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Stop()
	sdb, err := sql.Open("postgres", standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if _, err := pdb.Exec("INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	testdb.WaitFor(t, "the standby to replay the second row", func() bool {
		var n int
		return sdb.QueryRow("SELECT count(*) FROM t").Scan(&n) == nil && n == 2
	})
	var recovery bool
	if err := sdb.QueryRow("SELECT pg_is_in_recovery()").Scan(&recovery); err != nil || !recovery {
		t.Fatalf("standby: pg_is_in_recovery() = %v, %v; want true", recovery, err)
	}
	if _, err := sdb.Exec("INSERT INTO t VALUES (3)"); err == nil {
		t.Fatal("standby: INSERT succeeded, want a read-only error")
	}
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.Exec("INSERT INTO t VALUES (3)"); err != nil {
		t.Fatalf("promoted standby: INSERT: %v", err)
	}
}
