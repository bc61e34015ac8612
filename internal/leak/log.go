package leak

import (
	"log/slog"
	"time"

	"github.com/sqlpool/sqlpool/leakdetect"
)

// The messages of the two log lines, for those who grep.
const (
	leakMessage     = "sqlpool: connection held longer than the leak threshold"
	returnedMessage = "sqlpool: leaked connection returned"
)

// attrs returns the report as log attributes.
func attrs(r leakdetect.Report) []slog.Attr {
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

func frameStrings(fs []leakdetect.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}
