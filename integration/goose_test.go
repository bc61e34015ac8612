package integration

import (
	"context"
	"embed"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed testdata/migrations/*.sql
var gooseMigrations embed.FS

// TestGoose runs goose's migrations up, down and up again over a sqlpool
// *sql.DB on every database; on PostgreSQL with goose's session locker,
// which holds a pg_advisory_lock on one sql.Conn for the whole run.
func TestGoose(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, tg.dsn(t))
			dropTable(t, db, "goose_accounts")
			versions := tableName("goose_versions")
			dropTable(t, db, versions)

			dialect := map[string]goose.Dialect{"postgres": goose.DialectPostgres, "mysql": goose.DialectMySQL, "sqlite": goose.DialectSQLite3}[tg.dialect]
			opts := []goose.ProviderOption{goose.WithTableName(versions)}
			if tg.dialect == "postgres" {
				locker, err := lock.NewPostgresSessionLocker()
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, goose.WithSessionLocker(locker))
			}
			fsys, err := fs.Sub(gooseMigrations, "testdata/migrations")
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(dialect, db, fsys, opts...)
			if err != nil {
				t.Fatalf("goose.NewProvider: %v", err)
			}

			res, err := p.Up(ctx)
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			if len(res) != 2 {
				t.Fatalf("Up applied %d migrations, want 2", len(res))
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
				t.Fatalf("GetDBVersion after Up = %d, %v; want 2", v, err)
			}
			var balance int
			if err := db.QueryRow("SELECT balance FROM goose_accounts WHERE id = 1").Scan(&balance); err != nil || balance != 100 {
				t.Fatalf("balance after Up = %d, %v; want 100", balance, err)
			}

			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("DownTo(0): %v", err)
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != 0 {
				t.Fatalf("GetDBVersion after DownTo(0) = %d, %v; want 0", v, err)
			}
			if _, err := db.Exec("SELECT 1 FROM goose_accounts"); err == nil {
				t.Fatal("goose_accounts still exists after DownTo(0)")
			}
			if pending, err := p.HasPending(ctx); err != nil || !pending {
				t.Fatalf("HasPending after DownTo(0) = %v, %v; want true", pending, err)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("Up again: %v", err)
			}
			if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
				t.Fatalf("GetDBVersion after the second Up = %d, %v; want 2", v, err)
			}
		})
	}
}
