package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Machine describes the CPU and the kernel.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs, %s%s, %s/%s", runtime.NumCPU(), model, kernel, runtime.GOOS, runtime.GOARCH)
}

// Versions lists Go, the servers and every peer module's version; rev is
// the sqlpool commit measured.
func Versions(ctx context.Context, admin *Admin, rev string) []string {
	v := []string{"Go: " + runtime.Version(), "PostgreSQL: " + admin.Version(ctx)}
	if db, err := sql.Open("sqlite3", ":memory:"); err == nil {
		var sv string
		if db.QueryRow("SELECT sqlite_version()").Scan(&sv) == nil {
			v = append(v, "SQLite: "+sv+" (go-sqlite3, in memory, shared cache)")
		}
		db.Close()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var mods []string
		for _, m := range bi.Deps {
			switch m.Path {
			case "github.com/lib/pq", "github.com/jackc/pgx/v5", "github.com/mattn/go-sqlite3",
				"github.com/XSAM/otelsql", "github.com/ngrok/sqlmw", "github.com/jackc/puddle/v2",
				"go.opentelemetry.io/otel/sdk":
				mods = append(mods, m.Path+" "+m.Version)
			case "github.com/sqlpool/sqlpool":
				mods = append(mods, "sqlpool "+rev)
			}
		}
		v = append(v, "Modules: "+strings.Join(mods, ", "))
	}
	return v
}
