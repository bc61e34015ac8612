package sqlpool

import (
	"context"
	"database/sql/driver"
)

var _ driver.Tx = (*tx)(nil)

// tx is a transaction on a logical connection's bound physical connection.
// While it is open the physical connection is never given back to the pool
// as reusable: if database/sql takes the connection back before Commit or
// Rollback returns, the physical connection is destroyed.
type tx struct {
	c     *conn
	inner driver.Tx
}

// Commit forwards to the inner transaction.
func (t *tx) Commit() error {
	err := t.inner.Commit()
	t.c.inTx = false
	return t.c.noteErr(context.Background(), err)
}

// Rollback forwards to the inner transaction.
func (t *tx) Rollback() error {
	err := t.inner.Rollback()
	t.c.inTx = false
	return t.c.noteErr(context.Background(), err)
}
