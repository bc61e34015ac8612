// Package fakedb is a small, configurable database/sql driver for tests that
// need a driver which lacks some optional interface, where no real driver
// helps. It is in the spirit of database/sql's own fakedb_test.go, but much
// simpler.
//
// Caps chooses which optional interfaces the connections and statements
// implement. Go's interfaces are static, so a value with a chosen set of
// methods is a struct that embeds exactly the chosen driver interfaces, all
// filled with one full implementation; the combinations are listed in
// connTypes and stmtTypes, and New panics for a Caps no listed combination
// matches (add a line there).
//
// The driver "executes" a tiny language: Exec of any text returns a Result
// whose RowsAffected is the number of arguments and LastInsertId the number
// of the connection; Query of any text returns one row holding the
// arguments, or, without arguments, the words after the first one ("SELECT
// 1" returns int64(1)). A statement's NumInput is its count of '?'. Every
// call is recorded in a log (Calls), with the arguments as they reached the
// driver, so tests assert what database/sql, or a wrapper, passed on.
// Knobs inject failures.
package fakedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Mode says how a connection implements Exec or Query.
type Mode uint8

const (
	None    Mode = iota // neither variant: database/sql prepares a statement instead
	Legacy              // driver.Execer / driver.Queryer
	Context             // driver.ExecerContext / driver.QueryerContext
)

// Caps chooses the optional interfaces. The zero value is a Go 1.0 driver:
// driver.Conn and driver.Stmt only.
type Caps struct {
	Exec, Query     Mode
	PrepareContext  bool // driver.ConnPrepareContext
	BeginTx         bool // driver.ConnBeginTx
	Pinger          bool // driver.Pinger
	SessionResetter bool // driver.SessionResetter
	Validator       bool // driver.Validator

	// ConnCheck, if not nil, makes the connection a driver.NamedValueChecker
	// whose CheckNamedValue returns ConnCheck(nv): nil (nv, possibly changed,
	// is accepted), driver.ErrSkip, driver.ErrRemoveArgument or an error.
	ConnCheck func(nv *driver.NamedValue) error

	StmtContext bool // driver.StmtExecContext and driver.StmtQueryContext

	// StmtCheck, if not nil, makes statements driver.NamedValueCheckers,
	// like ConnCheck.
	StmtCheck func(nv *driver.NamedValue) error

	// ColumnConvert, if not nil, makes statements driver.ColumnConverters
	// (deprecated, still honoured by database/sql) whose converter for
	// column index returns ColumnConvert(index, v).
	ColumnConvert func(index int, v driver.Value) (driver.Value, error)

	UnknownNumInput bool // Stmt.NumInput returns -1
}

// Modern returns the Caps of a current driver: every optional interface but
// the argument checkers and converters.
func Modern() Caps {
	return Caps{Exec: Context, Query: Context, PrepareContext: true, BeginTx: true,
		Pinger: true, SessionResetter: true, Validator: true, StmtContext: true}
}

// Knobs inject failures. The zero value injects none.
type Knobs struct {
	ConnectErr error // Open fails with it (and assigns no connection number)
	PingErr    error // Ping returns it
	ResetErr   error // ResetSession returns it
	Invalid    bool  // IsValid reports false

	// Fail, if not nil, is asked before each statement runs (Exec or Query,
	// on the connection or on a statement); an error fails the statement.
	Fail func(conn int, query string) error
}

// Call is one recorded call into the driver.
type Call struct {
	Conn   int    // connection number, from 1 in the order of Open; 0 for a failed Open
	Method string // "Connect", "Conn.ExecContext", "Stmt.Exec", "Stmt.ColumnConverter", "Tx.Commit", ...
	Query  string // the statement's text, for statement calls
	// Args are the arguments as they reached the driver: legacy calls get
	// Ordinal 1..n and no Name; CheckNamedValue records the value it was
	// given, ColumnConverter the index (as Ordinal-1) and value.
	Args []driver.NamedValue
	Err  string // the error returned, "" for none
}

// Driver is a fake driver.Driver. Its DSNs are ignored. It is safe for
// concurrent use.
type Driver struct {
	caps     Caps
	connType reflect.Type
	stmtType reflect.Type

	mu       sync.Mutex
	knobs    Knobs  // guarded by mu
	calls    []Call // guarded by mu
	conns    int    // connections opened; guarded by mu
	connects int    // calls to Open, failed or not; guarded by mu
}

// New returns a driver with caps. It panics if no listed combination of
// interfaces matches caps.
func New(caps Caps) *Driver {
	d := &Driver{caps: caps}
	d.connType = pick(connTypes, connIfaces, caps.connWants())
	d.stmtType = pick(stmtTypes, stmtIfaces, caps.stmtWants())
	return d
}

// Register returns New(caps), registered with database/sql as name.
func Register(name string, caps Caps) *Driver {
	d := New(caps)
	sql.Register(name, d)
	return d
}

// Set changes the knobs with f, under the driver's lock.
func (d *Driver) Set(f func(*Knobs)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.knobs)
}

func (d *Driver) knob() Knobs {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.knobs
}

// Calls returns a copy of the log.
func (d *Driver) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.calls...)
}

// ResetCalls empties the log.
func (d *Driver) ResetCalls() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = nil
}

// Connects returns how many times Open was called, failed or not.
func (d *Driver) Connects() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connects
}

func (d *Driver) record(c Call, err error) {
	if err != nil {
		c.Err = err.Error()
	}
	c.Args = append([]driver.NamedValue(nil), c.Args...)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, c)
}

// Open returns a new connection, or Knobs.ConnectErr.
func (d *Driver) Open(string) (driver.Conn, error) {
	d.mu.Lock()
	d.connects++
	err := d.knobs.ConnectErr
	id := 0
	if err == nil {
		d.conns++
		id = d.conns
	}
	d.mu.Unlock()
	d.record(Call{Conn: id, Method: "Connect"}, err)
	if err != nil {
		return nil, err
	}
	return build(d.connType, &conn{d: d, id: id}).(driver.Conn), nil
}

// The building blocks of the combinations: interfaces that drivers implement
// together. They are exported only so that build can set the fields that
// embed them.
type (
	// ExecQuery is a current driver's direct execution.
	ExecQuery interface {
		driver.ExecerContext
		driver.QueryerContext
	}
	// LegacyExecQuery is a Go 1.0 driver's direct execution.
	LegacyExecQuery interface {
		driver.Execer  //nolint:staticcheck
		driver.Queryer //nolint:staticcheck
	}
	// PrepareBegin is a current driver's Prepare and Begin.
	PrepareBegin interface {
		driver.ConnPrepareContext
		driver.ConnBeginTx
	}
	// Session is how a connection takes part in database/sql's reuse.
	Session interface {
		driver.SessionResetter
		driver.Validator
	}
	// Converter is driver.ColumnConverter under another name: a field
	// named like its method would hide the method.
	Converter interface {
		driver.ColumnConverter //nolint:staticcheck
	}
	// StmtContext is a current driver's statement execution.
	StmtContext interface {
		driver.StmtExecContext
		driver.StmtQueryContext
	}
)

// The interfaces a Caps chooses among, and the combinations New can build:
// add a line when a test needs another.
var (
	connIfaces = []reflect.Type{
		reflect.TypeFor[driver.Execer](), reflect.TypeFor[driver.ExecerContext](), //nolint:staticcheck
		reflect.TypeFor[driver.Queryer](), reflect.TypeFor[driver.QueryerContext](), //nolint:staticcheck
		reflect.TypeFor[driver.ConnPrepareContext](), reflect.TypeFor[driver.ConnBeginTx](),
		reflect.TypeFor[driver.Pinger](), reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](), reflect.TypeFor[driver.NamedValueChecker](),
	}
	stmtIfaces = []reflect.Type{
		reflect.TypeFor[driver.StmtExecContext](), reflect.TypeFor[driver.StmtQueryContext](),
		reflect.TypeFor[driver.NamedValueChecker](), reflect.TypeFor[driver.ColumnConverter](), //nolint:staticcheck
	}
	connTypes = []reflect.Type{
		reflect.TypeFor[struct{ driver.Conn }](),
		reflect.TypeFor[struct {
			driver.Conn
			LegacyExecQuery
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			LegacyExecQuery
			driver.NamedValueChecker
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			PrepareBegin
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			PrepareBegin
			driver.NamedValueChecker
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			ExecQuery
			driver.ConnPrepareContext
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			ExecQuery
			PrepareBegin
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			ExecQuery
			PrepareBegin
			driver.NamedValueChecker
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			ExecQuery
			PrepareBegin
			Session
		}](),
		reflect.TypeFor[struct {
			driver.Conn
			ExecQuery
			PrepareBegin
			Session
			driver.Pinger
		}](),
	}
	stmtTypes = []reflect.Type{
		reflect.TypeFor[struct{ driver.Stmt }](),
		reflect.TypeFor[struct {
			driver.Stmt
			driver.NamedValueChecker
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			Converter
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			driver.NamedValueChecker
			Converter
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			StmtContext
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			StmtContext
			driver.NamedValueChecker
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			StmtContext
			Converter
		}](),
		reflect.TypeFor[struct {
			driver.Stmt
			StmtContext
			driver.NamedValueChecker
			Converter
		}](),
	}
)

// connWants lists, in connIfaces order, which interfaces caps asks for.
func (c Caps) connWants() []bool {
	return []bool{c.Exec == Legacy, c.Exec == Context, c.Query == Legacy, c.Query == Context,
		c.PrepareContext, c.BeginTx, c.Pinger, c.SessionResetter, c.Validator, c.ConnCheck != nil}
}

func (c Caps) stmtWants() []bool {
	return []bool{c.StmtContext, c.StmtContext, c.StmtCheck != nil, c.ColumnConvert != nil}
}

// pick returns the type of types that implements exactly the wanted ifaces.
func pick(types, ifaces []reflect.Type, want []bool) reflect.Type {
	for _, t := range types {
		ok := true
		for i, it := range ifaces {
			ok = ok && t.Implements(it) == want[i]
		}
		if ok {
			return t
		}
	}
	var names []string
	for i, it := range ifaces {
		if want[i] {
			names = append(names, it.String())
		}
	}
	panic(fmt.Sprintf("fakedb: no combination of %v is listed; add one to connTypes or stmtTypes", names))
}

// build returns a value of t, a struct of embedded interfaces, with every
// field set to impl, which implements them all.
func build(t reflect.Type, impl any) any {
	v := reflect.New(t).Elem()
	for i := range v.NumField() {
		v.Field(i).Set(reflect.ValueOf(impl))
	}
	return v.Interface()
}

// conn implements every connection interface; build exposes those chosen.
type conn struct {
	d      *Driver
	id     int
	closed atomic.Bool
}

func (c *conn) call(method, query string, args []driver.NamedValue, err error) {
	c.d.record(Call{Conn: c.id, Method: method, Query: query, Args: args}, err)
}

// run records a statement and runs it: the tiny language.
func (c *conn) run(method, query string, args []driver.NamedValue, rows bool) (driver.Result, driver.Rows, error) {
	var err error
	if c.closed.Load() {
		err = driver.ErrBadConn
	} else if fail := c.d.knob().Fail; fail != nil {
		err = fail(c.id, query)
	}
	c.call(method, query, args, err)
	if err != nil {
		return nil, nil, err
	}
	if !rows {
		return result{id: int64(c.id), n: int64(len(args))}, nil, nil
	}
	r := &fakeRows{}
	for _, a := range args {
		r.vals = append(r.vals, a.Value)
	}
	if words := strings.Fields(query); len(args) == 0 && len(words) > 1 {
		for _, w := range words[1:] {
			if n, err := strconv.ParseInt(w, 10, 64); err == nil {
				r.vals = append(r.vals, n)
			} else {
				r.vals = append(r.vals, w)
			}
		}
	}
	return nil, r, nil
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func (c *conn) Exec(q string, args []driver.Value) (driver.Result, error) {
	res, _, err := c.run("Conn.Exec", q, named(args), false)
	return res, err
}

func (c *conn) ExecContext(_ context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	res, _, err := c.run("Conn.ExecContext", q, args, false)
	return res, err
}

func (c *conn) Query(q string, args []driver.Value) (driver.Rows, error) {
	_, rows, err := c.run("Conn.Query", q, named(args), true)
	return rows, err
}

func (c *conn) QueryContext(_ context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := c.run("Conn.QueryContext", q, args, true)
	return rows, err
}

func (c *conn) prepare(method, q string) (driver.Stmt, error) {
	var err error
	if c.closed.Load() {
		err = driver.ErrBadConn
	}
	c.call(method, q, nil, err)
	if err != nil {
		return nil, err
	}
	return build(c.d.stmtType, &stmt{c: c, query: q}).(driver.Stmt), nil
}

func (c *conn) Prepare(q string) (driver.Stmt, error) { return c.prepare("Conn.Prepare", q) }

func (c *conn) PrepareContext(_ context.Context, q string) (driver.Stmt, error) {
	return c.prepare("Conn.PrepareContext", q)
}

func (c *conn) Begin() (driver.Tx, error) {
	c.call("Conn.Begin", "", nil, nil)
	return tx{c}, nil
}

func (c *conn) BeginTx(_ context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.call("Conn.BeginTx", fmt.Sprintf("isolation=%d read_only=%t", opts.Isolation, opts.ReadOnly), nil, nil)
	return tx{c}, nil
}

func (c *conn) Ping(context.Context) error {
	err := c.d.knob().PingErr
	c.call("Conn.Ping", "", nil, err)
	return err
}

func (c *conn) ResetSession(context.Context) error {
	err := c.d.knob().ResetErr
	c.call("Conn.ResetSession", "", nil, err)
	return err
}

func (c *conn) IsValid() bool {
	ok := !c.d.knob().Invalid
	c.call("Conn.IsValid", strconv.FormatBool(ok), nil, nil)
	return ok
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	in := *nv
	err := c.d.caps.ConnCheck(nv)
	c.call("Conn.CheckNamedValue", "", []driver.NamedValue{in}, err)
	return err
}

func (c *conn) Close() error {
	c.closed.Store(true)
	c.call("Conn.Close", "", nil, nil)
	return nil
}

// stmt implements every statement interface; build exposes those chosen.
type stmt struct {
	c     *conn
	query string
}

func (s *stmt) Close() error {
	s.c.call("Stmt.Close", s.query, nil, nil)
	return nil
}

func (s *stmt) NumInput() int {
	if s.c.d.caps.UnknownNumInput {
		return -1
	}
	return strings.Count(s.query, "?")
}

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	res, _, err := s.c.run("Stmt.Exec", s.query, named(args), false)
	return res, err
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	_, rows, err := s.c.run("Stmt.Query", s.query, named(args), true)
	return rows, err
}

func (s *stmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, _, err := s.c.run("Stmt.ExecContext", s.query, args, false)
	return res, err
}

func (s *stmt) QueryContext(_ context.Context, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := s.c.run("Stmt.QueryContext", s.query, args, true)
	return rows, err
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	in := *nv
	err := s.c.d.caps.StmtCheck(nv)
	s.c.call("Stmt.CheckNamedValue", s.query, []driver.NamedValue{in}, err)
	return err
}

func (s *stmt) ColumnConverter(index int) driver.ValueConverter {
	return columnConverter{s: s, index: index}
}

type columnConverter struct {
	s     *stmt
	index int
}

func (cc columnConverter) ConvertValue(v any) (driver.Value, error) {
	out, err := cc.s.c.d.caps.ColumnConvert(cc.index, v)
	cc.s.c.call("Stmt.ColumnConverter", cc.s.query, []driver.NamedValue{{Ordinal: cc.index + 1, Value: v}}, err)
	return out, err
}

type tx struct{ c *conn }

func (t tx) Commit() error {
	t.c.call("Tx.Commit", "", nil, nil)
	return nil
}

func (t tx) Rollback() error {
	t.c.call("Tx.Rollback", "", nil, nil)
	return nil
}

type result struct{ id, n int64 }

func (r result) LastInsertId() (int64, error) { return r.id, nil }
func (r result) RowsAffected() (int64, error) { return r.n, nil }

// fakeRows is one row of values, in columns named c1, c2, ...
type fakeRows struct {
	vals []driver.Value
	done bool
}

func (r *fakeRows) Columns() []string {
	cols := make([]string, len(r.vals))
	for i := range cols {
		cols[i] = "c" + strconv.Itoa(i+1)
	}
	return cols
}

func (r *fakeRows) Close() error { return nil }

func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	copy(dest, r.vals)
	return nil
}
