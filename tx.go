package sqlpool

import (
	"context"
	"database/sql/driver"

	"github.com/sqlpool/sqlpool/internal/tracing"
)

var _ driver.Tx = (*tx)(nil)

// tx is a transaction on a logical connection's bound physical connection.
// While it is open the physical connection is never given back to the pool
// as reusable: if database/sql takes the connection back before Commit or
// Rollback returns, the physical connection is destroyed.
type tx struct {
	c     *conn
	inner driver.Tx
	ctx   context.Context // BeginTx's
}

// Commit forwards to the inner transaction.
func (t *tx) Commit() error {
	ctx, sp := t.c.tel.start(t.ctx, tracing.OpCommit, "", 0)
	if !t.c.enter() {
		sp.End(ctx, ErrReclaimed)
		return ErrReclaimed
	}
	defer t.c.exit()
	err := t.inner.Commit()
	t.end()
	err = t.c.noteErr(context.Background(), err)
	sp.End(ctx, err)
	return err
}

// Rollback forwards to the inner transaction.
func (t *tx) Rollback() error {
	ctx, sp := t.c.tel.start(context.WithoutCancel(t.ctx), tracing.OpRollback, "", 0)
	if !t.c.enter() {
		sp.End(ctx, ErrReclaimed)
		return ErrReclaimed
	}
	defer t.c.exit()
	err := t.inner.Rollback()
	t.end()
	if t.ctx.Err() != nil && !keepsConnOnRollback(t.c.pc.inner) {
		// database/sql rolls back a transaction whose context ended and then
		// discards the connection, unless the driver can reset and validate
		// it. The logical connection can, so database/sql keeps it; the
		// physical one is treated as the inner driver would be.
		t.c.broken = true
	}
	err = t.c.noteErr(context.Background(), err)
	sp.End(ctx, err)
	return err
}

// end records that the transaction ended.
func (t *tx) end() {
	t.c.inTx = false
	t.c.pc.borrow.TxDone()
}

// keepsConnOnRollback is database/sql's test (sql.go, DB.beginDC) for
// keeping a connection after the rollback of a cancelled transaction.
func keepsConnOnRollback(ci driver.Conn) bool {
	_, resetter := ci.(driver.SessionResetter)
	_, validator := ci.(driver.Validator)
	return resetter && validator
}
