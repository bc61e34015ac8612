package main

import (
	"path/filepath"
	"testing"
)

func TestRunOnSQLite(t *testing.T) {
	if err := run("sqlite3:file:" + filepath.Join(t.TempDir(), "app.db") + "?_busy_timeout=5000&pool_max_conns=4"); err != nil {
		t.Fatal(err)
	}
}
