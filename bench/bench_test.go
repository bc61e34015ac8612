package bench

import (
	"database/sql"
	"fmt"
	"testing"
)

// The in-process workloads as go test benchmarks, for benchstat:
//
//	go test -run '^$' -bench 'SQLiteSelect1' -benchmem -count 10 . | tee new.txt
//	benchstat -col /peer new.txt
//
// scripts/benchsuite runs the same peers interleaved and writes the report.

func benchMicro(b *testing.B, m Micro, goroutines int) {
	newOp, closer, err := m.New()
	if err != nil {
		b.Fatal(err)
	}
	defer closer()
	b.ReportAllocs()
	if goroutines == 1 {
		op, err := newOp()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(goroutines)
	b.RunParallel(func(pb *testing.PB) {
		op, err := newOp()
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSQLiteSelect1 is workload 1, serial.
func BenchmarkSQLiteSelect1(b *testing.B) {
	for _, m := range OverheadMicros() {
		b.Run("peer="+m.ID, func(b *testing.B) { benchMicro(b, m, 1) })
	}
}

// BenchmarkSQLiteSelect1Parallel is workload 1 with 4 goroutines per
// GOMAXPROCS.
func BenchmarkSQLiteSelect1Parallel(b *testing.B) {
	for _, m := range OverheadMicros() {
		b.Run("peer="+m.ID, func(b *testing.B) { benchMicro(b, m, 4) })
	}
}

// BenchmarkTracingSQLiteSelect1 is workload 6: the SDK sampling every span.
func BenchmarkTracingSQLiteSelect1(b *testing.B) {
	sdk := NewSDK()
	defer sdk.Shutdown()
	for _, m := range TracingMicros(sdk) {
		b.Run("peer="+m.ID, func(b *testing.B) { benchMicro(b, m, 1) })
	}
}

// BenchmarkRuntimeCallers is leak detection's physical limit: one
// runtime.Callers of 32 frames.
func BenchmarkRuntimeCallers(b *testing.B) {
	op := CallersOp()
	for b.Loop() {
		op()
	}
}

// BenchmarkAcquireRelease is sqlpool's pool against jackc/puddle:
//
//	go test -run '^$' -bench AcquireRelease -benchmem -count 10 . | tee pools.txt
//	benchstat -col /pool pools.txt
func BenchmarkAcquireRelease(b *testing.B) {
	for _, g := range AcquireReleaseGoroutines {
		b.Run(fmt.Sprintf("pool=sqlpool/goroutines=%d", g), func(b *testing.B) { AcquireReleaseSQLPool(b, g) })
		b.Run(fmt.Sprintf("pool=puddle/goroutines=%d", g), func(b *testing.B) { AcquireReleasePuddle(b, g) })
	}
}

// BenchmarkSQLiteMaxIdleZero is what SetMaxIdleConns(0) costs over sqlpool
// (workload 3) without a network: database/sql opens and closes a logical
// connection per query, while the physical one stays in sqlpool's pool.
func BenchmarkSQLiteMaxIdleZero(b *testing.B) {
	for _, c := range []struct {
		id   string
		idle int
		open func() (*sql.DB, error)
	}{
		{"raw-pooled", 8, func() (*sql.DB, error) { return sql.Open("sqlite3", MemDSN()) }},
		{"sqlpool-pooled", 8, sqliteSQLPool(nil, "pool_tracing", "false", "pool_leak_threshold", "0")},
		// SQLite has no statement that resets a session: each connection
		// database/sql closes is replaced, unless sessions may pass on.
		{"sqlpool-maxidle0", 0, sqliteSQLPool(nil, "pool_tracing", "false", "pool_leak_threshold", "0")},
		{"sqlpool-maxidle0-noreset", 0, sqliteSQLPool(nil, "pool_tracing", "false", "pool_leak_threshold", "0", "pool_reset_session", "false")},
	} {
		b.Run("peer="+c.id, func(b *testing.B) {
			db, err := c.open()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxIdleConns(c.idle)
			op, _ := dbOp(db)()
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
