package sqlpool_test

import (
	"database/sql"
	"fmt"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	_ "github.com/sqlpool/sqlpool"
)

// The wrapper's own cost: in-memory SQLite answers SELECT 1 in a few
// microseconds, so whatever sqlpool adds shows. Three drivers: raw
// database/sql on go-sqlite3, sqlpool with its defaults (leak detection on),
// and sqlpool with leak detection off (pool_leak_threshold=0). Compare with
//
//	go test -run '^$' -bench 'SQLiteSelect1' -count 10 . | tee new.txt
//	benchstat -col /driver new.txt
var benchDrivers = []string{"raw", "sqlpool-noleak", "sqlpool"}

func benchDBs(b *testing.B) map[string]*sql.DB {
	b.Helper()
	open := func(name, dsn string) *sql.DB {
		db, err := sql.Open(name, dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
	// A named in-memory database with a shared cache, the same for raw
	// and sqlpool: one that lives in its connection (":memory:") would
	// have sqlpool pin its connection and measure no pool at all.
	return map[string]*sql.DB{
		"raw":            open("sqlite3", "file:bench_raw?mode=memory&cache=shared"),
		"sqlpool-noleak": open("sqlpool", "sqlite3:file:bench_noleak?mode=memory&cache=shared&pool_max_conns=64&pool_leak_threshold=0"),
		"sqlpool":        open("sqlpool", "sqlite3:file:bench_sqlpool?mode=memory&cache=shared&pool_max_conns=64"),
	}
}

func BenchmarkSQLiteSelect1(b *testing.B) {
	dbs := benchDBs(b)
	for _, name := range benchDrivers {
		db := dbs[name]
		b.Run("driver="+name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSQLiteSelect1Parallel(b *testing.B) {
	dbs := benchDBs(b)
	for _, name := range benchDrivers {
		db := dbs[name]
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("driver=%s/clients=%d", name, clients), func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(clients)
				b.RunParallel(func(pb *testing.PB) {
					var n int
					for pb.Next() {
						if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkSQLiteSelect1Args adds an argument, which takes sqlpool's
// deferred argument conversion path.
func BenchmarkSQLiteSelect1Args(b *testing.B) {
	dbs := benchDBs(b)
	for _, name := range benchDrivers {
		db := dbs[name]
		b.Run("driver="+name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				if err := db.QueryRow("SELECT ?", 1).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
