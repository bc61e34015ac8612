// Command sqlx-example runs sqlx over sqlpool: named queries, bindvars
// rebound for the inner driver, and a transaction. It uses a SQLite file by
// default; give another sqlpool DSN with -dsn, e.g.
//
//	go run . -dsn 'pgx:postgres://postgres@127.0.0.1:5432/test?sslmode=disable&pool_max_conns=8'
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	"github.com/sqlpool/sqlpool"
)

type person struct {
	ID   int    `db:"id"`
	Name string `db:"name"`
	Age  int    `db:"age"`
}

func main() {
	dir, err := os.MkdirTemp("", "sqlpool-sqlx-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := flag.String("dsn", "sqlite3:file:"+filepath.Join(dir, "app.db")+"?_busy_timeout=5000&pool_max_conns=4", "sqlpool DSN: <inner driver>:<inner DSN>")
	flag.Parse()
	if err := run(*dsn); err != nil {
		log.Fatal(err)
	}
}

func run(dsn string) error {
	// sqlx picks its bindvar ($1 or ?) from the driver name it is given:
	// give it the inner driver's, not "sqlpool".
	inner, _, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		return err
	}
	db, err := sqlx.Connect("sqlpool", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db = sqlx.NewDb(db.DB, inner)

	db.MustExec("DROP TABLE IF EXISTS sqlx_example_people")
	db.MustExec("CREATE TABLE sqlx_example_people (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, age INTEGER NOT NULL)")
	defer db.Exec("DROP TABLE sqlx_example_people")

	people := []person{{1, "Ada", 36}, {2, "Alan", 41}, {3, "Grace", 85}}
	if _, err := db.NamedExec("INSERT INTO sqlx_example_people (id, name, age) VALUES (:id, :name, :age)", people); err != nil {
		return err
	}

	var older []person
	if err := db.Select(&older, db.Rebind("SELECT id, name, age FROM sqlx_example_people WHERE age > ? ORDER BY id"), 40); err != nil {
		return err
	}
	fmt.Println("older than 40:", older)

	tx := db.MustBegin()
	if _, err := tx.NamedExec("UPDATE sqlx_example_people SET age = age + 1 WHERE name = :name", map[string]any{"name": "Ada"}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	var ada person
	if err := db.Get(&ada, db.Rebind("SELECT id, name, age FROM sqlx_example_people WHERE name = ?"), "Ada"); err != nil {
		return err
	}
	fmt.Println("after the transaction:", ada)

	st, err := sqlpool.DBStat(context.Background(), db.DB)
	if err != nil {
		return err
	}
	fmt.Printf("sqlpool: %d acquires served by %d physical connection(s)\n", st.AcquireCount, st.CreatedCount)
	return nil
}
