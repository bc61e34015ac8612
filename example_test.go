package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// Switching to sqlpool is a change of driver name: the inner driver's name
// and a colon go in front of its DSN, and pool settings join its parameters.
func Example() {
	db, err := sql.Open("sqlpool", "sqlite3:file::memory:?pool_max_conns=2&pool_name=example")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // database/sql drops every connection it gets back...

	for range 100 {
		var n int
		if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
			log.Fatal(err)
		}
	}
	s, err := sqlpool.DBStat(context.Background(), db)
	if err != nil {
		log.Fatal(err)
	}
	// ...but the physical connection stays in sqlpool's pool.
	fmt.Printf("pool %s: %d queries, %d physical connection(s) opened\n", s.Name, s.AcquireCount, s.CreatedCount)
	// Output:
	// pool example: 100 queries, 1 physical connection(s) opened
}

// Settings come from Go as options, with DSN parameters on top.
func ExampleNewConnector() {
	ctr, err := sqlpool.NewConnector("sqlite3::memory:?pool_max_conns=3",
		sqlpool.WithMaxConns(10), sqlpool.WithName("orders"))
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close() // closes the pool

	if err := db.Ping(); err != nil {
		log.Fatal(err)
	}
	s := ctr.Stat()
	fmt.Printf("%s: max %d, open %d, destroyed by lifetime %d\n",
		s.Name, s.MaxSize, s.Total, s.DestroyedCount(pool.ReasonLifetime))
	// Output:
	// orders: max 3, open 1, destroyed by lifetime 0
}
