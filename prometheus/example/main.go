// Command example serves the Prometheus metrics of a sqlpool database: an
// in-memory SQLite database, queried a few times a second, with its pool
// exported by sqlpoolprom under /metrics.
//
//	go run ./example              # serves http://localhost:9090/metrics
//	go run ./example -once        # prints one scrape and exits
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver under sqlpool
	"github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/sqlpool/sqlpool" // the "sqlpool" driver
	sqlpoolprom "github.com/sqlpool/sqlpool/prometheus"
)

func main() {
	addr := flag.String("addr", ":9090", "the address to serve /metrics on")
	once := flag.Bool("once", false, "print one scrape to stdout and exit, serving nothing")
	flag.Parse()
	log.SetFlags(0)

	db, err := sql.Open("sqlpool", "sqlite3:file:demo.db?mode=memory&cache=shared&pool_name=demo&pool_max_conns=4")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)"); err != nil {
		log.Fatal(err)
	}
	work(db) // something to show in the first scrape

	// The one call: every sqlpool pool of the process, on the default
	// registry, which promhttp.Handler serves.
	if err := sqlpoolprom.Register(nil); err != nil {
		log.Fatal(err)
	}

	if *once {
		// What a GET /metrics would return, without opening a port.
		rec := httptest.NewRecorder()
		promhttp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != http.StatusOK {
			log.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
		}
		os.Stdout.Write(rec.Body.Bytes())
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				work(db)
			}
		}
	}()

	http.Handle("/metrics", promhttp.Handler())
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Printf("serving http://localhost%s/metrics", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// work inserts an order and reads the total back.
func work(db *sql.DB) {
	if _, err := db.Exec("INSERT INTO orders (total) VALUES (?)", 9.99); err != nil {
		log.Fatal(err)
	}
	var n int
	var sum float64
	if err := db.QueryRow("SELECT count(*), coalesce(sum(total), 0) FROM orders").Scan(&n, &sum); err != nil {
		log.Fatal(err)
	}
}
