package leakdetect_test

import (
	"database/sql"
	"fmt"
	"io"
	"log"
	"log/slog"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/leakdetect"
)

// A connection held past pool_leak_threshold is reported once, with the
// line that took it; WithOnLeak receives the report as a value.
func Example() {
	reports := make(chan leakdetect.Report, 1)
	ctr, err := sqlpool.NewConnector("sqlite3:file:leak?mode=memory&cache=shared&pool_leak_threshold=50ms",
		sqlpool.WithOnLeak(func(r leakdetect.Report) { reports <- r }),
		sqlpool.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()

	rows, err := db.Query("SELECT 'secret'") // never closed in time
	if err != nil {
		log.Fatal(err)
	}
	r := <-reports
	rows.Close()
	fmt.Println("open:", r.Open)
	fmt.Println("statement:", r.Statement)
	fmt.Println("taken in this file:", strings.HasPrefix(filepath.Base(r.AcquiredAt), "example_test.go:"))
	// Output:
	// open: rows
	// statement: SELECT ?
	// taken in this file: true
}
