package integration

import (
	"database/sql"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/sqlpool/sqlpool"
)

type person struct {
	ID   int    `db:"id"`
	Name string `db:"name"`
	Age  int    `db:"age"`
}

// TestSqlx runs sqlx's bindvar rewriting, named queries, In, prepared
// named statements and transactions over sqlpool on every database, with
// the bind type taken from the inner driver's name (sqlpool.SplitDSN).
func TestSqlx(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			dsn := tg.dsn(t)
			inner, _, err := sqlpool.SplitDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			db := sqlx.NewDb(openDB(t, dsn), inner)
			want := map[string]int{"postgres": sqlx.DOLLAR, "mysql": sqlx.QUESTION, "sqlite": sqlx.QUESTION}[tg.dialect]
			if got := sqlx.BindType(db.DriverName()); got != want {
				t.Fatalf("BindType() = %d, want %d", got, want)
			}
			exerciseSqlx(t, db)
		})
	}
}

// TestSqlxNewDbPostgres is the README's PostgreSQL snippet: the sqlx driver
// name given as "postgres" whatever the inner driver.
func TestSqlxNewDbPostgres(t *testing.T) {
	db := sqlx.NewDb(openDB(t, targets[0].dsn(t)), "postgres")
	exerciseSqlx(t, db)
}

// TestSqlxOpenRegisteredName is the alternative to NewDb: a driver name of
// its own (sqlpool.Register) whose bind type sqlx is told once
// (sqlx.BindDriver), so sqlx.Connect works as with the bare driver.
func TestSqlxOpenRegisteredName(t *testing.T) {
	url := targets[0].dsn(t)[len("pgx:"):]
	sqlpool.Register("pgx-pooled-sqlx-test", "pgx", sqlpool.WithMaxConns(4))
	sqlx.BindDriver("pgx-pooled-sqlx-test", sqlx.DOLLAR)
	db, err := sqlx.Connect("pgx-pooled-sqlx-test", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exerciseSqlx(t, db)
}

func exerciseSqlx(t *testing.T, db *sqlx.DB) {
	t.Helper()
	table := tableName("sqlx_people")
	dropTable(t, db.DB, table)
	db.MustExec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, age INTEGER NOT NULL)")

	// Named batch insert: sqlx expands the slice and rebinds :name for the driver.
	people := []person{{1, "Ada", 36}, {2, "Alan", 41}, {3, "Grace", 85}}
	if _, err := db.NamedExec("INSERT INTO "+table+" (id, name, age) VALUES (:id, :name, :age)", people); err != nil {
		t.Fatalf("NamedExec batch: %v", err)
	}
	if _, err := db.NamedExec("INSERT INTO "+table+" (id, name, age) VALUES (:id, :name, :age)", map[string]any{"id": 4, "name": "Edsger", "age": 72}); err != nil {
		t.Fatalf("NamedExec map: %v", err)
	}

	var got person
	if err := db.Get(&got, db.Rebind("SELECT id, name, age FROM "+table+" WHERE name = ?"), "Grace"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != people[2] {
		t.Fatalf("Get = %+v, want %+v", got, people[2])
	}

	var older []person
	if err := db.Select(&older, db.Rebind("SELECT id, name, age FROM "+table+" WHERE age > ? ORDER BY id"), 40); err != nil {
		t.Fatalf("Select: %v", err)
	}
	if len(older) != 3 || older[0].Name != "Alan" {
		t.Fatalf("Select age > 40 = %+v, want Alan, Grace, Edsger", older)
	}

	q, args, err := sqlx.In("SELECT name FROM "+table+" WHERE id IN (?) ORDER BY id", []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := db.Select(&names, db.Rebind(q), args...); err != nil {
		t.Fatalf("Select with sqlx.In: %v", err)
	}
	if len(names) != 2 || names[0] != "Ada" || names[1] != "Grace" {
		t.Fatalf("sqlx.In names = %v, want [Ada Grace]", names)
	}

	rows, err := db.NamedQuery("SELECT id, name, age FROM "+table+" WHERE age < :max ORDER BY id", map[string]any{"max": 40})
	if err != nil {
		t.Fatalf("NamedQuery: %v", err)
	}
	var young []person
	for rows.Next() {
		var p person
		if err := rows.StructScan(&p); err != nil {
			t.Fatal(err)
		}
		young = append(young, p)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(young) != 1 || young[0].Name != "Ada" {
		t.Fatalf("NamedQuery age < 40 = %+v, want [Ada]", young)
	}

	// A prepared named statement, run many times: each run may be a new
	// hand-out, on whichever physical connection (sqlpool re-prepares it
	// there from its statement cache).
	ns, err := db.PrepareNamed("SELECT id, name, age FROM " + table + " WHERE id = :id")
	if err != nil {
		t.Fatalf("PrepareNamed: %v", err)
	}
	defer ns.Close()
	for i := range 20 {
		id := i%4 + 1
		var p person
		if err := ns.Get(&p, map[string]any{"id": id}); err != nil {
			t.Fatalf("NamedStmt.Get(%d): %v", id, err)
		}
		if p.ID != id {
			t.Fatalf("NamedStmt.Get(%d) = %+v", id, p)
		}
	}

	// Transactions: a rolled back insert is gone, a committed one stays.
	tx := db.MustBegin()
	tx.MustExec(tx.Rebind("INSERT INTO "+table+" (id, name, age) VALUES (?, ?, ?)"), 5, "Barbara", 80)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx = db.MustBegin()
	if _, err := tx.NamedExec("INSERT INTO "+table+" (id, name, age) VALUES (:id, :name, :age)", person{6, "Donald", 87}); err != nil {
		t.Fatalf("Tx.NamedExec: %v", err)
	}
	var inTx int
	if err := tx.Get(&inTx, "SELECT COUNT(*) FROM "+table); err != nil || inTx != 5 {
		t.Fatalf("count inside the transaction = %d, %v; want 5", inTx, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("rows after rollback and commit = %d, want 5", n)
	}
	if err := db.Get(&got, db.Rebind("SELECT id, name, age FROM "+table+" WHERE id = ?"), 5); err != sql.ErrNoRows {
		t.Fatalf("the rolled back row: err = %v, want sql.ErrNoRows", err)
	}
}
