package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/pgtemp"
)

// bouncer is a PgBouncer in transaction pooling mode in front of a
// throwaway PostgreSQL.
type bouncer struct {
	port int
	log  string
}

// url is the bouncer's postgres database, for lib/pq and pgx alike.
func (b *bouncer) url(params string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&%s", b.port, params)
}

// startPgBouncer starts a PostgreSQL server and a PgBouncer in front of it
// (pool_mode=transaction, auth_type=any, at most serverConns server
// connections), both stopped when the test ends. PgBouncer refuses to run
// as root: as root it runs as the PostgreSQL server's user.
func startPgBouncer(t *testing.T, serverConns int) *bouncer {
	t.Helper()
	bin := lookPath(t, "pgbouncer", "install it (apt-get install pgbouncer)")
	srv := startPostgres(t, pgtemp.Options{})
	dir := filepath.Join(srv.Dir(), "pgbouncer")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := srv.Chown(dir); err != nil {
		t.Fatal(err)
	}
	port, err := pgtemp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b := &bouncer{port: port, log: filepath.Join(dir, "pgbouncer.log")}
	ini := fmt.Sprintf(`[databases]
postgres = host=127.0.0.1 port=%d dbname=postgres user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
server_round_robin = 0
logfile = %s
ignore_startup_parameters = extra_float_digits
`, srv.Port(), port, serverConns, b.log)
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Chown(iniPath); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, iniPath)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: srv.Credential()}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pgbouncer: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT) // immediate shutdown
		<-exited
		if t.Failed() {
			if out, err := os.ReadFile(b.log); err == nil {
				t.Logf("pgbouncer log:\n%s", out)
			}
		}
	})
	// Wait until it listens, or exits, for at most 10s.
	deadline := time.Now().Add(10 * time.Second)
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return b
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(b.log)
			t.Fatalf("pgbouncer exited at start (%v):\n%s", err, out)
		case <-time.After(backoff):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen on %d within 10s: %v", port, err)
		}
	}
}

// TestPgBouncerTransactionModeWhatBreaks shows, deterministically, the two
// ways a statement prepared on one server connection is looked for on
// another behind PgBouncer in transaction mode, and the setting that avoids
// each. App A (one connection) runs a statement, then app B holds the
// server A used in an open transaction, so A's next transaction gets a
// different server.
//
//   - sqlpool's statement cache keeps a statement prepared in one
//     transaction (tx.Prepare) for later ones: pool_stmt_cache_size=0;
//   - pgx's own statement cache prepares every query with arguments:
//     default_query_exec_mode=exec (or simple_protocol).
func TestPgBouncerTransactionModeWhatBreaks(t *testing.T) {
	b := startPgBouncer(t, 2)
	cases := []struct {
		name, params string
		prepareInTx  bool
		wantErr      bool
	}{
		{"sqlpool cache on, tx.Prepare", "default_query_exec_mode=exec", true, true},
		{"sqlpool cache off, tx.Prepare", "default_query_exec_mode=exec&pool_stmt_cache_size=0", true, false},
		{"pgx default exec mode, query with arguments", "pool_stmt_cache_size=0", false, true},
		{"pgx exec mode, query with arguments", "default_query_exec_mode=exec&pool_stmt_cache_size=0", false, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			appA := openDB(t, "pgx:"+b.url(c.params+fmt.Sprintf("&pool_max_conns=1&pool_name=a%d", i)))
			appB := openDB(t, "pgx:"+b.url(c.params+fmt.Sprintf("&pool_max_conns=1&pool_name=b%d", i)))
			// A text of its own per case: pgx names a prepared statement
			// after its text, and a statement one case left on a server
			// would collide with the next case's.
			q := fmt.Sprintf("SELECT $1::int * 2 /* case %d */", i)
			run := func(arg int) error {
				var got int
				if c.prepareInTx {
					tx, err := appA.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					st, err := tx.Prepare(q)
					if err != nil {
						return err
					}
					if err := st.QueryRow(arg).Scan(&got); err != nil {
						return err
					}
					st.Close()
					if err := tx.Commit(); err != nil {
						return err
					}
				} else if err := appA.QueryRow(q, arg).Scan(&got); err != nil {
					return err
				}
				if got != 2*arg {
					return fmt.Errorf("got %d, want %d", got, 2*arg)
				}
				return nil
			}
			if err := run(1); err != nil {
				t.Fatalf("first run: %v", err)
			}
			holder, err := appB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback()
			if _, err := holder.Exec("SELECT 1"); err != nil { // takes the server A just released
				t.Fatal(err)
			}
			err = run(2)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "does not exist") {
					t.Fatalf("second run on another server: err = %v, want prepared statement ... does not exist", err)
				}
				t.Logf("as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("second run on another server: %v", err)
			}
		})
	}
}

// TestPgBouncerTransactionModeUnderLoad runs three app servers, each its
// own sqlpool pool of 4 connections, with 8 goroutines each, through one
// PgBouncer in transaction mode that has 3 server connections: queries
// with arguments, and transactions that prepare statements, with the
// settings the README gives (pool_stmt_cache_size=0,
// pool_reset_session=false; pgx default_query_exec_mode=exec, lib/pq
// binary_parameters=yes). Every result is checked.
func TestPgBouncerTransactionModeUnderLoad(t *testing.T) {
	b := startPgBouncer(t, 3)
	for _, app := range []struct{ driver, params string }{
		{"pgx", "default_query_exec_mode=exec&pool_stmt_cache_size=0&pool_reset_session=false"},
		{"postgres", "binary_parameters=yes&pool_stmt_cache_size=0&pool_reset_session=false"},
	} {
		t.Run(app.driver, func(t *testing.T) {
			var dbs []*sql.DB
			for i := range 3 {
				dbs = append(dbs, openDB(t, fmt.Sprintf("%s:%s&pool_max_conns=4&pool_name=%s-app%d", app.driver, b.url(app.params), app.driver, i)))
			}
			const perWorker = 60
			var wg sync.WaitGroup
			errs := make(chan error, 3*8)
			for _, db := range dbs {
				for w := range 8 {
					wg.Go(func() {
						if err := bouncerWork(db, w, perWorker); err != nil {
							errs <- err
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// bouncerWork runs n rounds of a query with arguments and a transaction
// that prepares a statement and runs it twice, checking every result.
func bouncerWork(db *sql.DB, w, n int) error {
	ctx := context.Background()
	for i := range n {
		var sum int
		if err := db.QueryRowContext(ctx, "SELECT $1::int + $2::int", w, i).Scan(&sum); err != nil {
			return fmt.Errorf("worker %d round %d: query: %w", w, i, err)
		}
		if sum != w+i {
			return fmt.Errorf("worker %d round %d: got %d, want %d", w, i, sum, w+i)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("worker %d round %d: begin: %w", w, i, err)
		}
		st, err := tx.PrepareContext(ctx, "SELECT $1::text || '-' || $2::text")
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("worker %d round %d: prepare: %w", w, i, err)
		}
		for k := range 2 {
			var s string
			if err := st.QueryRowContext(ctx, fmt.Sprint(w), fmt.Sprint(i+k)).Scan(&s); err != nil {
				tx.Rollback()
				return fmt.Errorf("worker %d round %d: prepared query: %w", w, i, err)
			}
			if want := fmt.Sprintf("%d-%d", w, i+k); s != want {
				tx.Rollback()
				return fmt.Errorf("worker %d round %d: got %q, want %q", w, i, s, want)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("worker %d round %d: commit: %w", w, i, err)
		}
	}
	return nil
}
