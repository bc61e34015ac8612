package sqlpoolprom_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sqlpoolprom "github.com/sqlpool/sqlpool/prometheus"
)

// A program registers the collector once and serves /metrics; every
// sqlpool pool it opens is exported, under DBStatsCollector's go_sql_*
// names and sqlpool's own. (A program would call Register(nil) and serve
// promhttp.Handler(); the example keeps to a registry of its own and to its
// one pool, with WithPoolFilter.)
func Example() {
	db, err := sql.Open("sqlpool", "sqlite3:file:prom_example?mode=memory&cache=shared&pool_name=orders&pool_max_conns=4")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for range 3 {
		if _, err := db.Exec("SELECT 1"); err != nil {
			log.Fatal(err)
		}
	}

	reg := prometheus.NewRegistry()
	if err := sqlpoolprom.Register(reg, sqlpoolprom.WithPoolFilter(func(name string) bool { return name == "orders" })); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	printSeries(resp.Body, "go_sql_max_open_connections", "go_sql_open_connections", "go_sql_in_use_connections",
		"sqlpool_acquires_total", "sqlpool_connections_created_total", "sqlpool_connections_destroyed_total{db_name=\"orders\",reason=\"lifetime\"}")
	// Output:
	// go_sql_max_open_connections{db_name="orders"} 4
	// go_sql_open_connections{db_name="orders"} 1
	// go_sql_in_use_connections{db_name="orders"} 0
	// sqlpool_acquires_total{db_name="orders"} 3
	// sqlpool_connections_created_total{db_name="orders"} 1
	// sqlpool_connections_destroyed_total{db_name="orders",reason="lifetime"} 0
}

// printSeries prints the lines of a scrape that start with one of the
// prefixes, in the prefixes' order.
func printSeries(r io.Reader, prefixes ...string) {
	lines := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(sc.Text(), p+"{") || strings.HasPrefix(sc.Text(), p+" ") {
				lines[p] = sc.Text()
			}
		}
	}
	for _, p := range prefixes {
		fmt.Println(lines[p])
	}
}
