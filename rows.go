package sqlpool

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"
)

// rows wraps the inner rows when something must see them (plainRows says
// when nothing does, and the inner rows go to database/sql as they are):
// leak detection, which must know which rows are still open and make rows
// whose connection was reclaimed fail with ErrReclaimed instead of touching
// it; the query's span, which counts the rows; a cached statement, which
// the cache keeps while its rows are open; and a context that may end
// mid-result on a driver that cannot tell its state (noteInterrupted at
// Close).
//
// It claims every optional Rows interface database/sql looks for and, where
// the inner rows lack one, answers as database/sql does without it
// (sql.go, Rows.Next/NextResultSet and rowsColumnInfoSetupConnLocked).
var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

// rows is used only under database/sql's lock on the logical connection,
// like the connection itself.
type rows struct {
	c      *conn
	pc     *pconn // the physical connection the rows were opened on
	inner  driver.Rows
	ctx    context.Context // the query's, for noteErr
	cs     *cachedStmt     // the statement's entry in the statement cache, which counts the rows open; nil if none
	closed bool
	eof    bool     // Next reached the end: the result was read whole
	sr     spanRows // the query's span, ended at Close
}

// use brackets a call into the inner rows (see conn.enter); false means the
// connection was reclaimed and the inner rows must not be touched.
func (r *rows) use() bool { return r.c.pc == r.pc && r.c.enter() }

func (r *rows) Columns() []string {
	if !r.use() {
		return nil
	}
	defer r.c.exit()
	return r.inner.Columns()
}

func (r *rows) Next(dest []driver.Value) error {
	if !r.use() {
		return ErrReclaimed
	}
	defer r.c.exit()
	err := r.inner.Next(dest)
	if err == io.EOF {
		r.eof = true
	} else if err != nil {
		err = r.c.noteErr(r.ctx, err)
	}
	r.sr.next(err)
	return err
}

// Close closes the inner rows, unless their connection was reclaimed, and
// tells the leak detector.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	if r.c.pc == r.pc {
		if r.c.enter() {
			err = r.c.noteErr(r.ctx, r.inner.Close())
			r.releaseStmt()
			if !r.eof {
				// Closed before the end: by database/sql when the
				// query's context ended, or by the application.
				r.c.noteInterrupted(r.ctx)
			}
			r.c.exit()
		}
		r.pc.borrow.RowsClosed()
	}
	if r.sr.span.Active() {
		spanErr := r.sr.err
		if spanErr == nil {
			spanErr = err
		}
		r.sr.span.EndRows(r.ctx, r.sr.n, spanErr)
	}
	if r == &r.c.spareRows {
		r.c.spareInUse = false
	}
	r.inner, r.ctx, r.sr, r.cs = nil, nil, spanRows{}, nil
	return err
}

// releaseStmt tells the statement cache that the rows of its statement are
// closed: a statement dropped from the cache meanwhile is closed with its
// last rows.
func (r *rows) releaseStmt() {
	cs := r.cs
	if cs == nil {
		return
	}
	r.cs = nil
	if cs.open--; cs.open == 0 && cs.dropped {
		cs.si.Close()
	}
}

// HasNextResultSet is false without driver.RowsNextResultSet: database/sql
// then closes the rows at the end of the first result set.
func (r *rows) HasNextResultSet() bool {
	nrs, ok := r.inner.(driver.RowsNextResultSet)
	if !ok || !r.use() {
		return false
	}
	defer r.c.exit()
	return nrs.HasNextResultSet()
}

// NextResultSet returns io.EOF without driver.RowsNextResultSet, which
// database/sql treats as "no further result set", as it treats the
// interface's absence.
func (r *rows) NextResultSet() error {
	nrs, ok := r.inner.(driver.RowsNextResultSet)
	if !ok {
		return io.EOF
	}
	if !r.use() {
		return ErrReclaimed
	}
	defer r.c.exit()
	return r.c.noteErr(r.ctx, nrs.NextResultSet())
}

// ColumnTypeScanType is reflect.TypeFor[any]() without the interface, as
// database/sql's default.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if p, ok := r.inner.(driver.RowsColumnTypeScanType); ok && r.use() {
		defer r.c.exit()
		return p.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeDatabaseTypeName is "" without the interface.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if p, ok := r.inner.(driver.RowsColumnTypeDatabaseTypeName); ok && r.use() {
		defer r.c.exit()
		return p.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength is (0, false) without the interface.
func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if p, ok := r.inner.(driver.RowsColumnTypeLength); ok && r.use() {
		defer r.c.exit()
		return p.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable is (false, false) without the interface.
func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	if p, ok := r.inner.(driver.RowsColumnTypeNullable); ok && r.use() {
		defer r.c.exit()
		return p.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale is (0, 0, false) without the interface.
func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if p, ok := r.inner.(driver.RowsColumnTypePrecisionScale); ok && r.use() {
		defer r.c.exit()
		return p.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
