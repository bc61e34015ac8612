// Command gorm-example runs GORM over sqlpool: migrations, create, query and
// a transaction. It uses a SQLite file by default; give another sqlpool DSN
// with -dsn (PostgreSQL through pgx, MySQL/MariaDB, or SQLite), e.g.
//
//	go run . -dsn 'pgx:postgres://postgres@127.0.0.1:5432/test?sslmode=disable&pool_max_conns=8'
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sqlpool/sqlpool"
)

// Product is the example's model.
type Product struct {
	ID    uint   `gorm:"primaryKey"`
	Code  string `gorm:"size:32;uniqueIndex"`
	Price int
}

func main() {
	dir, err := os.MkdirTemp("", "sqlpool-gorm-example-")
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
	sqlDB, err := sql.Open("sqlpool", dsn)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	// Give GORM the sqlpool *sql.DB through its dialector's Conn option;
	// the dialector is the inner driver's database's.
	inner, _, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		return err
	}
	var dialector gorm.Dialector
	switch inner {
	case "pgx", "postgres":
		dialector = postgres.New(postgres.Config{Conn: sqlDB})
	case "mysql":
		dialector = mysql.New(mysql.Config{Conn: sqlDB})
	case "sqlite3":
		dialector = sqlite.New(sqlite.Config{Conn: sqlDB})
	default:
		return fmt.Errorf("no GORM dialector for inner driver %q", inner)
	}
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}

	if err := db.Migrator().DropTable(&Product{}); err != nil {
		return err
	}
	defer db.Migrator().DropTable(&Product{})
	if err := db.AutoMigrate(&Product{}); err != nil {
		return err
	}
	if err := db.Create(&[]Product{{Code: "A1", Price: 100}, {Code: "B2", Price: 250}}).Error; err != nil {
		return err
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Model(&Product{}).Where("code = ?", "A1").Update("price", 120).Error
	})
	if err != nil {
		return err
	}
	var products []Product
	if err := db.Order("code").Find(&products).Error; err != nil {
		return err
	}
	for _, p := range products {
		fmt.Printf("%s costs %d\n", p.Code, p.Price)
	}

	st, err := sqlpool.DBStat(context.Background(), sqlDB)
	if err != nil {
		return err
	}
	fmt.Printf("sqlpool: %d acquires served by %d physical connection(s)\n", st.AcquireCount, st.CreatedCount)
	return nil
}
