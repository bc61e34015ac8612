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
