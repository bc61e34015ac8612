package drivertests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

// Server is the database server a suite runs against, and the environment
// the suite's tests read to find it.
type Server struct {
	What    string   // "MariaDB/MySQL", "PostgreSQL"
	Network string   // for the reachability check
	Addr    string   // host:port (or a socket path)
	Env     []string // KEY=value, for the suite's go test
	// Setup creates, idempotently, what the suite needs on the server. It
	// runs before each run of the suite (raw, through sqlpool, and each
	// resumed run): when the suite's database is the harness's own (the
	// suite's default name), Setup drops it and creates it afresh, so that
	// every run starts on an empty database, whatever the run before left
	// (a test binary that died leaves its tables behind).
	Setup func(ctx context.Context) error
	// Hint says how to point the suite at another server.
	Hint string
}

// Reachable dials the server.
func (s Server) Reachable() error {
	c, err := net.DialTimeout(s.Network, s.Addr, 5*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// envOr returns the environment variable key, or def when it is unset or
// empty, and the KEY=value pair that gives the suite that value.
func envOr(key, def string) (string, string) {
	v := os.Getenv(key)
	if v == "" {
		v = def
	}
	return v, key + "=" + v
}

// mysqlServer is the server for go-sql-driver/mysql's tests, which read
// MYSQL_TEST_USER, MYSQL_TEST_PASS, MYSQL_TEST_PROT, MYSQL_TEST_ADDR,
// MYSQL_TEST_DBNAME (driver_test.go's init) and MYSQL_TEST_CONCURRENT
// (TestConcurrent, skipped unless set). Each defaults to the local test
// server (root, no password, tcp 127.0.0.1:3306) and the suite's own
// database name, gotest: a database of its own, since the suite creates and
// drops a table named test, and sqlpool's tests use the database test.
// The databases the harness owns: the suites' default names. Only these are
// dropped and made afresh before each run.
const (
	mysqlOwnDB    = "gotest"
	postgresOwnDB = "pqgo"
)

func mysqlServer() Server {
	user, e1 := envOr("MYSQL_TEST_USER", "root")
	pass, e2 := envOr("MYSQL_TEST_PASS", "")
	prot, e3 := envOr("MYSQL_TEST_PROT", "tcp")
	addr, e4 := envOr("MYSQL_TEST_ADDR", "127.0.0.1:3306")
	dbname, e5 := envOr("MYSQL_TEST_DBNAME", mysqlOwnDB)
	_, e6 := envOr("MYSQL_TEST_CONCURRENT", "1")
	return Server{
		What:    "MariaDB/MySQL",
		Network: prot,
		Addr:    addr,
		Env:     []string{e1, e2, e3, e4, e5, e6},
		Hint:    "start it (bash .ci/run does), or set MYSQL_TEST_ADDR (and MYSQL_TEST_USER, MYSQL_TEST_PASS)",
		Setup: func(ctx context.Context) error {
			cfg := mysql.NewConfig()
			cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, pass, prot, addr
			cfg.Timeout = 10 * time.Second
			c, err := mysql.NewConnector(cfg)
			if err != nil {
				return err
			}
			db := sql.OpenDB(c)
			defer db.Close()
			if dbname == mysqlOwnDB {
				if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteMySQL(dbname)); err != nil {
					return err
				}
			}
			_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteMySQL(dbname))
			return err
		},
	}
}

func quoteMySQL(name string) string {
	q := []byte{'`'}
	for i := range len(name) {
		if name[i] == '`' {
			q = append(q, '`')
		}
		q = append(q, name[i])
	}
	return string(append(q, '`'))
}

// postgresServer is the server for lib/pq's tests, which find it through
// libpq's environment variables, with defaults of their own
// (internal/pqtest.DSN): PGHOST=localhost, PGUSER=pqgo, PGDATABASE=pqgo,
// PGSSLMODE=disable, PGCONNECT_TIMEOUT=20. The same defaults are given here,
// with PGPORT=5432, each overridable by the variable itself. Setup creates
// the role PGUSER (a superuser, as the suite's docker compose file makes
// pqgo) and its database PGDATABASE if missing, connected as the superuser
// SQLPOOL_DRIVERTESTS_PGADMIN (default postgres) to its database postgres.
// The suite's other roles (pqgossl, pqgomd5, …) go with a server
// configuration of its own (SSL certificates, pg_hba.conf rules): they are
// not made, and the tests that use them fail in both runs alike.
func postgresServer() Server {
	host, e1 := envOr("PGHOST", "localhost")
	port, e2 := envOr("PGPORT", "5432")
	user, e3 := envOr("PGUSER", "pqgo")
	dbname, e4 := envOr("PGDATABASE", postgresOwnDB)
	sslmode, e5 := envOr("PGSSLMODE", "disable")
	_, e6 := envOr("PGCONNECT_TIMEOUT", "20")
	admin := os.Getenv("SQLPOOL_DRIVERTESTS_PGADMIN")
	if admin == "" {
		admin = "postgres"
	}
	network, addr := "tcp", net.JoinHostPort(host, port)
	if len(host) > 0 && host[0] == '/' {
		network, addr = "unix", fmt.Sprintf("%s/.s.PGSQL.%s", host, port)
	}
	return Server{
		What:    "PostgreSQL",
		Network: network,
		Addr:    addr,
		Env:     []string{e1, e2, e3, e4, e5, e6},
		Hint:    "start it (bash .ci/run does), or set PGHOST and PGPORT",
		Setup: func(ctx context.Context) error {
			c, err := pq.NewConnector(fmt.Sprintf("host='%s' port='%s' user='%s' dbname=postgres sslmode='%s' connect_timeout=10",
				host, port, admin, sslmode))
			if err != nil {
				return err
			}
			db := sql.OpenDB(c)
			defer db.Close()
			var exists bool
			if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", user).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				_, err := db.ExecContext(ctx, "CREATE ROLE "+pq.QuoteIdentifier(user)+" SUPERUSER LOGIN")
				if err = ignoreCode(err, "42710"); err != nil { // duplicate_object: made meanwhile
					return err
				}
			}
			if dbname == postgresOwnDB {
				// FORCE (PostgreSQL 13+) ends the sessions a died test
				// binary may have left.
				if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(dbname)+" WITH (FORCE)"); err != nil {
					return err
				}
			}
			if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbname).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				_, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(dbname)+" OWNER "+pq.QuoteIdentifier(user))
				if err = ignoreCode(err, "42P04"); err != nil { // duplicate_database: made meanwhile
					return err
				}
			}
			return nil
		},
	}
}

// ignoreCode returns nil if err is a PostgreSQL error with SQLSTATE code.
func ignoreCode(err error, code string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && string(pe.Code) == code {
		return nil
	}
	return err
}
