package sqlpool_test

// Forwarding (issue 2, item 2): the same operations through the raw inner
// driver and through sqlpool over it give identical results, against real
// databases (PostgreSQL through lib/pq and pgx's stdlib, MariaDB through
// go-sql-driver/mysql, SQLite through mattn/go-sqlite3), through every way an
// application reaches a connection: *sql.DB, sql.Conn, sql.Tx and prepared
// statements on each. Every comparison computes the raw driver's result and
// sqlpool's, and reflect.DeepEqual decides.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// fwdDriver is one inner driver the forwarding tests run through, and the SQL
// that differs between the databases behind them. Queries are written with
// {T} for a table name and {n} or {n:type} for the n-th placeholder: $n::type
// on PostgreSQL (which must know the parameter's type), ? elsewhere.
type fwdDriver struct {
	label     string                    // subtest name; "" means name
	name      string                    // inner driver name
	dsn       func(t *testing.T) string // inner DSN; skips the test when the server is down
	dollar    bool                      // placeholders are $n
	typesDDL  []string                  // create and fill {T} with one column per type, and a row of NULLs
	literals  string                    // a query of literal values of many types
	extraArgs []fwdCase                 // argument cases only this driver supports
	autoIncr  string                    // CREATE TABLE {T}: id auto-increment primary key, v text
	sleep     string                    // a query that runs until it is cancelled
	isolation string                    // a query showing the transaction's isolation and read-only mode; "" for none
	sessionID string                    // a query returning the server session's id; "" for none
	wantErrs  map[string]bool           // cases whose raw outcome differs from their wantErr on this driver
}

var fwdPlaceholder = regexp.MustCompile(`\{(\d+)(?::([a-z0-9\[\]]+))?\}`)

func (d fwdDriver) String() string {
	if d.label != "" {
		return d.label
	}
	return d.name
}

// sql renders q for the driver, with table for {T}.
func (d fwdDriver) sql(q, table string) string {
	q = strings.ReplaceAll(q, "{T}", table)
	return fwdPlaceholder.ReplaceAllStringFunc(q, func(m string) string {
		if !d.dollar {
			return "?"
		}
		sub := fwdPlaceholder.FindStringSubmatch(m)
		if sub[2] != "" {
			return "$" + sub[1] + "::" + sub[2]
		}
		return "$" + sub[1]
	})
}

// fwdCase is one query and its arguments. wantErr says whether the raw
// driver fails on it: a check of the test itself, so that two equal failures
// of a mistyped query cannot pass for forwarding.
type fwdCase struct {
	name    string
	query   string
	args    []any
	wantErr bool
}

var pgTypesDDL = []string{
	`CREATE TABLE {T} (
		id int4 PRIMARY KEY,
		c_int2 int2, c_int4 int4 NOT NULL DEFAULT 0, c_int8 int8,
		c_float4 float4, c_float8 float8, c_numeric numeric(10,3),
		c_varchar varchar(10), c_char char(3), c_text text, c_bool bool, c_bytea bytea,
		c_ts timestamp, c_tstz timestamptz, c_date date, c_time time, c_interval interval,
		c_json json, c_jsonb jsonb, c_int_arr int4[], c_text_arr text[], c_uuid uuid
	)`,
	`INSERT INTO {T} VALUES (1, -2, 42, 9007199254740993, 1.5, 2.25, 12345.678,
		'abc', 'x', 'some text', true, '\xdeadbeef',
		'2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02', '2024-01-02', '03:04:05', '1 day 02:00:00',
		'{"a": 1}', '{"b": [1, 2]}', '{1,2,3}', '{"a","b c"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')`,
	`INSERT INTO {T} (id) VALUES (2)`,
}

var pgLiterals = `SELECT 1 AS one, 2.5::float8 AS f, 1.25::numeric(5,2) AS n, 'x'::varchar(5) AS v,
	true AS b, NULL AS nul, '\x0102'::bytea AS by, ARRAY[1,2]::int8[] AS arr,
	'{"k":"v"}'::jsonb AS j, '2024-01-02 03:04:05+00'::timestamptz AS ts, 'NaN'::float8 - 'NaN'::float8 IS NULL AS nan`

// pgArgs are the custom-typed arguments both PostgreSQL drivers take.
var pgArgs = []fwdCase{
	{name: "[]int64", query: "SELECT {1:int8[]}", args: []any{[]int64{4, 5, 6}}},
	{name: "[]string", query: "SELECT {1:text[]}", args: []any{[]string{"a", "b c"}}},
	{name: "pq.Array", query: "SELECT {1:int8[]}, cardinality({1:int8[]})", args: []any{pq.Array([]int64{1, 2, 3})}},
	{name: "pq.Array of strings", query: "SELECT {1:text[]}", args: []any{pq.Array([]string{"x", "y,z"})}},
	{name: "json.RawMessage", query: "SELECT {1:jsonb}", args: []any{json.RawMessage(`{"a": [1, 2]}`)}},
}

var mysqlTypesDDL = []string{
	`CREATE TABLE {T} (
		id INT PRIMARY KEY,
		c_tinyint TINYINT, c_int INT NOT NULL DEFAULT 0, c_bigint BIGINT, c_ubigint BIGINT UNSIGNED,
		c_float FLOAT, c_double DOUBLE, c_decimal DECIMAL(10,3),
		c_varchar VARCHAR(10), c_char CHAR(3), c_text TEXT, c_bool BOOL, c_blob BLOB, c_varbinary VARBINARY(16),
		c_datetime DATETIME(6), c_timestamp TIMESTAMP(6) NULL DEFAULT NULL, c_date DATE, c_time TIME,
		c_json JSON, c_enum ENUM('a','b'), c_year YEAR
	)`,
	`INSERT INTO {T} VALUES (1, -2, 42, 9007199254740993, 18446744073709551615, 1.5, 2.25, 12345.678,
		'abc', 'x', 'some text', TRUE, X'DEADBEEF', X'0102',
		'2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456', '2024-01-02', '03:04:05',
		'{"a": 1}', 'b', 2024)`,
	`INSERT INTO {T} (id) VALUES (2)`,
}

var sqliteTypesDDL = []string{
	`CREATE TABLE {T} (
		id INTEGER PRIMARY KEY, c_int INTEGER, c_bigint BIGINT NOT NULL DEFAULT 0, c_real REAL,
		c_numeric NUMERIC(10,3), c_varchar VARCHAR(10), c_text TEXT, c_bool BOOLEAN, c_blob BLOB,
		c_timestamp TIMESTAMP, c_datetime DATETIME, c_date DATE, c_json JSON
	)`,
	`INSERT INTO {T} VALUES (1, -2, 9007199254740993, 2.25, 12345.678, 'abc', 'some text', 1, X'DEADBEEF',
		'2024-01-02 03:04:05.123456+00:00', '2024-01-02T03:04:05Z', '2024-01-02', '{"a": 1}')`,
	`INSERT INTO {T} (id) VALUES (2)`,
}

func fwdDrivers() []fwdDriver {
	pg := fwdDriver{
		dollar:    true,
		dsn:       func(t *testing.T) string { return testdb.PostgresURL(t) },
		typesDDL:  pgTypesDDL,
		literals:  pgLiterals,
		autoIncr:  "CREATE TABLE {T} (id serial PRIMARY KEY, v text)",
		sleep:     "SELECT pg_sleep(10)",
		isolation: "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')",
		sessionID: "SELECT pg_backend_pid()",
	}
	libpq := pg
	libpq.name = "postgres"
	libpq.extraArgs = pgArgs
	pgxDrv := pg
	pgxDrv.name = "pgx"
	// pgx's stdlib prepares every query, and a prepared statement holds one command.
	pgxDrv.wantErrs = map[string]bool{"multiple result sets": true}
	pgxDrv.extraArgs = append([]fwdCase{
		{name: "[]int32", query: "SELECT {1:int4[]}, cardinality({1:int4[]})", args: []any{[]int32{1, 2, 3}}},
		{name: "pgtype.Int4", query: "SELECT {1:int4}", args: []any{pgtype.Int4{Int32: 5, Valid: true}}},
		{name: "pgtype.Int4 NULL", query: "SELECT {1:int4}", args: []any{pgtype.Int4{}}},
		{name: "pgtype.Text", query: "SELECT {1:text}", args: []any{pgtype.Text{String: "t", Valid: true}}},
		{name: "pgtype.Numeric", query: "SELECT {1:numeric}", args: []any{pgtype.Numeric{Int: big.NewInt(12345), Exp: -2, Valid: true}}},
		{name: "pgtype.Timestamptz", query: "SELECT {1:timestamptz}", args: []any{pgtype.Timestamptz{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Valid: true}}},
		{name: "map as jsonb", query: "SELECT {1:jsonb}", args: []any{map[string]any{"a": 1.0, "b": []any{"c"}}}},
		// pgx takes its query exec mode as the first argument, and removes it.
		{name: "simple protocol", query: "SELECT {1:int4}, {2:text}", args: []any{pgx.QueryExecModeSimpleProtocol, 5, "five"}},
		{name: "multiple result sets in simple protocol", query: "SELECT 1; SELECT 'a', 2", args: []any{pgx.QueryExecModeSimpleProtocol}},
	}, pgArgs...)

	mysqlDrv := fwdDriver{
		name: "mysql",
		dsn: func(t *testing.T) string {
			return fwdAddParams(testdb.MySQLDSN(t), "multiStatements", "true", "parseTime", "true")
		},
		typesDDL: mysqlTypesDDL,
		literals: `SELECT 1 AS one, 2.5e0 AS f, CAST(1.25 AS DECIMAL(5,2)) AS n, CAST('x' AS CHAR(5)) AS v,
			TRUE AS b, NULL AS nul, X'0102' AS by_, JSON_OBJECT('k', 'v') AS j, CAST('2024-01-02 03:04:05' AS DATETIME) AS ts`,
		extraArgs: []fwdCase{
			{name: "json.RawMessage", query: "SELECT {1}", args: []any{json.RawMessage(`{"a": 1}`)}},
			{name: "uint64", query: "SELECT {1}", args: []any{uint64(1<<64 - 1)}},
		},
		autoIncr:  "CREATE TABLE {T} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
		wantErrs:  map[string]bool{"named arg": true},
		sleep:     "SELECT SLEEP(5)",
		sessionID: "SELECT CONNECTION_ID()",
	}
	// With interpolateParams the driver runs queries with arguments itself
	// instead of answering driver.ErrSkip and letting database/sql prepare.
	mysqlInterp := mysqlDrv
	mysqlInterp.label = "mysql interpolateParams"
	mysqlInterp.dsn = func(t *testing.T) string { return fwdAddParams(mysqlDrv.dsn(t), "interpolateParams", "true") }
	return []fwdDriver{libpq, pgxDrv, mysqlDrv, mysqlInterp, {
		name: "sqlite3",
		dsn: func(t *testing.T) string {
			// A file, so that every connection of both sides sees one database.
			return "file:" + filepath.Join(t.TempDir(), "forward.db") + "?_busy_timeout=5000"
		},
		typesDDL: sqliteTypesDDL,
		literals: `SELECT 1 AS one, 2.5 AS f, 'x' AS v, NULL AS nul, X'0102' AS by_, json_object('k', 'v') AS j, 1 = 1 AS b`,
		extraArgs: []fwdCase{
			{name: "named :a @b $c", query: "SELECT :a, @b, $c", args: []any{sql.Named("a", 1), sql.Named("b", "two"), sql.Named("c", 3.5)}},
			{name: "named reused", query: "SELECT :a + :a", args: []any{sql.Named("a", 2)}},
			{name: "named out of order", query: "SELECT :b, :a", args: []any{sql.Named("a", "A"), sql.Named("b", "B")}},
			{name: "positional and named", query: "SELECT ?, :x", args: []any{1, sql.Named("x", 2)}},
		},
		autoIncr: "CREATE TABLE {T} (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)",
		// go-sqlite3 ignores extra arguments, and has no conversion for uint64
		// beyond database/sql's.
		wantErrs: map[string]bool{"too many args": false, "arg uint64 with high bit": true},
		// Counts for ever; the driver interrupts it when the context ends.
		sleep: "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
	}}
}

// fwdValuer is an application type implementing driver.Valuer on its value,
// so that database/sql turns a nil *fwdValuer into NULL.
type fwdValuer struct{ s string }

func (v fwdValuer) Value() (driver.Value, error) { return "valuer:" + v.s, nil }

// fwdFailingValuer's Value fails.
type fwdFailingValuer struct{}

func (fwdFailingValuer) Value() (driver.Value, error) {
	return nil, errors.New("fwd: the valuer failed")
}

// fwdInt is a named integer type, converted by database/sql's default rules.
type fwdInt int

// fwdCommonCases are the cases every driver runs; table is the types table.
func fwdCommonCases(table string) []fwdCase {
	when := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	seven := 7
	var nilValuer *fwdValuer
	cs := []fwdCase{
		{name: "types", query: "SELECT * FROM " + table + " ORDER BY id"},
		{name: "types where", query: "SELECT c_varchar, c_text FROM " + table + " WHERE id = {1:int4}", args: []any{1}},
		{name: "empty result", query: "SELECT * FROM " + table + " WHERE id < 0"},
		{name: "multiple result sets", query: "SELECT 1; SELECT 'a', 2"},
		{name: "syntax error", query: "SELEC 1", wantErr: true},
		{name: "no such table", query: "SELECT * FROM sqlpool_fwd_no_such_table", wantErr: true},
		{name: "too many args", query: "SELECT {1:int8}", args: []any{1, 2}, wantErr: true},
		{name: "named arg", query: "SELECT {1:int8}", args: []any{sql.Named("a", int64(1))}},
		{name: "invalid arg name", query: "SELECT {1:int8}", args: []any{sql.Named("1a", 1)}, wantErr: true},
		{name: "all args", query: "SELECT {1:int8}, {2:float8}, {3:text}, {4:bool}, {5:bytea}, {6:timestamptz}, {7:text}, {8:text}, {9:text}",
			args: []any{int64(1), 2.5, "s", false, []byte("b"), when, nil, fwdValuer{"x"}, nilValuer}},
	}
	for _, a := range []struct {
		name    string
		v       any
		pgType  string
		wantErr bool
	}{
		{"int64", int64(-42), "int8", false},
		{"int", 7, "int8", false},
		{"named int type", fwdInt(9), "int8", false},
		{"*int", &seven, "int8", false},
		{"float64", 1.5, "float8", false},
		{"string", "héllo", "text", false},
		{"bool", true, "bool", false},
		{"[]byte", []byte{0, 1, 2, 0xff}, "bytea", false},
		{"time.Time", when, "timestamptz", false},
		{"nil", nil, "text", false},
		{"driver.Valuer", fwdValuer{"v"}, "text", false},
		{"nil pointer to Valuer", nilValuer, "text", false},
		{"sql.NullString NULL", sql.NullString{}, "text", false},
		{"sql.NullInt64", sql.NullInt64{Int64: 7, Valid: true}, "int8", false},
		{"failing Valuer", fwdFailingValuer{}, "text", true},
		{"unsupported type", struct{ X int }{1}, "text", true},
		{"uint64 with high bit", uint64(1<<63 + 1), "numeric", false},
	} {
		cs = append(cs, fwdCase{name: "arg " + a.name, query: "SELECT {1:" + a.pgType + "}", args: []any{a.v}, wantErr: a.wantErr})
	}
	return cs
}

var fwdSeq atomic.Int64

// fwdName returns a name unique to this process, for tables and pools.
func fwdName(what string) string {
	return fmt.Sprintf("sqlpool_fwd_%d_%s_%d", os.Getpid(), what, fwdSeq.Add(1))
}

// fwdAddParams adds query parameters (key, value, …) to a DSN in query form.
func fwdAddParams(dsn string, kv ...string) string {
	var b strings.Builder
	b.WriteString(dsn)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(sep + url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
		sep = "&"
	}
	return b.String()
}

// fwdSide is one of the two ways to the database: the raw inner driver or
// sqlpool over it.
type fwdSide struct {
	name string
	db   *sql.DB
	open func(t *testing.T) *sql.DB // a new DB of this side (for sqlpool, on a new pool), closed when t ends
}

// fwdSides returns the raw side and the sqlpool side on the database at dsn.
// params are pool_* settings (key, value, …) for sqlpool; each sqlpool DB gets
// a pool of its own.
func fwdSides(t *testing.T, d fwdDriver, dsn string, params ...string) []fwdSide {
	t.Helper()
	openRaw := func(t *testing.T) *sql.DB {
		t.Helper()
		db, err := sql.Open(d.name, dsn)
		if err != nil {
			t.Fatalf("sql.Open(%q): %v", d.name, err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	openPool := func(t *testing.T) *sql.DB {
		t.Helper()
		pdsn := d.name + ":" + fwdAddParams(dsn, append([]string{"pool_name", fwdName("pool")}, params...)...)
		db, err := sql.Open("sqlpool", pdsn)
		if err != nil {
			t.Fatalf("sql.Open(sqlpool): %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return []fwdSide{{"raw", openRaw(t), openRaw}, {"sqlpool", openPool(t), openPool}}
}

// fwdCompare computes f on the raw side, then on the sqlpool side, and fails
// unless they are deeply equal. It returns the raw result, and logs it when
// SQLPOOL_TEST_FORWARD_LOG is set, to see what the comparisons compare.
func fwdCompare(t *testing.T, sides []fwdSide, f func(t *testing.T, s fwdSide) any) any {
	t.Helper()
	want := f(t, sides[0])
	got := f(t, sides[1])
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sqlpool differs from the raw driver:\ngot  %#v\nwant %#v", got, want)
	}
	if os.Getenv("SQLPOOL_TEST_FORWARD_LOG") != "" {
		t.Logf("both: %#v", want)
	}
	return want
}

// fwdExec runs statements on db, failing the test on error.
func fwdExec(t *testing.T, db *sql.DB, d fwdDriver, table string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(d.sql(s, table)); err != nil {
			t.Fatalf("%s: %v", d.sql(s, table), err)
		}
	}
}

// fwdTable creates a table through db with ddl ({T} is its name) and drops
// it when the test ends.
func fwdTable(t *testing.T, db *sql.DB, d fwdDriver, ddl ...string) string {
	t.Helper()
	table := fwdName(strings.ReplaceAll(d.name, "/", "_"))
	fwdExec(t, db, d, table, ddl...)
	t.Cleanup(func() { db.Exec("DROP TABLE " + table) })
	return table
}

// fwdErrInfo is what an application can learn from an error: its text, the
// inner driver's own error type and fields (errors.As), and its class.
type fwdErrInfo struct {
	Err              string
	Type             string // the driver's error type found with errors.As, "" if none
	Code             string
	Message          string
	Canceled         bool // errors.Is(err, context.Canceled)
	DeadlineExceeded bool // errors.Is(err, context.DeadlineExceeded)
	BadConn          bool // errors.Is(err, driver.ErrBadConn)
}

// GoString prints the fields rather than the pointer in failure messages.
func (e *fwdErrInfo) GoString() string {
	if e == nil {
		return "nil"
	}
	return fmt.Sprintf("%+v", *e)
}

func fwdErr(err error) *fwdErrInfo {
	if err == nil {
		return nil
	}
	info := &fwdErrInfo{
		Err:              err.Error(),
		Canceled:         errors.Is(err, context.Canceled),
		DeadlineExceeded: errors.Is(err, context.DeadlineExceeded),
		BadConn:          errors.Is(err, driver.ErrBadConn),
	}
	var (
		pqErr   *pq.Error
		pgErr   *pgconn.PgError
		myErr   *mysql.MySQLError
		liteErr sqlite3.Error
	)
	switch {
	case errors.As(err, &pqErr):
		info.Type, info.Code, info.Message = fmt.Sprintf("%T", pqErr), string(pqErr.Code), pqErr.Message
	case errors.As(err, &pgErr):
		info.Type, info.Code, info.Message = fmt.Sprintf("%T", pgErr), pgErr.Code, pgErr.Message
	case errors.As(err, &myErr):
		info.Type, info.Code, info.Message = fmt.Sprintf("%T", myErr), fmt.Sprintf("%d/%s", myErr.Number, myErr.SQLState[:]), myErr.Message
	case errors.As(err, &liteErr):
		info.Type, info.Code, info.Message = fmt.Sprintf("%T", liteErr), fmt.Sprintf("%d/%d", liteErr.Code, liteErr.ExtendedCode), liteErr.Error()
	}
	return info
}

// fwdColumn is everything rows.ColumnTypes tells about a column.
type fwdColumn struct {
	Name                 string
	DatabaseTypeName     string
	ScanType             reflect.Type
	Nullable, NullableOK bool
	Length               int64
	LengthOK             bool
	Precision, Scale     int64
	DecimalSizeOK        bool
}

func (c fwdColumn) GoString() string {
	return fmt.Sprintf("{%s %s scan=%v nullable=%v,%v length=%d,%v decimal=%d,%d,%v}",
		c.Name, c.DatabaseTypeName, c.ScanType, c.Nullable, c.NullableOK, c.Length, c.LengthOK, c.Precision, c.Scale, c.DecimalSizeOK)
}

func fwdColumns(cts []*sql.ColumnType) []fwdColumn {
	cols := make([]fwdColumn, len(cts))
	for i, ct := range cts {
		c := fwdColumn{Name: ct.Name(), DatabaseTypeName: ct.DatabaseTypeName(), ScanType: ct.ScanType()}
		c.Nullable, c.NullableOK = ct.Nullable()
		c.Length, c.LengthOK = ct.Length()
		c.Precision, c.Scale, c.DecimalSizeOK = ct.DecimalSize()
		cols[i] = c
	}
	return cols
}

// fwdResultSet is one result set: its columns and its rows, scanned into any.
type fwdResultSet struct {
	Columns []fwdColumn
	Rows    [][]any
}

// fwdOutcome is what a query gave the application.
type fwdOutcome struct {
	Sets  []fwdResultSet
	Stage string // where it failed: prepare, begin, query, columns, scan, rows, next result set, close
	Err   *fwdErrInfo
}

func fwdFailed(stage string, err error) fwdOutcome { return fwdOutcome{Stage: stage, Err: fwdErr(err)} }

// fwdReadRows reads every row of every result set and closes rows.
func fwdReadRows(rows *sql.Rows) fwdOutcome {
	defer rows.Close()
	var o fwdOutcome
	fail := func(stage string, err error) fwdOutcome {
		o.Stage, o.Err = stage, fwdErr(err)
		return o
	}
	for {
		cts, err := rows.ColumnTypes()
		if err != nil {
			return fail("columns", err)
		}
		set := fwdResultSet{Columns: fwdColumns(cts)}
		for rows.Next() {
			vals := make([]any, len(cts))
			ptrs := make([]any, len(cts))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				o.Sets = append(o.Sets, set)
				return fail("scan", err)
			}
			set.Rows = append(set.Rows, vals)
		}
		o.Sets = append(o.Sets, set)
		if err := rows.Err(); err != nil {
			return fail("rows", err)
		}
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return fail("next result set", err)
	}
	if err := rows.Close(); err != nil {
		return fail("close", err)
	}
	return o
}

// fwdRunner is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type fwdRunner interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func fwdQuery(ctx context.Context, r fwdRunner, q string, args []any) fwdOutcome {
	rows, err := r.QueryContext(ctx, q, args...)
	if err != nil {
		return fwdFailed("query", err)
	}
	return fwdReadRows(rows)
}

func fwdStmtQuery(ctx context.Context, st *sql.Stmt, args []any) fwdOutcome {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fwdFailed("query", err)
	}
	return fwdReadRows(rows)
}

// fwdPrepared prepares q on r and runs it twice.
func fwdPrepared(ctx context.Context, r fwdRunner, q string, args []any) []fwdOutcome {
	st, err := r.PrepareContext(ctx, q)
	if err != nil {
		return []fwdOutcome{fwdFailed("prepare", err)}
	}
	defer st.Close()
	return []fwdOutcome{fwdStmtQuery(ctx, st, args), fwdStmtQuery(ctx, st, args)}
}

// fwdVia is one way an application runs a query.
type fwdVia struct {
	name string
	run  func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any
}

func fwdConn(ctx context.Context, t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("db.Conn: %v", err)
	}
	return c
}

func fwdBegin(ctx context.Context, t *testing.T, b interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}) *sql.Tx {
	t.Helper()
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	return tx
}

// fwdVias: the DB, sql.Conn (twice on one connection: the second call finds
// the logical connection bound) and sql.Tx, each directly and through a
// prepared statement, and the first query on a brand-new pool.
var fwdVias = []fwdVia{
	{"DB", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		return fwdQuery(ctx, s.db, q, args)
	}},
	{"DB of a new pool", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		return fwdQuery(ctx, s.open(t), q, args)
	}},
	{"Conn", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		c := fwdConn(ctx, t, s.db)
		defer c.Close()
		return []fwdOutcome{fwdQuery(ctx, c, q, args), fwdQuery(ctx, c, q, args)}
	}},
	{"Tx", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		tx := fwdBegin(ctx, t, s.db)
		defer tx.Rollback()
		return fwdQuery(ctx, tx, q, args)
	}},
	{"DB.Prepare", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		return fwdPrepared(ctx, s.db, q, args)
	}},
	{"DB.Prepare of a new pool", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		return fwdPrepared(ctx, s.open(t), q, args)
	}},
	{"Conn.Prepare", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		c := fwdConn(ctx, t, s.db)
		defer c.Close()
		// A query first, so that the statement is prepared on a bound connection.
		c.ExecContext(ctx, "SELECT 1")
		return fwdPrepared(ctx, c, q, args)
	}},
	{"Tx.Prepare", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		tx := fwdBegin(ctx, t, s.db)
		defer tx.Rollback()
		return fwdPrepared(ctx, tx, q, args)
	}},
	{"Tx.Stmt of DB.Prepare", func(ctx context.Context, t *testing.T, s fwdSide, q string, args []any) any {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fwdFailed("prepare", err)
		}
		defer st.Close()
		tx := fwdBegin(ctx, t, s.db)
		inTx := fwdStmtQuery(ctx, tx.StmtContext(ctx, st), args)
		tx.Rollback()
		return []fwdOutcome{inTx, fwdStmtQuery(ctx, st, args)}
	}},
}

// fwdFirstErr returns the first failure in an outcome of a via, or nil.
func fwdFirstErr(v any) *fwdErrInfo {
	switch o := v.(type) {
	case fwdOutcome:
		return o.Err
	case []fwdOutcome:
		for _, x := range o {
			if x.Err != nil {
				return x.Err
			}
		}
	}
	return nil
}

func fwdContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestForwardQueries runs every query case through every via on both sides:
// values of many column types (NULLs, numerics with precision and scale,
// varchar(n), bytes, timestamps, JSON, arrays), every ColumnTypes field,
// multiple result sets, named arguments, custom-typed arguments (Valuers, a
// nil pointer to a Valuer, pq.Array, pgtype values, slices), argument
// conversion errors and database errors must all be identical.
func TestForwardQueries(t *testing.T) {
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			table := fwdTable(t, sides[0].db, d, d.typesDDL...)
			cases := append(fwdCommonCases(table), fwdCase{name: "literals", query: d.literals})
			cases = append(cases, d.extraArgs...)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					q := d.sql(c.query, table)
					for _, v := range fwdVias {
						t.Run(v.name, func(t *testing.T) {
							want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
								return v.run(ctx, t, s, q, c.args)
							})
							wantErr := c.wantErr
							if w, ok := d.wantErrs[c.name]; ok {
								wantErr = w
							}
							// Prepared statements may fail where direct queries do not
							// (several commands), so check the direct ones only.
							if e := fwdFirstErr(want); (e != nil) != wantErr && !strings.Contains(v.name, "Prepare") && !strings.Contains(v.name, "Stmt") {
								t.Errorf("the raw driver's error is %+v; the case expects an error: %v (fix the case)", e, wantErr)
							}
						})
					}
				})
			}
		})
	}
}

// TestForwardColumnTypesAndValuesAreNotEmpty guards TestForwardQueries
// against comparing nothing: the types table's columns report their types
// through sqlpool, and its first row holds values.
func TestForwardColumnTypesAndValuesAreNotEmpty(t *testing.T) {
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			table := fwdTable(t, sides[0].db, d, d.typesDDL...)
			o := fwdQuery(ctx, sides[1].db, "SELECT * FROM "+table+" ORDER BY id", nil)
			if o.Err != nil {
				t.Fatalf("query: %+v", o.Err)
			}
			if len(o.Sets) != 1 || len(o.Sets[0].Rows) != 2 {
				t.Fatalf("got %#v, want one result set of 2 rows", o.Sets)
			}
			set := o.Sets[0]
			var withType, withScanType, withLength, withDecimal int
			for _, c := range set.Columns {
				if c.DatabaseTypeName != "" {
					withType++
				}
				if c.ScanType != nil {
					withScanType++
				}
				if c.LengthOK {
					withLength++
				}
				if c.DecimalSizeOK {
					withDecimal++
				}
			}
			if withType < len(set.Columns)/2 || withScanType != len(set.Columns) {
				t.Errorf("columns %#v: got %d with a database type name and %d with a scan type of %d", set.Columns, withType, withScanType, len(set.Columns))
			}
			// lib/pq and pgx report varchar lengths; go-sql-driver/mysql
			// reports decimal sizes only; go-sqlite3 neither.
			if d.dollar && withLength == 0 {
				t.Errorf("columns %#v: got none with a length", set.Columns)
			}
			if d.name != "sqlite3" && withDecimal == 0 {
				t.Errorf("columns %#v: got none with a decimal size", set.Columns)
			}
			for i, v := range set.Rows[0][1:] {
				if v == nil {
					t.Errorf("column %s of the first row is NULL through sqlpool", set.Columns[i+1].Name)
				}
			}
		})
	}
}

// fwdExecOutcome is what an Exec gave the application.
type fwdExecOutcome struct {
	RowsAffected    int64
	RowsAffectedErr *fwdErrInfo
	LastInsertID    int64
	LastInsertIDErr *fwdErrInfo
	Err             *fwdErrInfo
}

func fwdExecResult(res sql.Result, err error) fwdExecOutcome {
	if err != nil {
		return fwdExecOutcome{Err: fwdErr(err)}
	}
	var o fwdExecOutcome
	var e error
	o.RowsAffected, e = res.RowsAffected()
	o.RowsAffectedErr = fwdErr(e)
	o.LastInsertID, e = res.LastInsertId()
	o.LastInsertIDErr = fwdErr(e)
	return o
}

// TestForwardExecResults compares RowsAffected and LastInsertId (and their
// errors, where the driver has none) of inserts, updates and deletes, and the
// error of a duplicate key, through the DB, a sql.Conn, a sql.Tx and
// prepared statements. Each side runs on a fresh table of the same name.
func TestForwardExecResults(t *testing.T) {
	steps := []fwdCase{
		{name: "insert one", query: "INSERT INTO {T} (v) VALUES ({1:text})", args: []any{"a"}},
		{name: "insert two", query: "INSERT INTO {T} (v) VALUES ({1:text}), ({2:text})", args: []any{"b", "c"}},
		{name: "update all", query: "UPDATE {T} SET v = {1:text}", args: []any{"z"}},
		{name: "update none", query: "UPDATE {T} SET v = {1:text} WHERE id < 0", args: []any{"n"}},
		{name: "delete two", query: "DELETE FROM {T} WHERE id > {1:int8}", args: []any{1}},
		{name: "insert after delete", query: "INSERT INTO {T} (v) VALUES ({1:text})", args: []any{"d"}},
		{name: "select", query: "SELECT v FROM {T}"},
		{name: "duplicate key", query: "INSERT INTO {T} (id, v) VALUES ({1:int8}, {2:text})", args: []any{1, "dup"}, wantErr: true},
	}
	type runner func(ctx context.Context, t *testing.T, db *sql.DB, f func(r fwdRunner, prepare bool) []any) []any
	vias := []struct {
		name string
		run  runner
	}{
		{"DB", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fwdRunner, bool) []any) []any {
			return f(db, false)
		}},
		{"DB.Prepare", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fwdRunner, bool) []any) []any {
			return f(db, true)
		}},
		{"Conn", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fwdRunner, bool) []any) []any {
			c := fwdConn(ctx, t, db)
			defer c.Close()
			return f(c, false)
		}},
		{"Tx", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fwdRunner, bool) []any) []any {
			tx := fwdBegin(ctx, t, db)
			out := f(tx, false)
			return append(out, "commit", fwdErr(tx.Commit()))
		}},
		{"Tx.Prepare", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fwdRunner, bool) []any) []any {
			tx := fwdBegin(ctx, t, db)
			out := f(tx, true)
			return append(out, "commit", fwdErr(tx.Commit()))
		}},
	}
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			for _, v := range vias {
				t.Run(v.name, func(t *testing.T) {
					table := fwdName("exec")
					want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
						fwdExec(t, s.db, d, table, d.autoIncr)
						defer s.db.Exec("DROP TABLE " + table)
						return v.run(ctx, t, s.db, func(r fwdRunner, prepare bool) []any {
							var out []any
							for _, step := range steps {
								q := d.sql(step.query, table)
								if !prepare {
									out = append(out, step.name, fwdExecResult(r.ExecContext(ctx, q, step.args...)))
									continue
								}
								st, err := r.PrepareContext(ctx, q)
								if err != nil {
									out = append(out, step.name, fwdFailed("prepare", err))
									continue
								}
								out = append(out, step.name, fwdExecResult(st.ExecContext(ctx, step.args...)))
								st.Close()
							}
							return out
						})
					}).([]any)
					for i := 0; i+1 < len(want); i += 2 {
						if o, ok := want[i+1].(fwdExecOutcome); ok && want[i] == "insert one" && (o.Err != nil || o.RowsAffected != 1) {
							t.Errorf("raw insert: %#v, want 1 row affected", o)
						}
					}
				})
			}
		})
	}
}

// fwdCount returns SELECT count(*) FROM table through r, or its error.
func fwdCount(ctx context.Context, r fwdRunner, table string) any {
	var n int64
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return fwdErr(err)
	}
	return n
}

const fwdKVTable = "CREATE TABLE {T} (id INT PRIMARY KEY, v VARCHAR(20))"

// TestForwardTxVisibility compares what commits and rollbacks leave visible,
// inside and outside the transaction, through the DB and a sql.Conn, after
// the transaction ended (sql.ErrTxDone), and after the transaction's context
// was cancelled (database/sql rolls back).
func TestForwardTxVisibility(t *testing.T) {
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			table := fwdName("tx")
			ins := d.sql("INSERT INTO {T} (id, v) VALUES ({1:int4}, {2:text})", table)
			want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
				fwdExec(t, s.db, d, table, fwdKVTable)
				defer s.db.Exec("DROP TABLE " + table)
				var out []any
				rec := func(step string, v any) { out = append(out, step, v) }

				tx := fwdBegin(ctx, t, s.db)
				rec("insert in tx", fwdExecResult(tx.ExecContext(ctx, ins, 1, "one")))
				rec("count in tx", fwdCount(ctx, tx, table))
				rec("count outside before commit", fwdCount(ctx, s.db, table))
				rec("commit", fwdErr(tx.Commit()))
				rec("count after commit", fwdCount(ctx, s.db, table))
				rec("exec after commit", fwdExecResult(tx.ExecContext(ctx, ins, 9, "nine")))
				rec("rollback after commit", fwdErr(tx.Rollback()))

				tx = fwdBegin(ctx, t, s.db)
				rec("insert in tx 2", fwdExecResult(tx.ExecContext(ctx, ins, 2, "two")))
				rec("count in tx 2", fwdCount(ctx, tx, table))
				rec("rollback", fwdErr(tx.Rollback()))
				rec("count after rollback", fwdCount(ctx, s.db, table))

				c := fwdConn(ctx, t, s.db)
				tx = fwdBegin(ctx, t, c)
				rec("conn: insert in tx", fwdExecResult(tx.ExecContext(ctx, ins, 3, "three")))
				rec("conn: commit", fwdErr(tx.Commit()))
				rec("conn: count after commit", fwdCount(ctx, c, table))
				tx = fwdBegin(ctx, t, c)
				rec("conn: insert in tx 2", fwdExecResult(tx.ExecContext(ctx, ins, 4, "four")))
				rec("conn: rollback", fwdErr(tx.Rollback()))
				rec("conn: count after rollback", fwdCount(ctx, c, table))
				c.Close()

				cctx, cancel := context.WithCancel(ctx)
				tx = fwdBegin(cctx, t, s.db)
				rec("insert in cancelled tx", fwdExecResult(tx.ExecContext(cctx, ins, 5, "five")))
				cancel()
				// database/sql rolls the transaction back when its context ends.
				testdb.WaitFor(t, "the cancelled transaction to end", func() bool {
					return errors.Is(tx.Commit(), sql.ErrTxDone)
				})
				rec("count after cancel", fwdCount(ctx, s.db, table))
				return out
			}).([]any)
			if got := want[len(want)-1]; got != int64(2) {
				t.Errorf("raw: final count %#v, want 2", got)
			}
		})
	}
}

// TestForwardTxOptions begins transactions with every isolation level, read
// only and not, and compares the error of BeginTx, the isolation the server
// reports, and whether a write succeeds.
func TestForwardTxOptions(t *testing.T) {
	levels := []sql.IsolationLevel{
		sql.LevelDefault, sql.LevelReadUncommitted, sql.LevelReadCommitted, sql.LevelWriteCommitted,
		sql.LevelRepeatableRead, sql.LevelSnapshot, sql.LevelSerializable, sql.LevelLinearizable,
	}
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			table := fwdName("txopts")
			for _, lvl := range levels {
				for _, ro := range []bool{false, true} {
					opts := &sql.TxOptions{Isolation: lvl, ReadOnly: ro}
					t.Run(fmt.Sprintf("%v/ReadOnly=%v", lvl, ro), func(t *testing.T) {
						fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
							fwdExec(t, s.db, d, table, fwdKVTable)
							defer s.db.Exec("DROP TABLE " + table)
							tx, err := s.db.BeginTx(ctx, opts)
							if err != nil {
								return []any{"begin", fwdErr(err)}
							}
							var info any
							if d.isolation != "" {
								info = fwdQuery(ctx, tx, d.isolation, nil)
							}
							write := fwdExecResult(tx.ExecContext(ctx, d.sql("INSERT INTO {T} (id, v) VALUES (1, 'x')", table)))
							return []any{"isolation", info, "write", write, "rollback", fwdErr(tx.Rollback())}
						})
					})
				}
			}
		})
	}
}

// TestForwardSyntaxError checks that a syntax error reaches the application
// as the inner driver's own error type (errors.As) with the same code and
// message, from Query, Exec and Prepare.
func TestForwardSyntaxError(t *testing.T) {
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			const q = "SELEC 1"
			ops := map[string]func(db *sql.DB) error{
				"Query": func(db *sql.DB) error {
					rows, err := db.QueryContext(ctx, q)
					if err == nil {
						rows.Close()
					}
					return err
				},
				"Exec": func(db *sql.DB) error { _, err := db.ExecContext(ctx, q); return err },
				"Prepare": func(db *sql.DB) error {
					st, err := db.PrepareContext(ctx, q)
					if err == nil {
						_, err = st.ExecContext(ctx)
						st.Close()
					}
					return err
				},
			}
			for name, op := range ops {
				t.Run(name, func(t *testing.T) {
					want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any { return fwdErr(op(s.db)) }).(*fwdErrInfo)
					if want == nil || want.Type == "" || want.Message == "" {
						t.Errorf("raw error %#v: want the driver's own error type with a message", want)
					}
				})
			}
		})
	}
}

// TestForwardPreparedStatementsAcrossPhysicalConnections prepares statements
// on the DB and uses them many times, while database/sql drops its logical
// connections (SetMaxIdleConns(0)), in transactions (tx.Stmt), with rows of
// the same statement open on another connection, on a sql.Conn, after Close;
// and, on the sqlpool side, with the statement cache off, of size 1 (evicting
// all the time), and with a new physical connection at every hand-out, so
// that the statements run on connections they were never prepared on.
func TestForwardPreparedStatementsAcrossPhysicalConnections(t *testing.T) {
	variants := []struct {
		name   string
		params []string
		churn  bool // every hand-out gets a new physical connection
	}{
		{"default", nil, false},
		{"stmt cache off", []string{"pool_stmt_cache_size", "0"}, false},
		{"stmt cache of 1", []string{"pool_stmt_cache_size", "1"}, false},
		{"new physical connection per hand-out", []string{"pool_max_conn_lifetime", "1ns", "pool_max_conn_lifetime_jitter", "0"}, true},
		{"new physical connection per hand-out, stmt cache off", []string{"pool_max_conn_lifetime", "1ns", "pool_max_conn_lifetime_jitter", "0", "pool_stmt_cache_size", "0"}, true},
	}
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			dsn := d.dsn(t)
			for _, vt := range variants {
				t.Run(vt.name, func(t *testing.T) {
					ctx := fwdContext(t)
					sides := fwdSides(t, d, dsn, vt.params...)
					table := fwdName("stmt")
					want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
						return fwdStmtScenario(ctx, t, d, s.db, table)
					}).([]any)
					if got := want[len(want)-1]; got != int64(9) {
						t.Errorf("raw: final count %#v, want 9", got)
					}
					st, err := sqlpool.DBStat(ctx, sides[1].db)
					if err != nil {
						t.Fatal(err)
					}
					if vt.churn && (st.CreatedCount < 10 || st.Destroyed[pool.ReasonLifetime] < 9) {
						t.Errorf("pool stat %+v: want >= 10 physical connections made and >= 9 retired by lifetime", st.Stat)
					}
				})
			}
		})
	}
}

func fwdStmtScenario(ctx context.Context, t *testing.T, d fwdDriver, db *sql.DB, table string) []any {
	fwdExec(t, db, d, table, fwdKVTable)
	defer db.Exec("DROP TABLE " + table)
	var out []any
	rec := func(step string, v any) { out = append(out, step, v) }
	prepare := func(r fwdRunner, q string) *sql.Stmt {
		st, err := r.PrepareContext(ctx, d.sql(q, table))
		if err != nil {
			t.Fatalf("prepare %s: %v", q, err)
		}
		return st
	}
	value := func(st *sql.Stmt, args ...any) any {
		var v any
		if err := st.QueryRowContext(ctx, args...).Scan(&v); err != nil {
			return fwdErr(err)
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		return v
	}
	ins := prepare(db, "INSERT INTO {T} (id, v) VALUES ({1:int4}, {2:text})")
	sel := prepare(db, "SELECT v FROM {T} WHERE id = {1:int4}")
	cnt := prepare(db, "SELECT count(*) FROM {T}")
	round := func(i int) {
		rec(fmt.Sprintf("insert %d", i), fwdExecResult(ins.ExecContext(ctx, i, fmt.Sprintf("v%d", i))))
		rec(fmt.Sprintf("select %d", i), value(sel, i))
		rec(fmt.Sprintf("count %d", i), value(cnt))
	}
	for i := 1; i <= 4; i++ {
		round(i)
	}
	// database/sql closes each logical connection after use and prepares the
	// statements again on new ones.
	db.SetMaxIdleConns(0)
	for i := 5; i <= 6; i++ {
		round(i)
	}
	db.SetMaxIdleConns(2)

	tx := fwdBegin(ctx, t, db)
	rec("tx insert", fwdExecResult(tx.StmtContext(ctx, ins).ExecContext(ctx, 100, "tx")))
	rec("tx select", value(tx.StmtContext(ctx, sel), 100))
	rec("tx count", value(tx.StmtContext(ctx, cnt)))
	rec("tx rollback", fwdErr(tx.Rollback()))
	rec("select after rollback", value(sel, 100))
	tx = fwdBegin(ctx, t, db)
	rec("tx insert 2", fwdExecResult(tx.StmtContext(ctx, ins).ExecContext(ctx, 7, "v7")))
	rec("tx commit", fwdErr(tx.Commit()))
	rec("select after commit", value(sel, 7))

	// Rows of sel stay open on one connection while sel runs on another.
	rows, err := sel.QueryContext(ctx, 1)
	if err != nil {
		t.Fatalf("sel.Query: %v", err)
	}
	rec("select while rows open", value(sel, 2))
	rec("open rows", fwdReadRows(rows))

	c := fwdConn(ctx, t, db)
	cs := prepare(c, "SELECT v FROM {T} WHERE id = {1:int4}")
	for i := 1; i <= 3; i++ {
		rec(fmt.Sprintf("conn select %d", i), value(cs, i))
	}
	rec("conn insert", fwdExecResult(prepare(c, "INSERT INTO {T} (id, v) VALUES ({1:int4}, {2:text})").ExecContext(ctx, 8, "v8")))
	c.Close()
	rec("conn stmt after close", value(cs, 1))

	rec("duplicate", fwdExecResult(ins.ExecContext(ctx, 1, "dup")))
	rec("insert 9", fwdExecResult(ins.ExecContext(ctx, 9, "v9")))
	ins.Close()
	rec("closed stmt", fwdExecResult(ins.ExecContext(ctx, 10, "v10")))
	sel.Close()
	rec("count", value(cnt))
	cnt.Close()
	return out
}

// TestForwardRawUnwrap checks sqlpool.Unwrap inside sql.Conn.Raw: it returns
// the inner driver's connection, of the type the raw driver hands to Raw,
// on the same server session as the sql.Conn (a temporary table created
// through one is visible through the other, both ways), binding one first if
// the sql.Conn has not run anything yet. On a connection that is not
// sqlpool's it returns the connection itself.
func TestForwardRawUnwrap(t *testing.T) {
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			ctx := fwdContext(t)
			sides := fwdSides(t, d, d.dsn(t))
			fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
				var out []any
				rec := func(step string, v any) { out = append(out, step, v) }

				// A sql.Conn that already ran a query.
				c := fwdConn(ctx, t, s.db)
				defer c.Close()
				tmp := fwdName("tmp")
				_, err := c.ExecContext(ctx, "CREATE TEMPORARY TABLE "+tmp+" (x INT)")
				rec("create temp table", fwdErr(err))
				var first driver.Conn
				err = c.Raw(func(dc any) error {
					inner, err := sqlpool.Unwrap(dc)
					if err != nil {
						return err
					}
					first = inner
					rec("inner type", reflect.TypeOf(inner).String())
					again, err := sqlpool.Unwrap(dc)
					rec("unwrap twice gives the same", again == inner && err == nil)
					// The raw driver's connection unwraps to itself; sqlpool's
					// to the inner one.
					rec("unwrap gives dc itself exactly on the raw side", (inner == dc) == (s.name == "raw"))
					n, err := fwdInnerValue(ctx, inner, "SELECT count(*) FROM "+tmp)
					rec("temp table through the inner conn", n)
					rec("temp table error", fwdErr(err))
					return fwdDriverSpecificRaw(ctx, d, inner, rec)
				})
				rec("raw", fwdErr(err))
				if d.sessionID != "" {
					var id1, id2 int64
					e1 := c.QueryRowContext(ctx, d.sessionID).Scan(&id1)
					e2 := c.Raw(func(dc any) error {
						inner, err := sqlpool.Unwrap(dc)
						if err != nil {
							return err
						}
						if inner != first {
							return errors.New("the inner connection changed within one sql.Conn")
						}
						v, err := fwdInnerValue(ctx, inner, d.sessionID)
						if err != nil {
							return err
						}
						id2, err = strconv.ParseInt(fmt.Sprint(v), 10, 64)
						return err
					})
					rec("session id via sql.Conn and via the inner conn agree", e1 == nil && e2 == nil && id1 == id2 && id1 != 0)
					rec("session id errors", []*fwdErrInfo{fwdErr(e1), fwdErr(e2)})
				}

				// A sql.Conn that ran nothing: Unwrap binds, and what is done
				// through the inner connection is seen by the sql.Conn after.
				c2 := fwdConn(ctx, t, s.db)
				defer c2.Close()
				tmp2 := fwdName("tmp")
				err = c2.Raw(func(dc any) error {
					inner, err := sqlpool.Unwrap(dc)
					if err != nil {
						return err
					}
					ec, ok := inner.(driver.ExecerContext)
					if !ok {
						return fmt.Errorf("%T is not a driver.ExecerContext", inner)
					}
					_, err = ec.ExecContext(ctx, "CREATE TEMPORARY TABLE "+tmp2+" (x INT)", nil)
					return err
				})
				rec("create temp table through the inner conn of an unused sql.Conn", fwdErr(err))
				rec("count through the sql.Conn", fwdCount(ctx, c2, tmp2))
				return out
			})
		})
	}
	t.Run("not a connection", func(t *testing.T) {
		for _, v := range []any{nil, 42, "conn"} {
			if c, err := sqlpool.Unwrap(v); err == nil || c != nil {
				t.Errorf("Unwrap(%#v) = %v, %v; want nil and an error", v, c, err)
			}
		}
	})
}

// fwdInnerValue runs q on an inner connection and returns the first value.
func fwdInnerValue(ctx context.Context, inner driver.Conn, q string) (driver.Value, error) {
	qc, ok := inner.(driver.QueryerContext)
	if !ok {
		return nil, fmt.Errorf("%T is not a driver.QueryerContext", inner)
	}
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return nil, err
	}
	if b, ok := dest[0].([]byte); ok {
		return string(b), nil
	}
	return dest[0], nil
}

// fwdDriverSpecificRaw uses the inner connection the way an application of
// each driver does.
func fwdDriverSpecificRaw(ctx context.Context, d fwdDriver, inner driver.Conn, rec func(string, any)) error {
	switch d.name {
	case "pgx":
		sc, ok := inner.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("got %T, want *stdlib.Conn", inner)
		}
		var pid uint32
		err := sc.Conn().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
		rec("*pgx.Conn query", err == nil && pid != 0)
	case "postgres":
		rec("lib/pq conn type", fmt.Sprintf("%T", inner))
	case "sqlite3":
		lc, ok := inner.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("got %T, want *sqlite3.SQLiteConn", inner)
		}
		rec("sqlite3 autocommit", lc.AutoCommit())
	case "mysql":
		_, ok := inner.(driver.Conn)
		rec("mysql conn is a driver.Conn", ok)
	}
	return nil
}

// TestForwardContextCancel cancels (and, separately, times out) a query that
// runs until it is stopped, through the DB, a sql.Conn and a prepared
// statement, and compares the error's class (errors.Is context.Canceled /
// DeadlineExceeded / driver.ErrBadConn, the driver's error type and code) and
// what the next query on the same DB or sql.Conn gives.
func TestForwardContextCancel(t *testing.T) {
	const after = 100 * time.Millisecond
	kinds := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
	}{
		{"cancel", func(parent context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(parent)
			time.AfterFunc(after, cancel)
			return ctx, cancel
		}},
		{"deadline", func(parent context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(parent, after)
		}},
	}
	// class keeps what does not depend on timing: the driver may notice the
	// end of the context while it writes or while it reads, with different
	// texts. lib/pq races with itself: its watcher marks the connection with
	// the context's error while the server's "canceling statement due to user
	// request" (57014) is on its way, and either may be returned, with or
	// without sqlpool; both mean the query was interrupted.
	class := func(d fwdDriver, o fwdOutcome) any {
		if o.Err == nil {
			return "no error"
		}
		e := *o.Err
		e.Err, e.Message = "", ""
		if d.name == "postgres" && (e.Code == "57014" || e.Canceled || e.DeadlineExceeded) {
			return "lib/pq: interrupted (57014 or the context's error)"
		}
		return e
	}
	for _, d := range fwdDrivers() {
		t.Run(d.String(), func(t *testing.T) {
			sides := fwdSides(t, d, d.dsn(t))
			for _, k := range kinds {
				for _, via := range []string{"DB", "Conn", "Stmt"} {
					t.Run(k.name+"/"+via, func(t *testing.T) {
						ctx := fwdContext(t)
						want := fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
							var r fwdRunner = s.db
							if via == "Conn" {
								c := fwdConn(ctx, t, s.db)
								defer c.Close()
								r = c
							}
							qctx, cancel := k.ctx(ctx)
							defer cancel()
							start := time.Now()
							var o fwdOutcome
							if via == "Stmt" {
								st, err := r.PrepareContext(ctx, d.sleep)
								if err != nil {
									t.Fatalf("prepare: %v", err)
								}
								defer st.Close()
								o = fwdStmtQuery(qctx, st, nil)
							} else {
								o = fwdQuery(qctx, r, d.sleep, nil)
							}
							if el := time.Since(start); el > 4*time.Second {
								t.Errorf("%s: the query ran %v after its context ended", s.name, el)
							}
							var next fwdOutcome
							for range 2 { // the second runs on a connection that was reused
								next = fwdQuery(ctx, r, "SELECT 1", nil)
							}
							var nextErr any = "no error"
							if next.Err != nil {
								nextErr = *next.Err
							}
							return []any{class(d, o), nextErr}
						}).([]any)
						if e, ok := want[0].(fwdErrInfo); ok && !(e.Canceled || e.DeadlineExceeded) || want[0] == "no error" {
							t.Errorf("raw: %#v; want an error of the context", want[0])
						}
					})
				}
			}
		})
	}
}

// TestForwardSQLitePreparedExecOfSelectReleasesTheLockOnClose: Exec of a
// prepared SELECT leaves go-sqlite3's statement stepped but not reset, which
// holds SQLite's shared lock until the statement is reset or finalized. With
// the raw driver, Stmt.Close finalizes it and a writer on another connection
// proceeds. sqlpool keeps the inner statement in the physical connection's
// statement cache after Stmt.Close, still holding the lock, and the writer
// fails with "database is locked" (SQLITE_BUSY) for as long as that physical
// connection sits idle in the pool.
//
// sqlpool therefore keeps no statement cache for SQLite unless
// pool_stmt_cache_size is set, and this passes with the default and with 0.
func TestForwardSQLitePreparedExecOfSelectReleasesTheLockOnClose(t *testing.T) {
	var d fwdDriver
	for _, x := range fwdDrivers() {
		if x.name == "sqlite3" {
			d = x
		}
	}
	for _, params := range [][]string{nil, {"pool_stmt_cache_size", "0"}} {
		t.Run(fmt.Sprint(params), func(t *testing.T) {
			ctx := fwdContext(t)
			path := filepath.Join(t.TempDir(), "lock.db")
			sides := fwdSides(t, d, "file:"+path+"?_busy_timeout=5000", params...)
			// The writer gives up quickly when the database is locked.
			writer, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=200")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { writer.Close() })
			fwdCompare(t, sides, func(t *testing.T, s fwdSide) any {
				table := fwdName("lock")
				fwdExec(t, s.db, d, table, "CREATE TABLE {T} (id INTEGER PRIMARY KEY)", "INSERT INTO {T} VALUES (1), (2)")
				defer s.db.Exec("DROP TABLE " + table)
				st, err := s.db.PrepareContext(ctx, "SELECT id FROM "+table)
				if err != nil {
					t.Fatal(err)
				}
				_, execErr := st.ExecContext(ctx)
				st.Close()
				_, writeErr := writer.ExecContext(ctx, "INSERT INTO "+table+" VALUES (3)")
				return []*fwdErrInfo{fwdErr(execErr), fwdErr(writeErr)}
			})
		})
	}
}
