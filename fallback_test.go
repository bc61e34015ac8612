package sqlpool_test

// The forwarding of optional interfaces to drivers that LACK them, proven on
// internal/fakedb, a driver whose connections and statements implement
// exactly the interfaces a test chooses: the same operations run through
// sql.Open(fake) (raw) and sql.Open("sqlpool", fake+":db") must give the same
// results and errors, and must reach the fake with the same calls and the
// same converted arguments. Each side gets a fake driver of its own, so each
// has its own call log and connection numbers.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/fakedb"
	"github.com/sqlpool/sqlpool/pool"
)

var fbSeq atomic.Int64

// fbCurrent are the capabilities of a current driver without the optional
// interfaces the tests are about.
var fbCurrent = fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true}

// fbSide is one way to the fake database: raw or through sqlpool.
type fbSide struct {
	name string
	drv  *fakedb.Driver
	db   *sql.DB
}

// fbRegister registers a fake driver with caps under a new name.
func fbRegister(caps fakedb.Caps) (string, *fakedb.Driver) {
	name := fmt.Sprintf("fakedb_fb_%d_%d", os.Getpid(), fbSeq.Add(1))
	return name, fakedb.Register(name, caps)
}

func fbOpen(t *testing.T, driverName, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q, %q): %v", driverName, dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fbRaw opens a new fake driver with caps directly.
func fbRaw(t *testing.T, caps fakedb.Caps) fbSide {
	t.Helper()
	name, drv := fbRegister(caps)
	return fbSide{name: "raw", drv: drv, db: fbOpen(t, name, "db")}
}

// fbPool opens a new fake driver with caps through sqlpool. Unless params
// (pool_* settings, "key=value") say otherwise, the pool runs no background
// checks and pings no connection before hand-out, so that every call in the
// fake's log is one the application's operations caused.
func fbPool(t *testing.T, label string, caps fakedb.Caps, params ...string) fbSide {
	t.Helper()
	name, drv := fbRegister(caps)
	for _, def := range []string{"pool_health_check_period=0", "pool_ping_idle_after=1h"} {
		key, _, _ := strings.Cut(def, "=")
		if !slices.ContainsFunc(params, func(p string) bool { return strings.HasPrefix(p, key+"=") }) {
			params = append(params, def)
		}
	}
	dsn := name + ":db?" + strings.Join(params, "&")
	return fbSide{name: label, drv: drv, db: fbOpen(t, "sqlpool", dsn)}
}

// fbSides returns the raw side first, then sqlpool with its default
// statement cache, then sqlpool with statements prepared per hand-out.
func fbSides(t *testing.T, caps fakedb.Caps) []fbSide {
	t.Helper()
	return []fbSide{
		fbRaw(t, caps),
		fbPool(t, "sqlpool", caps),
		fbPool(t, "sqlpool/stmt_cache=0", caps, "pool_stmt_cache_size=0"),
	}
}

// fbOps keeps the calls an application's operations cause, dropping what
// legitimately differs under sqlpool, whose pool and statement cache decide
// when physical connections and statements open and close: Connect,
// ResetSession, IsValid and Close, and a Prepare of a text already prepared
// on the same connection (raw database/sql prepares again for every
// Exec/Query without Execer/Queryer; sqlpool keeps the statement).
func fbOps(calls []fakedb.Call) []fakedb.Call {
	type key struct {
		conn          int
		method, query string
	}
	seen := map[key]bool{}
	var out []fakedb.Call
	for _, c := range calls {
		switch c.Method {
		case "Connect", "Conn.ResetSession", "Conn.IsValid", "Conn.Close", "Stmt.Close":
			continue
		case "Conn.Prepare", "Conn.PrepareContext":
			k := key{c.Conn, c.Method, c.Query}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, c)
	}
	return out
}

// fbAll keeps every call.
func fbAll(calls []fakedb.Call) []fakedb.Call { return calls }

func fbFormat(calls []fakedb.Call) string {
	var b strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&b, "\n\tconn %d %s %q", c.Conn, c.Method, c.Query)
		for _, a := range c.Args {
			fmt.Fprintf(&b, " [%d %q %T %#v]", a.Ordinal, a.Name, a.Value, a.Value)
		}
		if c.Err != "" {
			fmt.Fprintf(&b, " err=%q", c.Err)
		}
	}
	return b.String()
}

// fbCompare runs scenario on every side, the raw one first, and fails unless
// each sqlpool side's outcome and normalised call log deeply equal the raw
// side's. It returns the raw side's outcome and normalised calls.
func fbCompare(t *testing.T, sides []fbSide, norm func([]fakedb.Call) []fakedb.Call, scenario func(t *testing.T, s fbSide) any) (any, []fakedb.Call) {
	t.Helper()
	var want any
	var wantCalls []fakedb.Call
	for i, s := range sides {
		s.drv.ResetCalls()
		got := scenario(t, s)
		calls := norm(s.drv.Calls())
		if i == 0 {
			want, wantCalls = got, calls
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: outcome differs from the raw driver's:%s", s.name, fbDiff(got, want))
		}
		if !reflect.DeepEqual(calls, wantCalls) {
			t.Errorf("%s: the driver saw other calls than the raw driver:\ngot:%s\nwant:%s", s.name, fbFormat(calls), fbFormat(wantCalls))
		}
	}
	return want, wantCalls
}

// fbDiff describes how got differs from want: the differing operations of
// two []fbOut of the same length, else both values.
func fbDiff(got, want any) string {
	g, ok1 := got.([]fbOut)
	w, ok2 := want.([]fbOut)
	if !ok1 || !ok2 || len(g) != len(w) {
		return fmt.Sprintf("\ngot  %#v\nwant %#v", got, want)
	}
	var b strings.Builder
	for i := range g {
		if !reflect.DeepEqual(g[i], w[i]) {
			fmt.Fprintf(&b, "\n\t%s:\n\t\tgot  %+v\n\t\twant %+v", w[i].Op, g[i], w[i])
		}
	}
	return b.String()
}

// fbOut is the outcome of one operation.
type fbOut struct {
	Op       string
	Rows     [][]any
	Affected int64
	LastID   int64 // the fake's connection number
	Err      string
}

func fbErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// fbRunner is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type fbRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// fbOp is one operation on a runner.
type fbOp struct {
	name string
	run  func(ctx context.Context, r fbRunner) fbOut
}

func fbResult(op string, res sql.Result, err error) fbOut {
	if err != nil {
		return fbOut{Op: op, Err: err.Error()}
	}
	out := fbOut{Op: op}
	var e1, e2 error
	out.Affected, e1 = res.RowsAffected()
	out.LastID, e2 = res.LastInsertId()
	out.Err = fbErr(errors.Join(e1, e2))
	return out
}

func fbRows(op string, rows *sql.Rows, err error) fbOut {
	if err != nil {
		return fbOut{Op: op, Err: err.Error()}
	}
	defer rows.Close()
	out := fbOut{Op: op}
	cols, err := rows.Columns()
	if err != nil {
		out.Err = err.Error()
		return out
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			out.Err = err.Error()
			return out
		}
		out.Rows = append(out.Rows, vals)
	}
	out.Err = fbErr(rows.Err())
	return out
}

func fbDescribe(verb, q string, args []any) string {
	return fmt.Sprintf("%s %q %#v", verb, q, args)
}

func fbExec(q string, args ...any) fbOp {
	name := fbDescribe("Exec", q, args)
	return fbOp{name, func(ctx context.Context, r fbRunner) fbOut {
		res, err := r.ExecContext(ctx, q, args...)
		return fbResult(name, res, err)
	}}
}

func fbQuery(q string, args ...any) fbOp {
	name := fbDescribe("Query", q, args)
	return fbOp{name, func(ctx context.Context, r fbRunner) fbOut {
		rows, err := r.QueryContext(ctx, q, args...)
		return fbRows(name, rows, err)
	}}
}

func fbStmtExec(q string, args ...any) fbOp {
	name := fbDescribe("Prepare+Exec", q, args)
	return fbOp{name, func(ctx context.Context, r fbRunner) fbOut {
		st, err := r.PrepareContext(ctx, q)
		if err != nil {
			return fbOut{Op: name, Err: "prepare: " + err.Error()}
		}
		defer st.Close()
		res, err := st.ExecContext(ctx, args...)
		return fbResult(name, res, err)
	}}
}

func fbStmtQuery(q string, args ...any) fbOp {
	name := fbDescribe("Prepare+Query", q, args)
	return fbOp{name, func(ctx context.Context, r fbRunner) fbOut {
		st, err := r.PrepareContext(ctx, q)
		if err != nil {
			return fbOut{Op: name, Err: "prepare: " + err.Error()}
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx, args...)
		return fbRows(name, rows, err)
	}}
}

// fbVia is a way to run operations: on the DB, on a sql.Conn, in a sql.Tx.
type fbVia struct {
	name string
	run  func(ctx context.Context, t *testing.T, db *sql.DB, f func(fbRunner) any) any
}

var fbVias = []fbVia{
	{"DB", func(_ context.Context, _ *testing.T, db *sql.DB, f func(fbRunner) any) any { return f(db) }},
	{"Conn", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fbRunner) any) any {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("DB.Conn: %v", err)
		}
		defer c.Close()
		return f(c)
	}},
	{"Tx", func(ctx context.Context, t *testing.T, db *sql.DB, f func(fbRunner) any) any {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("DB.BeginTx: %v", err)
		}
		out := f(tx)
		if err := tx.Commit(); err != nil {
			t.Fatalf("Tx.Commit: %v", err)
		}
		return out
	}},
}

// fbRunOps runs ops one after the other, via every way, on every side, and
// compares with fbOps. It returns the raw side's calls, for every via.
func fbRunOps(t *testing.T, caps fakedb.Caps, ops []fbOp) []fakedb.Call {
	t.Helper()
	var all []fakedb.Call
	for _, via := range fbVias {
		t.Run(via.name, func(t *testing.T) {
			_, calls := fbCompare(t, fbSides(t, caps), fbOps, func(t *testing.T, s fbSide) any {
				return via.run(t.Context(), t, s.db, func(r fbRunner) any {
					var outs []fbOut
					for _, op := range ops {
						outs = append(outs, op.run(t.Context(), r))
					}
					return outs
				})
			})
			all = append(all, calls...)
		})
	}
	return all
}

// Argument types.
type (
	fbValuer   struct{ s string } // a driver.Valuer
	fbInt      int                // converted by the default converter to int64
	fbSpecial  string             // converted by the fake's checkers to "<tag>:<s>"
	fbRemove   struct{}           // removed by the fake's checkers (driver.ErrRemoveArgument)
	fbReject   struct{}           // rejected by the fake's checkers and converter
	fbStmtOnly struct{}           // accepted by the statement's checker only
	fbBadConv  struct{}           // converted by the fake's ColumnConverter to a non-Value
)

func (v fbValuer) Value() (driver.Value, error) { return "valuer:" + v.s, nil }

var fbTime = time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC)

// fbArgs are arguments of many kinds, for the default conversion.
var fbArgs = []any{int(7), int32(-3), uint8(9), fbInt(3), "text", []byte("bytes"), true, 2.5, float32(1.5),
	nil, fbTime, fbValuer{"v"}, (*int)(nil), sql.NullString{}, sql.NullInt64{Int64: 4, Valid: true}}

func fbPlaceholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// fbCommonOps work on any driver: default conversions, errors of the
// default conversion, named arguments, prepared statements.
func fbCommonOps() []fbOp {
	return []fbOp{
		fbExec("EXEC "+fbPlaceholders(len(fbArgs)), fbArgs...),
		fbQuery("SELECT "+fbPlaceholders(len(fbArgs)), fbArgs...),
		fbExec("EXEC without arguments"),
		fbQuery("SELECT 1 two"),
		fbExec("EXEC ?", struct{}{}),
		fbQuery("SELECT ?, ?", 1, make(chan int)),
		fbExec("EXEC ?", sql.Named("a", 1)),
		fbQuery("SELECT ?", sql.Named("b", "x")),
		fbExec("EXEC ?", sql.Named("1bad", 1)),
		fbStmtExec("EXEC ?, ?", 1, "x"),
		fbStmtQuery("SELECT ?, ?", fbValuer{"s"}, fbTime),
		fbStmtExec("EXEC ?, ?", 1),
		fbStmtQuery("SELECT ?", 1, 2),
		fbStmtExec("EXEC ?", sql.Named("c", 1)),
		fbStmtExec("EXEC ?", struct{}{}),
		fbExec("EXEC "+fbPlaceholders(len(fbArgs)), fbArgs...), // again: prepared again or not
	}
}

// fbHasCall reports whether calls hold one of method with query.
func fbHasCall(calls []fakedb.Call, method, query string) bool {
	return slices.ContainsFunc(calls, func(c fakedb.Call) bool { return c.Method == method && c.Query == query })
}

// TestFallbackLegacyExecerReceivesTheSameConvertedArguments: a Go 1.0
// driver (driver.Execer and driver.Queryer without their Context variants,
// Prepare, Begin, and statements without StmtExecContext/StmtQueryContext)
// gets the same calls with the same converted arguments through sqlpool as
// directly; named arguments fail with database/sql's "driver does not
// support the use of Named Parameters".
func TestFallbackLegacyExecerReceivesTheSameConvertedArguments(t *testing.T) {
	caps := fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy}
	calls := fbRunOps(t, caps, fbCommonOps())
	if !fbHasCall(calls, "Conn.Exec", "EXEC without arguments") || !fbHasCall(calls, "Conn.Query", "SELECT 1 two") {
		t.Errorf("the raw driver was not called through driver.Execer and driver.Queryer:%s", fbFormat(calls))
	}
}

// TestFallbackLegacyExecerGetsNamedParametersError checks the message of
// the shared outcome, so that the comparisons above compare what they claim.
func TestFallbackLegacyExecerGetsNamedParametersError(t *testing.T) {
	caps := fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy}
	const want = "sql: driver does not support the use of Named Parameters"
	for _, s := range fbSides(t, caps) {
		if _, err := s.db.ExecContext(t.Context(), "EXEC ?", sql.Named("a", 1)); fbErr(err) != want {
			t.Errorf("%s: Exec with a named argument: got %v, want %q", s.name, err, want)
		}
		if _, err := s.db.QueryContext(t.Context(), "SELECT ?", sql.Named("a", 1)); fbErr(err) != want {
			t.Errorf("%s: Query with a named argument: got %v, want %q", s.name, err, want)
		}
	}
}

// TestFallbackLegacyExecerWithACancelledContextGivesTheSameErrorAndCalls:
// with a context already cancelled, an operation on a DB, on a sql.Conn that
// holds its connection, in a Tx, on a prepared statement, a Prepare and a
// Begin (without ConnBeginTx: Begin, then Rollback) all fail with
// context.Canceled after the same driver calls as without sqlpool.
func TestFallbackLegacyExecerWithACancelledContextGivesTheSameErrorAndCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
	}{
		{"legacy Execer", fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy}},
		{"no Execer", fakedb.Caps{}}, // prepared statements without StmtExecContext
	} {
		caps := tc.caps
		t.Run(tc.name, func(t *testing.T) {
			fbCompare(t, fbSides(t, caps), fbOps, func(t *testing.T, s fbSide) any {
				ctx := t.Context()
				cancelled, cancel := context.WithCancel(ctx)
				cancel()
				var outs []fbOut
				note := func(op string, err error) {
					outs = append(outs, fbOut{Op: op, Err: fbErr(err)})
					if !errors.Is(err, context.Canceled) {
						t.Errorf("%s: %s: got %v, want context.Canceled", s.name, op, err)
					}
				}
				c, err := s.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.ExecContext(ctx, "EXEC ?", 1); err != nil {
					t.Fatalf("%s: first Exec: %v", s.name, err)
				}
				st, err := c.PrepareContext(ctx, "EXEC PREPARED ?")
				if err != nil {
					t.Fatalf("%s: Prepare: %v", s.name, err)
				}
				defer st.Close()
				_, err = c.ExecContext(cancelled, "EXEC ?", 2)
				note("Conn.Exec", err)
				_, err = c.QueryContext(cancelled, "SELECT ?", 3)
				note("Conn.Query", err)
				_, err = st.ExecContext(cancelled, 4)
				note("Stmt.Exec", err)
				_, err = st.QueryContext(cancelled, 5)
				note("Stmt.Query", err)
				_, err = c.PrepareContext(cancelled, "EXEC CANCELLED ?")
				note("Conn.Prepare", err)
				_, err = c.BeginTx(cancelled, nil)
				note("Conn.BeginTx", err)
				_, err = s.db.ExecContext(cancelled, "EXEC ?", 6)
				note("DB.Exec", err)
				tx, err := c.BeginTx(ctx, nil)
				if err != nil {
					t.Fatalf("%s: BeginTx: %v", s.name, err)
				}
				_, err = tx.ExecContext(cancelled, "EXEC ?", 7)
				note("Tx.Exec", err)
				if err := tx.Rollback(); err != nil {
					t.Errorf("%s: Tx.Rollback: %v", s.name, err)
				}
				return outs
			})
		})
	}
}

// TestFallbackWithoutExecerOrQueryerDatabaseSQLPreparesTheStatement: for a
// driver with neither Execer nor Queryer (in any variant) database/sql
// prepares every Exec and Query and runs the statement, with
// StmtExecContext/StmtQueryContext or, without them, Exec/Query (where named
// arguments fail); sqlpool's connection claims ExecerContext and
// QueryerContext and must fall back the same way, with the same arguments.
func TestFallbackWithoutExecerOrQueryerDatabaseSQLPreparesTheStatement(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
		exec string // the method that runs an Exec
	}{
		{"Go 1.0 driver", fakedb.Caps{}, "Stmt.Exec"},
		{"PrepareContext and legacy statements", fakedb.Caps{PrepareContext: true, BeginTx: true}, "Stmt.Exec"},
		{"PrepareContext and StmtExecContext", fakedb.Caps{PrepareContext: true, BeginTx: true, StmtContext: true}, "Stmt.ExecContext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := fbRunOps(t, tc.caps, fbCommonOps())
			if !fbHasCall(calls, tc.exec, "EXEC without arguments") {
				t.Errorf("the raw driver's Exec did not run through %s:%s", tc.exec, fbFormat(calls))
			}
		})
	}
}

// TestFallbackWithoutConnBeginTxDefaultOptionsWorkAndOthersFailAsInDatabaseSQL:
// without driver.ConnBeginTx, database/sql calls Begin for default options
// and refuses others with its own errors; sqlpool must do the same. With
// ConnBeginTx the options reach the driver.
func TestFallbackWithoutConnBeginTxDefaultOptionsWorkAndOthersFailAsInDatabaseSQL(t *testing.T) {
	const (
		errIsolation = "sql: driver does not support non-default isolation level"
		errReadOnly  = "sql: driver does not support read-only transactions"
	)
	for _, tc := range []struct {
		name      string
		caps      fakedb.Caps
		isolation string // outcome of a serializable transaction
		readOnly  string
	}{
		{"Go 1.0 driver", fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy}, errIsolation, errReadOnly},
		{"ExecerContext without ConnBeginTx", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true}, errIsolation, errReadOnly},
		{"ConnBeginTx", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"DB", "Conn"} {
				t.Run(via, func(t *testing.T) {
					out, _ := fbCompare(t, fbSides(t, tc.caps), fbOps, func(t *testing.T, s fbSide) any {
						ctx := t.Context()
						begin := s.db.BeginTx
						if via == "Conn" {
							c, err := s.db.Conn(ctx)
							if err != nil {
								t.Fatal(err)
							}
							defer c.Close()
							begin = c.BeginTx
						}
						var outs []fbOut
						for _, o := range []struct {
							name   string
							opts   *sql.TxOptions
							commit bool
						}{
							{"nil options, commit", nil, true},
							{"zero options, rollback", &sql.TxOptions{}, false},
							{"explicit defaults", &sql.TxOptions{Isolation: sql.LevelDefault, ReadOnly: false}, true},
							{"serializable", &sql.TxOptions{Isolation: sql.LevelSerializable}, false},
							{"read-only", &sql.TxOptions{ReadOnly: true}, false},
						} {
							tx, err := begin(ctx, o.opts)
							if err != nil {
								outs = append(outs, fbOut{Op: o.name, Err: err.Error()})
								continue
							}
							res, err := tx.ExecContext(ctx, "EXEC ?", o.name)
							out := fbResult(o.name, res, err)
							if o.commit {
								err = tx.Commit()
							} else {
								err = tx.Rollback()
							}
							if err != nil {
								out.Err += " end: " + err.Error()
							}
							outs = append(outs, out)
						}
						return outs
					})
					outs := out.([]fbOut)
					if got := outs[3].Err; got != tc.isolation {
						t.Errorf("serializable: got error %q, want %q", got, tc.isolation)
					}
					if got := outs[4].Err; got != tc.readOnly {
						t.Errorf("read-only: got error %q, want %q", got, tc.readOnly)
					}
				})
			}
		})
	}
}

// fbChecker returns a CheckNamedValue hook for the fake, tagged with where
// it sits: fbSpecial becomes "<tag>:<s>", fbRemove is removed, fbReject is
// rejected, fbStmtOnly is accepted by the statement's checker only, and
// everything else gets driver.ErrSkip (the next converter).
func fbChecker(tag string) func(nv *driver.NamedValue) error {
	return func(nv *driver.NamedValue) error {
		switch v := nv.Value.(type) {
		case fbSpecial:
			nv.Value = tag + ":" + string(v)
			return nil
		case fbRemove:
			return driver.ErrRemoveArgument
		case fbReject:
			return errors.New("fakedb " + tag + " checker rejects the value")
		case fbStmtOnly:
			if tag == "stmt" {
				nv.Value = "stmt-only"
				return nil
			}
			return errors.New("fakedb " + tag + " checker does not know fbStmtOnly")
		}
		return driver.ErrSkip
	}
}

// fbCheckerOps are the operations for the NamedValueChecker and
// ColumnConverter tests.
func fbCheckerOps() []fbOp {
	return []fbOp{
		fbExec("EXEC ?, ?, ?", 1, fbSpecial("x"), "s"),
		fbQuery("SELECT ?, ?", fbSpecial("y"), int16(2)),
		fbExec("EXEC ?, ?", 1, fbRemove{}, 2),
		fbExec("EXEC ?, ?", 1, fbReject{}),
		fbQuery("SELECT ?", fbStmtOnly{}),
		fbExec("EXEC ?", sql.Named("n", fbSpecial("w"))),
		fbExec("EXEC "+fbPlaceholders(len(fbArgs)), fbArgs...),
		fbStmtExec("EXEC ?, ?", 1, fbRemove{}, fbSpecial("z")),
		fbStmtExec("EXEC ?, ?", fbRemove{}, 1),
		fbStmtExec("EXEC ?, ?", 1, fbReject{}),
		fbStmtQuery("SELECT ?, ?", fbSpecial("q"), "b"),
		fbStmtQuery("SELECT ?", fbStmtOnly{}),
		fbStmtExec("EXEC ?, ?", fbValuer{"v"}, nil),
		fbStmtExec("EXEC ?", "a", "extra"),
		fbStmtExec("EXEC ?", fbBadConv{}),
		fbStmtExec("EXEC ?, ?, ?", sql.Named("a", 1), sql.Named("b", fbSpecial("n")), sql.Named("c", fbRemove{})),
		fbExec("EXEC ?, ?, ?", 1, fbSpecial("x"), "s"), // again: the connection may be bound now
	}
}

// TestFallbackNamedValueCheckerConvertsTheSameArgumentsWhereverItSits: a
// driver.NamedValueChecker on the connection only, on the statement only, or
// on both (the statement's wins for prepared statements), with and without
// Execer/Queryer (database/sql then converts for the prepared statement
// only): driver.ErrSkip leads to the default conversion, an argument
// removed with driver.ErrRemoveArgument is dropped before database/sql's
// "sql: expected %d arguments, got %d", and a checker's error reads
// "sql: converting argument $n type: ...", exactly as without sqlpool.
func TestFallbackNamedValueCheckerConvertsTheSameArgumentsWhereverItSits(t *testing.T) {
	conn, stmt := fbChecker("conn"), fbChecker("stmt")
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
	}{
		{"conn", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true, ConnCheck: conn}},
		{"stmt", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true, StmtCheck: stmt}},
		{"both", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true, ConnCheck: conn, StmtCheck: stmt}},
		{"conn/legacy", fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy, ConnCheck: conn}},
		{"conn/no execer", fakedb.Caps{PrepareContext: true, BeginTx: true, StmtContext: true, ConnCheck: conn}},
		{"stmt/no execer", fakedb.Caps{PrepareContext: true, BeginTx: true, StmtContext: true, StmtCheck: stmt}},
		{"both/no execer", fakedb.Caps{PrepareContext: true, BeginTx: true, StmtContext: true, ConnCheck: conn, StmtCheck: stmt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := fbRunOps(t, tc.caps, fbCheckerOps())
			if !slices.ContainsFunc(calls, func(c fakedb.Call) bool { return strings.HasSuffix(c.Method, ".CheckNamedValue") }) {
				t.Errorf("the raw driver's checker was never called:%s", fbFormat(calls))
			}
		})
	}
}

// TestFallbackNamedValueCheckerMessagesAreDatabaseSQLs checks the messages
// of the shared outcomes, so that the comparisons compare what they claim.
func TestFallbackNamedValueCheckerMessagesAreDatabaseSQLs(t *testing.T) {
	caps := fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true,
		ConnCheck: fbChecker("conn"), StmtCheck: fbChecker("stmt")}
	for _, s := range fbSides(t, caps) {
		for _, tc := range []struct {
			op   fbOp
			want fbOut
		}{
			{fbExec("EXEC ?, ?", 1, fbReject{}), fbOut{Err: "sql: converting argument $2 type: fakedb conn checker rejects the value"}},
			{fbStmtExec("EXEC ?, ?", fbRemove{}, 1), fbOut{Err: "sql: expected 2 arguments, got 1"}},
			{fbStmtExec("EXEC ?, ?", 1, fbRemove{}, fbSpecial("z")), fbOut{Affected: 2, LastID: 1}},
			{fbExec("EXEC ?", fbSpecial("x")), fbOut{Affected: 1, LastID: 1}},
		} {
			got := tc.op.run(t.Context(), s.db)
			got.Op = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %s: got %+v, want %+v", s.name, tc.op.name, got, tc.want)
			}
		}
		calls := s.drv.Calls()
		last := calls[len(calls)-1]
		if want := []driver.NamedValue{{Ordinal: 1, Value: "conn:x"}}; last.Method != "Conn.ExecContext" || !reflect.DeepEqual(last.Args, want) {
			t.Errorf("%s: last call: got %s, want Conn.ExecContext with %v", s.name, fbFormat([]fakedb.Call{last}), want)
		}
	}
}

// fbColumnConvert is the fake's ColumnConverter: strings become
// "col<index>:<s>", fbReject is rejected, fbBadConv becomes a value that is
// no driver.Value, everything else gets the default conversion.
func fbColumnConvert(index int, v driver.Value) (driver.Value, error) {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("col%d:%s", index, v), nil
	case fbReject:
		return nil, errors.New("fakedb column converter rejects the value")
	case fbBadConv:
		return struct{}{}, nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

// TestFallbackColumnConverterSeesTheSameValues: a statement that is a
// driver.ColumnConverter (deprecated, still honoured), with and without a
// NamedValueChecker, with NumInput known or -1, with and without
// StmtExecContext, sees the same values (a Valuer's value first) and its
// conversions and errors reach the driver and the application unchanged.
func TestFallbackColumnConverterSeesTheSameValues(t *testing.T) {
	base := fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true, ColumnConvert: fbColumnConvert}
	withCheck := base
	withCheck.StmtCheck = fbChecker("stmt")
	unknown := base
	unknown.UnknownNumInput = true
	withCheckUnknown := withCheck
	withCheckUnknown.UnknownNumInput = true
	legacy := fakedb.Caps{ColumnConvert: fbColumnConvert}
	legacyUnknown := legacy
	legacyUnknown.UnknownNumInput = true
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
	}{
		{"NumInput=n", base},
		{"NumInput=-1", unknown},
		{"NamedValueChecker/NumInput=n", withCheck},
		{"NamedValueChecker/NumInput=-1", withCheckUnknown},
		{"no execer, legacy statement/NumInput=n", legacy},
		{"no execer, legacy statement/NumInput=-1", legacyUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := fbRunOps(t, tc.caps, fbCheckerOps())
			if !slices.ContainsFunc(calls, func(c fakedb.Call) bool { return c.Method == "Stmt.ColumnConverter" }) {
				t.Errorf("the raw driver's ColumnConverter was never called:%s", fbFormat(calls))
			}
		})
	}
}

// TestFallbackPingWithoutPingerSucceedsAndWithPingerForwardsItsError:
// database/sql's Ping succeeds for a driver without driver.Pinger, whatever
// the Ping error knob says; with Pinger the driver's error reaches the
// application.
func TestFallbackPingWithoutPingerSucceedsAndWithPingerForwardsItsError(t *testing.T) {
	errPing := errors.New("fakedb: ping failed")
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
		want string
	}{
		{"Go 1.0 driver", fakedb.Caps{}, ""},
		{"current driver without Pinger", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true}, ""},
		{"Pinger", fakedb.Modern(), errPing.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := fbCompare(t, fbSides(t, tc.caps), fbOps, func(t *testing.T, s fbSide) any {
				ctx := t.Context()
				var outs []string
				outs = append(outs, fbErr(s.db.PingContext(ctx)))
				s.drv.Set(func(k *fakedb.Knobs) { k.PingErr = errPing })
				outs = append(outs, fbErr(s.db.PingContext(ctx)))
				c, err := s.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				outs = append(outs, fbErr(c.PingContext(ctx)))
				return outs
			})
			if want := []string{"", tc.want, tc.want}; !reflect.DeepEqual(out, want) {
				t.Errorf("Ping errors: got %q, want %q", out, want)
			}
		})
	}
}

// fbStat returns the stat of the sqlpool pool under db.
func fbStat(t *testing.T, db *sql.DB) sqlpool.Stat {
	t.Helper()
	st, err := sqlpool.DBStat(t.Context(), db)
	if err != nil {
		t.Fatalf("DBStat: %v", err)
	}
	return st
}

// fbExecs returns, for each call that ran a statement (on the connection or
// on a statement), "conn <n> <query>", with " failed" if it failed.
func fbExecs(calls []fakedb.Call) []string {
	var out []string
	for _, c := range calls {
		if strings.HasSuffix(c.Method, ".Exec") || strings.HasSuffix(c.Method, ".ExecContext") {
			s := fmt.Sprintf("conn %d %s", c.Conn, c.Query)
			if c.Err != "" {
				s += " failed"
			}
			out = append(out, s)
		}
	}
	return out
}

// TestFallbackValidationQueryRunsBeforeEachHandOutWithoutPinger: for a
// driver without driver.Pinger, pool_validation_query=SELECT 1 with
// pool_ping_idle_after=0 runs the query on an idle connection before each
// hand-out (through ExecerContext, or a prepared statement without it); when
// it fails the connection is destroyed (Destroyed[check_failed]) and the
// application's statement runs on a new connection without an error.
func TestFallbackValidationQueryRunsBeforeEachHandOutWithoutPinger(t *testing.T) {
	errGone := errors.New("fakedb: server gone")
	for _, tc := range []struct {
		name string
		caps fakedb.Caps
	}{
		{"ExecerContext", fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true}},
		{"legacy Execer", fakedb.Caps{Exec: fakedb.Legacy, Query: fakedb.Legacy}},
		{"no Execer", fakedb.Caps{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fbPool(t, "sqlpool", tc.caps, "pool_validation_query=SELECT+1", "pool_ping_idle_after=0")
			ctx := t.Context()
			exec := func(q string) {
				t.Helper()
				if _, err := s.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec("EXEC A") // on a new connection: no validation
			exec("EXEC B")
			s.drv.Set(func(k *fakedb.Knobs) {
				k.Fail = func(conn int, q string) error {
					if conn == 1 && q == "SELECT 1" {
						return errGone
					}
					return nil
				}
			})
			exec("EXEC C")
			calls := s.drv.Calls()
			want := []string{"conn 1 EXEC A", "conn 1 SELECT 1", "conn 1 EXEC B", "conn 1 SELECT 1 failed", "conn 2 EXEC C"}
			if got := fbExecs(calls); !reflect.DeepEqual(got, want) {
				t.Errorf("statements run:\ngot  %q\nwant %q\ncalls:%s", got, want, fbFormat(calls))
			}
			if !slices.ContainsFunc(calls, func(c fakedb.Call) bool { return c.Conn == 1 && c.Method == "Conn.Close" }) {
				t.Errorf("connection 1 was not closed:%s", fbFormat(calls))
			}
			if got := fbStat(t, s.db).DestroyedCount(pool.ReasonCheck); got != 1 {
				t.Errorf("Destroyed[check_failed]: got %d, want 1", got)
			}
		})
	}
}

// TestFallbackSessionResetterAndValidatorAreCalledAsDatabaseSQLCallsThem:
// with driver.SessionResetter and driver.Validator, the driver sees the same
// calls through sqlpool as directly, lifecycle included: IsValid when a
// connection is given back, ResetSession when it is reused (an error other
// than driver.ErrBadConn ignored); ResetSession failing with
// driver.ErrBadConn, or IsValid reporting false, closes the connection and
// the next statement runs on a new one without an error. Without the
// interfaces, none of that is called and the connection is simply reused.
func TestFallbackSessionResetterAndValidatorAreCalledAsDatabaseSQLCallsThem(t *testing.T) {
	withSession := fakedb.Caps{Exec: fakedb.Context, Query: fakedb.Context, PrepareContext: true, BeginTx: true, StmtContext: true,
		SessionResetter: true, Validator: true}
	without := withSession
	without.SessionResetter, without.Validator = false, false
	for _, tc := range []struct {
		name      string
		knobs     fakedb.Knobs // set after the first statement
		invalid   bool         // IsValid reports false at the first release
		destroyed int64        // by sqlpool, with the interfaces
	}{
		{name: "reuse"},
		{name: "ResetSession fails with ErrBadConn", knobs: fakedb.Knobs{ResetErr: driver.ErrBadConn}, destroyed: 1},
		{name: "ResetSession fails otherwise", knobs: fakedb.Knobs{ResetErr: errors.New("fakedb: reset failed")}},
		{name: "IsValid is false", invalid: true, destroyed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, caps := range []fakedb.Caps{withSession, without} {
				t.Run(fmt.Sprintf("session=%t", caps.SessionResetter), func(t *testing.T) {
					sides := fbSides(t, caps)
					fbCompare(t, sides, fbAll, func(t *testing.T, s fbSide) any {
						ctx := t.Context()
						var outs []fbOut
						s.drv.Set(func(k *fakedb.Knobs) { k.Invalid = tc.invalid })
						outs = append(outs, fbExec("EXEC A").run(ctx, s.db))
						s.drv.Set(func(k *fakedb.Knobs) { *k = tc.knobs })
						outs = append(outs, fbExec("EXEC B").run(ctx, s.db))
						s.drv.Set(func(k *fakedb.Knobs) { *k = fakedb.Knobs{} })
						outs = append(outs, fbQuery("SELECT C").run(ctx, s.db))
						outs = append(outs, fbExec("EXEC D").run(ctx, s.db))
						return outs
					})
					want := int64(0)
					if caps.SessionResetter {
						want = tc.destroyed
					}
					for _, s := range sides[1:] {
						if got := fbStat(t, s.db).DestroyedCount(pool.ReasonBroken); got != want {
							t.Errorf("%s: Destroyed[broken]: got %d, want %d", s.name, got, want)
						}
					}
				})
			}
		})
	}
}

// TestFallbackConnectErrorReachesTheApplicationAndIsNotRetriedForever: a
// Connect that always fails gives the application, after
// pool_acquire_timeout, an error that wraps both sqlpool.ErrAcquireTimeout
// and the driver's error; the next statement fails at once with
// sqlpool.ErrUnavailable (wrapping the driver's error again); once Connect
// works again, statements succeed.
// TestFallbackConnectErrorReachesTheApplicationAndIsNotRetriedForever: a
// transient dial error (the network refusing, as a net.OpError) is ridden
// out until pool_acquire_timeout, then fails fast while it lasts.
func TestFallbackConnectErrorReachesTheApplicationAndIsNotRetriedForever(t *testing.T) {
	errRefused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	ctx := t.Context()

	raw := fbRaw(t, fbCurrent)
	raw.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = errRefused })
	if _, err := raw.db.ExecContext(ctx, "EXEC"); !errors.Is(err, errRefused) {
		t.Errorf("raw: got %v, want %v", err, errRefused)
	}

	const timeout = 100 * time.Millisecond
	s := fbPool(t, "sqlpool", fbCurrent, "pool_acquire_timeout="+timeout.String())
	s.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = errRefused })
	start := time.Now()
	_, err := s.db.ExecContext(ctx, "EXEC")
	if waited := time.Since(start); waited < timeout {
		t.Errorf("the first Exec failed after %v, before pool_acquire_timeout (%v)", waited, timeout)
	}
	if !errors.Is(err, sqlpool.ErrAcquireTimeout) || !errors.Is(err, errRefused) {
		t.Errorf("first Exec: got %v, want an error wrapping sqlpool.ErrAcquireTimeout and %v", err, errRefused)
	}
	start = time.Now()
	_, err = s.db.ExecContext(ctx, "EXEC")
	if waited := time.Since(start); waited >= timeout {
		t.Errorf("the second Exec failed after %v, not at once", waited)
	}
	if !errors.Is(err, sqlpool.ErrUnavailable) || !errors.Is(err, errRefused) || errors.Is(err, sqlpool.ErrAcquireTimeout) {
		t.Errorf("second Exec: got %v, want an error wrapping sqlpool.ErrUnavailable and %v only", err, errRefused)
	}
	if n := s.drv.Connects(); n > 10 {
		t.Errorf("Connect was called %d times in two statements", n)
	}

	s.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = nil })
	fbWaitFor(t, func() bool {
		_, err := s.db.ExecContext(ctx, "EXEC")
		return err == nil
	})
}

// TestFallbackPermanentConnectErrorReachesTheApplicationAtOnceAsItIs: a dial
// error that is not the network's or a deadline's is the database's answer
// (a wrong password, say), which redialing will not change: the operation
// gets it at once, the driver's own value, as from the raw driver; and the
// pool does not redial by itself.
func TestFallbackPermanentConnectErrorReachesTheApplicationAtOnceAsItIs(t *testing.T) {
	errDenied := errors.New("fakedb: password authentication failed")
	ctx := t.Context()
	raw := fbRaw(t, fbCurrent)
	raw.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = errDenied })
	_, rawErr := raw.db.ExecContext(ctx, "EXEC")

	s := fbPool(t, "sqlpool", fbCurrent, "pool_acquire_timeout=1m")
	s.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = errDenied })
	for i := range 3 {
		if _, err := s.db.ExecContext(ctx, "EXEC"); err != rawErr {
			t.Errorf("Exec %d: got %v, want the driver's own error value, as raw database/sql returns it (%v)", i, err, rawErr)
		}
	}
	// Each Exec asked for a connection once; nothing dials in between (the
	// pool package's tests show it with pool_min_conns and the health check).
	if n := s.drv.Connects(); n != 3 {
		t.Errorf("Connect calls for 3 Execs: got %d, want 3", n)
	}
	s.drv.Set(func(k *fakedb.Knobs) { k.ConnectErr = nil })
	if _, err := s.db.ExecContext(ctx, "EXEC"); err != nil {
		t.Errorf("Exec once the cause is fixed: %v", err)
	}
}

// fbWaitFor waits up to 10s for cond, checking it every 10ms.
func fbWaitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
