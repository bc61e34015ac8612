package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
)

// What database/sql does for a driver that lacks an optional interface,
// reproduced here so that forwarding to such a driver behaves exactly as
// using it directly (Go 1.26, src/database/sql/ctxutil.go and convert.go).

// execLegacy is database/sql's ctxDriverExec for a driver.Execer.
func execLegacy(ctx context.Context, e driver.Execer, query string, nvdargs []driver.NamedValue) (driver.Result, error) { //nolint:staticcheck
	dargs, err := legacyArgs(ctx, nvdargs)
	if err != nil {
		return nil, err
	}
	return e.Exec(query, dargs)
}

// queryLegacy is database/sql's ctxDriverQuery for a driver.Queryer.
func queryLegacy(ctx context.Context, q driver.Queryer, query string, nvdargs []driver.NamedValue) (driver.Rows, error) { //nolint:staticcheck
	dargs, err := legacyArgs(ctx, nvdargs)
	if err != nil {
		return nil, err
	}
	return q.Query(query, dargs)
}

// prepareInner is database/sql's ctxDriverPrepare.
func prepareInner(ctx context.Context, ci driver.Conn, query string) (driver.Stmt, error) {
	if ciCtx, ok := ci.(driver.ConnPrepareContext); ok {
		return ciCtx.PrepareContext(ctx, query)
	}
	si, err := ci.Prepare(query)
	if err == nil {
		select {
		default:
		case <-ctx.Done():
			si.Close()
			return nil, ctx.Err()
		}
	}
	return si, err
}

// execStmt is database/sql's ctxDriverStmtExec.
func execStmt(ctx context.Context, si driver.Stmt, nvdargs []driver.NamedValue) (driver.Result, error) {
	if siCtx, ok := si.(driver.StmtExecContext); ok {
		return siCtx.ExecContext(ctx, nvdargs)
	}
	dargs, err := legacyArgs(ctx, nvdargs)
	if err != nil {
		return nil, err
	}
	return si.Exec(dargs) //nolint:staticcheck
}

// queryStmt is database/sql's ctxDriverStmtQuery.
func queryStmt(ctx context.Context, si driver.Stmt, nvdargs []driver.NamedValue) (driver.Rows, error) {
	if siCtx, ok := si.(driver.StmtQueryContext); ok {
		return siCtx.QueryContext(ctx, nvdargs)
	}
	dargs, err := legacyArgs(ctx, nvdargs)
	if err != nil {
		return nil, err
	}
	return si.Query(dargs) //nolint:staticcheck
}

// beginLegacy is database/sql's ctxDriverBegin for a driver without
// driver.ConnBeginTx.
func beginLegacy(ctx context.Context, ci driver.Conn, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != 0 { // sql.LevelDefault
		return nil, errors.New("sql: driver does not support non-default isolation level")
	}
	if opts.ReadOnly {
		return nil, errors.New("sql: driver does not support read-only transactions")
	}
	if ctx.Done() == nil {
		return ci.Begin() //nolint:staticcheck
	}
	txi, err := ci.Begin() //nolint:staticcheck
	if err == nil {
		select {
		default:
		case <-ctx.Done():
			txi.Rollback()
			return nil, ctx.Err()
		}
	}
	return txi, err
}

// execDirect runs a statement without arguments and discards its result:
// the validation query.
func execDirect(ctx context.Context, ci driver.Conn, query string) error {
	if ec, ok := ci.(driver.ExecerContext); ok {
		_, err := ec.ExecContext(ctx, query, nil)
		if err != driver.ErrSkip {
			return err
		}
	}
	si, err := prepareInner(ctx, ci, query)
	if err != nil {
		return err
	}
	defer si.Close()
	_, err = execStmt(ctx, si, nil)
	return err
}

// legacyArgs is what database/sql does before calling a method without a
// context: it refuses named arguments, and does not start once ctx has ended.
func legacyArgs(ctx context.Context, nvdargs []driver.NamedValue) ([]driver.Value, error) {
	dargs, err := namedValueToValue(nvdargs)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return dargs, nil
}

func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		dargs[n] = param.Value
	}
	return dargs, nil
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// convertArgs is database/sql's driverArgsConnLocked applied to arguments it
// has already collected as NamedValues (with Name and Ordinal set) and let
// through unconverted: the NamedValueChecker (of the statement, else of the
// connection), then the statement's ColumnConverter, then the default
// conversion, with driver.ErrSkip and driver.ErrRemoveArgument honoured and
// the same error messages. want is the statement's NumInput, -1 for none.
func convertArgs(nvc driver.NamedValueChecker, cci driver.ColumnConverter, want int, args []driver.NamedValue) ([]driver.NamedValue, error) { //nolint:staticcheck
	if nvc == nil && cci == nil && want == -1 {
		// No driver conversion: database/sql's default only.
		for i := range args {
			if err := defaultCheckNamedValue(&args[i]); err != nil {
				return nil, fmt.Errorf("sql: converting argument %s type: %w", describeNamedValue(&args[i]), err)
			}
		}
		return args, nil
	}
	cc := ccChecker{cci: cci, want: want}
	nvargs := make([]driver.NamedValue, 0, len(args))
	for _, arg := range args {
		nv := arg
		nv.Ordinal = len(nvargs) + 1
		checker := defaultCheckNamedValue
		nextCC := false
		switch {
		case nvc != nil:
			nextCC = cci != nil
			checker = nvc.CheckNamedValue
		case cci != nil:
			checker = cc.CheckNamedValue
		}
	nextCheck:
		err := checker(&nv)
		switch err {
		case nil:
			nvargs = append(nvargs, nv)
			continue
		case driver.ErrRemoveArgument:
			continue
		case driver.ErrSkip:
			if nextCC {
				nextCC = false
				checker = cc.CheckNamedValue
			} else {
				checker = defaultCheckNamedValue
			}
			goto nextCheck
		default:
			return nil, fmt.Errorf("sql: converting argument %s type: %w", describeNamedValue(&nv), err)
		}
	}
	if want != -1 && len(nvargs) != want {
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", want, len(nvargs))
	}
	return nvargs, nil
}

func defaultCheckNamedValue(nv *driver.NamedValue) (err error) {
	nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
	return err
}

func describeNamedValue(nv *driver.NamedValue) string {
	if len(nv.Name) == 0 {
		return fmt.Sprintf("$%d", nv.Ordinal)
	}
	return fmt.Sprintf("with name %q", nv.Name)
}

// ccChecker is database/sql's ColumnConverter step.
type ccChecker struct {
	cci  driver.ColumnConverter //nolint:staticcheck
	want int
}

func (c ccChecker) CheckNamedValue(nv *driver.NamedValue) error {
	if c.cci == nil {
		return driver.ErrSkip
	}
	index := nv.Ordinal - 1
	// A statement that does not know its count (NumInput -1) has every
	// argument converted (database/sql since golang/go#68342).
	if c.want >= 0 && c.want <= index {
		return nil
	}
	if vr, ok := nv.Value.(driver.Valuer); ok {
		sv, err := callValuerValue(vr)
		if err != nil {
			return err
		}
		if !driver.IsValue(sv) {
			return fmt.Errorf("non-subset type %T returned from Value", sv)
		}
		nv.Value = sv
	}
	var err error
	arg := nv.Value
	nv.Value, err = c.cci.ColumnConverter(index).ConvertValue(arg)
	if err != nil {
		return err
	}
	if !driver.IsValue(nv.Value) {
		return fmt.Errorf("driver ColumnConverter error converted %T to unsupported type %T", arg, nv.Value)
	}
	return nil
}

var valuerReflectType = reflect.TypeFor[driver.Valuer]()

// callValuerValue is database/sql's: a nil pointer whose element type
// implements Valuer by value converts to nil instead of panicking.
func callValuerValue(vr driver.Valuer) (v driver.Value, err error) {
	if rv := reflect.ValueOf(vr); rv.Kind() == reflect.Pointer &&
		rv.IsNil() &&
		rv.Type().Elem().Implements(valuerReflectType) {
		return nil, nil
	}
	return vr.Value()
}

// errNoValue is queryValue's error for a statement that did not return one
// value in one row, of a type it can show as text.
var errNoValue = errors.New("sqlpool: the statement returned no single value")

// queryValue returns the one value of the one row q returns on ic, as text.
func queryValue(ctx context.Context, ic driver.Conn, q string) (string, error) {
	qc, ok := ic.(driver.QueryerContext)
	if !ok {
		return "", errNoValue
	}
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if len(dest) != 1 {
		return "", errNoValue
	}
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return "", errNoValue
		}
		return "", err
	}
	switch v := dest[0].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	}
	return "", errNoValue
}
