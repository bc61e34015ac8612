package sqlpool

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"

	"github.com/sqlpool/sqlpool/internal/tracing"
)

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// stmt is a prepared statement that survives re-binding. database/sql keeps
// one driver.Stmt per logical connection and uses it across hand-outs, while
// the physical connection under it may change; so stmt keeps the query text
// and runs on the inner statement prepared on the physical connection bound
// now, from that connection's statement cache (or, with the cache off, one
// prepared for the current hand-out only).
type stmt struct {
	c        *conn
	query    string
	uncached bool // never in the statement cache (see cacheable)
	numInput int  // the inner statement's NumInput
	deferArg bool // arguments are converted at execution (see CheckNamedValue)
	own      *ownedStmt
	// fallback is the span of the Exec or Query for which database/sql
	// prepared this statement after driver.ErrSkip: its one execution ends it.
	fallback tracing.Span
}

// ownedStmt is an inner statement prepared with the cache off; it lives until
// the statement closes or the hand-out ends.
type ownedStmt struct {
	si     driver.Stmt
	epoch  uint64 // conn.epoch it was prepared in
	closed bool
}

func (o *ownedStmt) close() {
	if !o.closed {
		o.closed = true
		o.si.Close()
	}
}

func newStmt(c *conn, query string) *stmt {
	return &stmt{c: c, query: query, uncached: !cacheable(query)}
}

// cacheable reports whether a statement may be kept in the statement cache
// after its user closes it. A COPY statement may not: lib/pq's CopyIn
// statement ends with its final Exec and cannot run again.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	return len(q) < 4 || !strings.EqualFold(q[:4], "COPY")
}

// inner returns the inner statement for the bound physical connection,
// preparing it there if needed.
func (s *stmt) inner(ctx context.Context, pc *pconn) (driver.Stmt, error) {
	si, _, err := s.innerEntry(ctx, pc)
	return si, err
}

// innerEntry is inner, and also returns the inner statement's entry in the
// statement cache (nil with the cache off), which counts its open rows.
func (s *stmt) innerEntry(ctx context.Context, pc *pconn) (driver.Stmt, *cachedStmt, error) {
	pc.notePrepare(s.query) // its executions run on pc
	if pc.stmts != nil && !s.uncached {
		cs, err := pc.stmts.get(ctx, pc, s.query)
		if err != nil {
			return nil, nil, err
		}
		return cs.si, cs, nil
	}
	if o := s.own; o != nil && !o.closed && o.epoch == s.c.epoch {
		return o.si, nil, nil
	}
	si, err := prepareInner(ctx, pc.inner, s.query)
	if err != nil {
		return nil, nil, err
	}
	s.own = &ownedStmt{si: si, epoch: s.c.epoch}
	s.c.bindStmts = append(s.c.bindStmts, s.own)
	return si, nil, nil
}

// learn records what the first inner statement tells about all of them.
func (s *stmt) learn(pc *pconn, si driver.Stmt) {
	s.numInput = si.NumInput()
	_, stmtChecks := si.(driver.NamedValueChecker)
	_, connChecks := pc.inner.(driver.NamedValueChecker)
	_, converts := si.(driver.ColumnConverter) //nolint:staticcheck // forwarded for old drivers
	s.deferArg = stmtChecks || connChecks || converts
}

// Close closes what only this statement uses. Inner statements in a
// physical connection's cache stay there for the next user of the same text
// (the cache is bounded and closed with its connection); database/sql calls
// Close when no operation runs on the connection, so it must not touch one
// that another logical connection may hold now.
func (s *stmt) Close() error {
	if s.fallback.Active() {
		s.fallback.End(context.Background(), nil)
	}
	if o := s.own; o != nil && !o.closed && o.epoch == s.c.epoch && s.c.pc != nil && s.c.enter() {
		o.close()
		s.c.exit()
		s.c.bindStmts = slices.DeleteFunc(s.c.bindStmts, func(b *ownedStmt) bool { return b == o })
	}
	s.own = nil
	return nil
}

// NumInput returns the inner statement's count of placeholders, or -1 when
// sqlpool converts the arguments itself at execution and checks the count
// then, with database/sql's message.
func (s *stmt) NumInput() int {
	if s.deferArg {
		return -1
	}
	return s.numInput
}

// CheckNamedValue returns driver.ErrSkip (database/sql's default conversion)
// when neither the inner statement nor the inner connection converts
// arguments. Otherwise it accepts the value, and the execution converts the
// arguments exactly as database/sql would have, on the inner statement of
// the physical connection it runs on: database/sql calls CheckNamedValue
// without a context, before that connection is known.
func (s *stmt) CheckNamedValue(*driver.NamedValue) error {
	if s.deferArg {
		return nil
	}
	return driver.ErrSkip
}

// span returns the span of an execution: the fallback's, or a new one.
func (s *stmt) span(ctx context.Context, op tracing.Op, nargs int) (context.Context, tracing.Span) {
	if s.fallback.Active() {
		sp := s.fallback
		s.fallback = tracing.Span{}
		return ctx, sp
	}
	return s.c.tel.start(ctx, op, s.query, nargs)
}

func (s *stmt) prepareArgs(ctx context.Context, sp *tracing.Span) (driver.Stmt, *cachedStmt, error) {
	pc, err := s.c.bindSpan(ctx, sp)
	if err != nil {
		return nil, nil, err
	}
	si, cs, err := s.innerEntry(ctx, pc)
	if err != nil {
		s.c.exit()
		return nil, nil, s.c.noteErr(ctx, err)
	}
	return si, cs, nil
}

func (s *stmt) convert(si driver.Stmt, args []driver.NamedValue) ([]driver.NamedValue, error) {
	if !s.deferArg {
		return args, nil
	}
	nvc, ok := si.(driver.NamedValueChecker)
	if !ok {
		nvc = s.c.pc.checker
	}
	cci, _ := si.(driver.ColumnConverter) //nolint:staticcheck // forwarded for old drivers
	return convertArgs(nvc, cci, s.numInput, args)
}

// ExecContext runs the statement on the bound physical connection.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, sp := s.span(ctx, tracing.OpExec, len(args))
	si, cs, err := s.prepareArgs(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer s.c.exit()
	if args, err = s.convert(si, args); err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	s.c.pc.borrow.Statement(s.query)
	res, err := execStmt(ctx, si, args)
	if err != nil && cs != nil {
		s.c.pc.stmts.drop(cs)
	}
	err = s.c.noteErr(ctx, err)
	sp.End(ctx, err)
	return res, err
}

// QueryContext runs the statement on the bound physical connection.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, sp := s.span(ctx, tracing.OpQuery, len(args))
	si, cs, err := s.prepareArgs(ctx, &sp)
	if err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	defer s.c.exit()
	if args, err = s.convert(si, args); err != nil {
		sp.End(ctx, err)
		return nil, err
	}
	rows, err := queryStmt(ctx, si, args)
	if err != nil {
		if cs != nil {
			s.c.pc.stmts.drop(cs)
		}
		err = s.c.noteErr(ctx, err)
		sp.End(ctx, err)
		return nil, err
	}
	// Rows of a cached statement are wrapped so that the cache keeps the
	// statement while they are open (see stmtCache).
	if cs == nil && s.c.plainRows(ctx, s.c.pc, &sp) {
		return rows, nil
	}
	return s.c.wrapRows(ctx, s.c.pc, rows, s.query, sp, cs), nil
}

// Exec is ExecContext without a context.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

// Query is QueryContext without a context.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}
