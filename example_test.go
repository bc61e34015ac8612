package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/url"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/pool"
)

// Switching to sqlpool is a change of driver name: the inner driver's name
// and a colon go in front of its DSN, and pool settings join its parameters.
// Here database/sql drops every connection it gets back (SetMaxIdleConns(0),
// a common mistake), which on the raw driver opens a connection per query.
// With pool_reset_session=false, sessions pass their state on, as in a
// pooler's transaction mode, and the one physical connection serves every
// query; by default a session database/sql closed is reset first (on
// PostgreSQL, DISCARD ALL), or replaced where the database has no reset.
func Example() {
	db, err := sql.Open("sqlpool", "sqlite3:file:example?mode=memory&cache=shared&pool_max_conns=2&pool_name=example&pool_reset_session=false")
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

// A tool that must bypass the pool, a schema migration for instance, opens
// the same database with the inner driver and the DSN sqlpool would give it.
func ExampleSplitDSN() {
	dsn := "sqlite3:file:app.db?mode=memory&pool_max_conns=4&_busy_timeout=5000"
	name, inner, err := sqlpool.SplitDSN(dsn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sql.Open(%q, %q)\n", name, inner)

	_, _, err = sqlpool.SplitDSN("postgres:postgres://app:S3cr3t@db/app?pool_max_conns=0")
	fmt.Println(err)
	// Output:
	// sql.Open("sqlite3", "file:app.db?mode=memory&_busy_timeout=5000")
	// sqlpool: pool_max_conns must be >= 1, got 0
}

// A DSN is fit for a log once its passwords are out.
func ExampleRedactDSN() {
	for _, dsn := range []string{
		"postgres:postgres://app:S3cr3t@db:5432/app?sslmode=disable&pool_max_conns=20",
		"pgx:host=db user=app password='S3 cr3t' dbname=app pool_max_conns=20",
		"mysql:app:S3cr3t@tcp(db:3306)/app?parseTime=true",
	} {
		fmt.Println(sqlpool.RedactDSN(dsn))
	}
	// Output:
	// postgres:postgres://app:xxxxx@db:5432/app?sslmode=disable&pool_max_conns=20
	// pgx:host=db user=app password='xxxxx' dbname=app pool_max_conns=20
	// mysql:app:xxxxx@tcp(db:3306)/app?parseTime=true
}

// The pool_* parameters a DSN sets, ready for time.ParseDuration or
// strconv.Atoi: PoolParams has checked them.
func ExamplePoolParams() {
	params, err := sqlpool.PoolParams("postgres:host=db dbname=app pool_max_conns=20 pool_max_conn_lifetime=30m")
	if err != nil {
		log.Fatal(err)
	}
	lifetime, _ := time.ParseDuration(params["pool_max_conn_lifetime"])
	_, jitterSet := params["pool_max_conn_lifetime_jitter"]
	fmt.Println(params["pool_max_conns"], lifetime, jitterSet)
	// Output:
	// 20 30m0s false
}

// fetchToken stands for a credential service: an IAM authentication token
// for RDS, a Vault lease, a file a sidecar rewrites.
func fetchToken(context.Context) (string, error) { return "token-valid-for-15-minutes", nil }

// A password that expires goes in a WithBeforeConnect hook: every dial
// asks for the current one, so connections made after a rotation use it
// while connections already open carry on with theirs. After the old
// password is revoked, sqlpool.Reset replaces the open connections too.
// failover_pg_test.go rotates a real server's password (ALTER ROLE …
// PASSWORD) between dials this way.
func ExampleWithBeforeConnect() {
	ctr, err := sqlpool.NewConnector("pgx:postgres://app@db.internal:5432/orders?sslmode=require&pool_max_conns=20",
		sqlpool.WithBeforeConnect(func(ctx context.Context, innerDSN string) (string, error) {
			token, err := fetchToken(ctx)
			if err != nil {
				return "", err // this dial fails; the pool retries with its backoff
			}
			u, err := url.Parse(innerDSN)
			if err != nil {
				return "", err
			}
			u.User = url.UserPassword(u.User.Username(), token)
			return u.String(), nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()

	// After the credentials changed, a DNS switch or a planned failover:
	// every later operation runs on a connection dialed after this.
	if err := sqlpool.Reset(db); err != nil {
		log.Fatal(err)
	}
}

// After a failover behind a stable address, the old primary may stay
// reachable as a read-only server: with pool_require_writable=true, every
// check of a connection (the pre-ping, the keepalive, each dial) also asks
// whether the server accepts writes, and a connection to one that does not
// is closed instead of handed out. SetMaxConns changes the cap at run time.
func ExampleSetMaxConns() {
	db, err := sql.Open("sqlpool", "pgx:postgres://app@db.internal:5432/orders?pool_require_writable=true&pool_max_conns=10")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := sqlpool.SetMaxConns(db, 40); err != nil { // a traffic peak
		log.Fatal(err)
	}
}
