package dashboard_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver

	_ "github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/dashboard"
)

// Example mounts the dashboard where pprof would go and reads its JSON, as
// an alerting script would. A browser opens the same URL without "json".
func Example() {
	mux := http.NewServeMux()
	mux.Handle("/debug/sqlpool/", dashboard.Handler())
	srv := httptest.NewServer(mux) // in a program: http.ListenAndServe("127.0.0.1:6060", mux)
	defer srv.Close()

	db, err := sql.Open("sqlpool", "sqlite3:file::memory:?pool_name=orders&pool_max_conns=4")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin() // holds one connection
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()

	resp, err := http.Get(srv.URL + "/debug/sqlpool/json?pool=orders")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Pools []struct {
			Name    string
			Max     int
			InUse   int `json:"in_use"`
			Waiting int
			Conns   []struct {
				State string
				Open  string
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		log.Fatal(err)
	}
	for _, p := range doc.Pools {
		fmt.Printf("%s: %d/%d in use, %d waiting\n", p.Name, p.InUse, p.Max, p.Waiting)
		for _, c := range p.Conns {
			fmt.Printf("  %s, %s open\n", c.State, c.Open)
		}
	}
	// Output:
	// orders: 1/4 in use, 0 waiting
	//   in_use, tx open
}
