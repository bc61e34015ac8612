// Package leakdetect holds what sqlpool's leak detection reports: a
// connection the application took and has held longer than
// pool_leak_threshold, with the stack of the code that took it, what it
// has open (rows, a transaction) and its last statement, literals
// replaced by "?". sqlpool logs each report with slog, passes it to the
// function given with sqlpool.WithOnLeak, and lists the reports of the
// connections held now in a Snapshot's Conns.
package leakdetect

import (
	"time"
)

// Report describes one connection (a borrow of it) held longer than the
// threshold, or, in a Snapshot, one held now.
type Report struct {
	Pool      string        `json:"pool"`
	Conn      uint64        `json:"conn"`     // numbers the pool's resources (physical connections) from 1
	Borrow    uint64        `json:"borrow"`   // counts the resource's borrows; with Conn, the "returned" log line repeats it
	Since     time.Time     `json:"since"`    // when the borrow began
	HeldFor   time.Duration `json:"held_for"` // as of the report
	Open      string        `json:"open"`     // "rows", "tx", "tx+rows", or "conn" (neither)
	Statement string        `json:"statement,omitempty"`
	Reclaimed bool          `json:"reclaimed,omitempty"` // the resource was taken back from the holder

	// AcquiredAt is "file:line" of the first frame of Stack outside the
	// configured libraries: the application's line that took the resource.
	AcquiredAt string  `json:"acquired_at"`
	Stack      []Frame `json:"stack"`

	// RowsAt and RowsStack say where the rows still open were opened (the
	// latest, if several); TxAt and TxStack where the open transaction
	// began. Empty when none is open.
	RowsAt    string  `json:"rows_at,omitempty"`
	RowsStack []Frame `json:"rows_stack,omitempty"`
	TxAt      string  `json:"tx_at,omitempty"`
	TxStack   []Frame `json:"tx_stack,omitempty"`
}
