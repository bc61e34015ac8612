// Package drivertests holds sqlpool to its session contract (shared/DESIGN.md,
// "The session contract") with an outside judge: the database drivers' own
// package test suites. It runs each suite twice against the real local
// servers, once as the driver publishes it and once with every database/sql
// Open and OpenDB the suite makes redirected through sqlpool, and compares the
// two runs test by test (subtests and examples included). A test that passes
// raw and does not pass through sqlpool is a way an application can tell that
// sqlpool is there, and fails this package's test, unless it is on the short
// list of allowed differences in suites.go, each with the reason no wrapper of
// the driver could do otherwise.
//
// It is a module of its own, so that the drivers' test code and what it needs
// stay out of sqlpool's module.
//
// # The suites
//
// TestMySQLSuiteThroughSqlpool runs github.com/go-sql-driver/mysql's and
// TestLibPQSuiteThroughSqlpool github.com/lib/pq's, each at the version that
// sqlpool's go.mod requires. For each suite the harness:
//
//  1. gets the module's source with `go mod download -json module@version`
//     (the module cache, or the Go module proxy) and copies it twice into a
//     temporary directory, writable (the module cache is read-only). Nothing of
//     the drivers' is kept in this repository.
//  2. leaves the first copy as published (the raw run).
//  3. rewrites the second with go/parser and go/format: in every _test.go file
//     of the module's root package, and in the non-test files of its test-only
//     helper packages (lib/pq's internal/pqtest, whose DB helper most of its
//     tests open their sql.DB with), each reference to database/sql's Open
//     becomes sqlpoolOpen and each to OpenDB becomes sqlpoolOpenDB, under
//     whatever name the file imports database/sql (a local variable that
//     shadows it is left alone; an import the rewrite leaves unused becomes a
//     blank import). A file added to each rewritten package
//     (zz_sqlpool_redirect_test.go, or zz_sqlpool_redirect_x_test.go for an
//     external test package) defines them: sqlpoolOpen(name, dsn) is
//     sql.Open("sqlpool", name+":"+dsn), and sqlpoolOpenDB(c) is
//     sql.OpenDB(sqlpool.Wrap(c)), where an error from Wrap is returned by
//     the DB's connection attempts (sql.OpenDB cannot fail). The copy's go.mod
//     then requires github.com/sqlpool/sqlpool, replaced by the sqlpool source
//     (SQLPOOL_SRC, by default the repository this module is in), and `go mod
//     tidy` resolves sqlpool's dependencies. This raises the copy's go
//     directive to sqlpool's (1.26); the raw copy keeps the driver's own.
//  4. runs `go test -json -count=1 -vet=off -timeout=… .` in each copy, raw
//     first, and takes each test's final action (pass, fail, skip) from the
//     JSON events. -vet=off because vet's checks follow the go directive,
//     which differs between the copies (Go 1.26's printf check rejects a line
//     of lib/pq's tests), and vet is no part of a suite's verdict.
//  5. lists, with each one's key output lines, the tests that pass raw and do
//     not pass through sqlpool, and fails for those not allowed. Allowed
//     entries that no longer differ are reported (remove them), without
//     failing.
//
// A test that panics ends its whole test binary, which would hide every test
// after it. When a run's binary dies before its end (a panic, os.Exit from
// log.Fatal in an example, a timeout), the harness counts the test it died in
// as failed and runs the binary again with the top-level tests that finished
// skipped (-skip), until every test has a result, within the run's timeout.
//
// Skipped in both runs, by name: go-sql-driver/mysql's
// TestConnectorReturnsTimeout, which dials 1.1.1.1:1234, an address off this
// machine that tests here must not send traffic to (it dials the driver's
// connector directly, not through database/sql, so sqlpool plays no part).
//
// # Servers and databases
//
// The suites run against PostgreSQL at localhost:5432 and MariaDB/MySQL at
// 127.0.0.1:3306, through the environment variables the suites read, which
// the harness sets unless they are set already:
//
//   - go-sql-driver/mysql: MYSQL_TEST_USER=root, MYSQL_TEST_PASS= (empty),
//     MYSQL_TEST_PROT=tcp, MYSQL_TEST_ADDR=127.0.0.1:3306,
//     MYSQL_TEST_DBNAME=gotest, MYSQL_TEST_CONCURRENT=1 (TestConcurrent, which
//     opens up to max_connections connections at once, runs).
//   - lib/pq: PGHOST=localhost, PGPORT=5432, PGUSER=pqgo, PGDATABASE=pqgo,
//     PGSSLMODE=disable, PGCONNECT_TIMEOUT=20: its own defaults
//     (internal/pqtest.DSN).
//
// Before each run the harness prepares the servers, idempotently: it creates
// the PostgreSQL role pqgo (LOGIN SUPERUSER, as the suite's docker compose file
// makes it) if missing, connected as SQLPOOL_DRIVERTESTS_PGADMIN (default
// postgres) to the database postgres, and it drops and creates afresh the
// databases gotest (MariaDB) and pqgo (PostgreSQL, DROP DATABASE … WITH
// (FORCE)), so that each run starts on an empty database whatever the run
// before left. A database named otherwise (MYSQL_TEST_DBNAME, PGDATABASE) is
// only created if missing, never dropped. These databases are the suites' own
// defaults and keep them apart from the database test that sqlpool's own
// tests use (the mysql suite creates and drops a table named test).
//
// lib/pq's tests of SSL, client certificates and password authentication
// need a server set up for them (certificates, pg_hba.conf rules, roles such
// as pqgossl and pqgomd5); they fail alike in both runs here, as do
// go-sql-driver/mysql's TLS and unix-socket tests. Only a difference between
// the runs counts.
//
// # Running it
//
//	cd drivertests && go vet ./... && go test -count=1 -v ./...
//
// -v shows the summary of each suite (the counts of both runs, how long each
// took, every difference with its output) on success too; without it, go test
// shows a test's log only when it fails. Each suite's summary ends with one
// line, in CI logs too:
//
//	drivertests mysql: raw 405 passed, 5 failed, 4 skipped; through sqlpool …
//
// A server that is not reachable skips its test with a message saying how to
// start it, or fails it with CI=true. -short skips both.
//
// Environment:
//
//   - SQLPOOL_SRC: the sqlpool source to build the redirected suites against
//     (default: the repository root, ..). Point it at a snapshot (`git archive
//     HEAD | tar -x -C DIR`) to test a commit while the working tree changes.
//   - SQLPOOL_DRIVERTESTS_TIMEOUT: the time one run of a suite may take,
//     resumed runs included (default 4m; less when go test's own -timeout
//     comes sooner). Passed to the suite's test binary as -timeout, so that a
//     hang is reported with the test that hung.
//   - SQLPOOL_DRIVERTESTS_WORK: a directory to make the copies in and keep,
//     with each run's JSON events (raw.json, sqlpool.json, sqlpool.2.json for
//     a resumed run, …), instead of a temporary one.
//
// A run of each suite takes seconds raw (about 12s for mysql, 4s for lib/pq,
// with the build); through sqlpool it takes as long, plus
// whatever sqlpool makes the suite wait.
package drivertests
