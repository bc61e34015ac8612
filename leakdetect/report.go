package leakdetect

import (
	"log/slog"
	"time"
)

// The messages of the two log lines, for those who grep.
const (
	leakMessage     = "sqlpool: connection held longer than the leak threshold"
	returnedMessage = "sqlpool: leaked connection returned"
)

// Report describes one borrow held longer than the threshold.
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

// attrs returns the report as log attributes.
func (r Report) attrs() []slog.Attr {
	a := []slog.Attr{
		slog.String("pool", r.Pool),
		slog.Uint64("conn", r.Conn),
		slog.Uint64("borrow", r.Borrow),
		slog.Duration("held_for", r.HeldFor.Round(time.Millisecond)),
		slog.String("open", r.Open),
		slog.String("acquired_at", r.AcquiredAt),
	}
	if r.TxAt != "" {
		a = append(a, slog.String("tx_at", r.TxAt))
	}
	if r.RowsAt != "" {
		a = append(a, slog.String("rows_at", r.RowsAt))
	}
	if r.Statement != "" {
		a = append(a, slog.String("statement", r.Statement))
	}
	if r.Reclaimed {
		a = append(a, slog.Bool("reclaimed", true))
	}
	a = append(a, slog.Any("stack", frameStrings(r.Stack)))
	return a
}

func frameStrings(fs []Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}
