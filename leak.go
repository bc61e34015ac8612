package sqlpool

import (
	"cmp"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sqlpool/sqlpool/internal/leak"
	"github.com/sqlpool/sqlpool/internal/sqltext"
)

// The glue between the logical connection and leak detection: where a
// hand-out's stack is captured, what a report says, and the reclaiming of a
// leaked connection.

// libraryFrames are the packages between an application and a borrow: a
// leak report's acquired_at is the first frame outside them. They are
// named one by one: code of this module that is an application of sqlpool
// (cmd/sqlpool, examples) must not count as library.
var libraryFrames = []string{
	"database/sql.",
	"github.com/sqlpool/sqlpool.",
	"github.com/sqlpool/sqlpool/pool.",
	"github.com/sqlpool/sqlpool/leakdetect.",
	"github.com/sqlpool/sqlpool/internal/",
}

// reportedQueryLen bounds a statement in a leak report.
const reportedQueryLen = 512

// newDetector starts a pool's leak detection; nil when it is off.
func newDetector(cfg *config, pool string, kind driverKind) (*leak.Detector, error) {
	if cfg.leakThreshold <= 0 {
		return nil, nil
	}
	opts := sqltext.Options{DoubleQuotedStrings: kind.doubleQuotedStrings(), MaxLen: reportedQueryLen}
	d, err := leak.New(leak.Config{
		Threshold: cfg.leakThreshold,
		Pool:      pool,
		Logger:    cfg.logger,
		OnLeak:    cfg.onLeak,
		Reclaim:   cfg.leakReclaim,
		Sanitize:  func(q string) string { return sqltext.Sanitize(q, opts) },
		Libraries: libraryFrames,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlpool: %w", err)
	}
	return d, nil
}

// connLeak is a logical connection's part in leak detection: where its
// hand-out and its operations began. While the pool's detection is off (d
// nil) its methods do nothing and capture nothing, so callers need not ask
// (the physical connection's leak.Borrow is a no-op then too).
type connLeak struct {
	d       *leak.Detector // the pool's; nil: leak detection is off
	stack   leak.Stack     // a stack of the current hand-out; handout says which
	handout uint8          // handoutNone, handoutOp, …
	guarded bool           // leaked connections may be reclaimed: calls into the binding are bracketed by enter and exit
	entered bool           // between enter and exit
}

// on reports whether leak detection is on.
func (l *connLeak) on() bool { return l.d != nil }

// The kinds of stack a connLeak holds.
const (
	handoutNone = iota // the stack is not this hand-out's
	handoutOp          // the stack of the operation database/sql took the connection for, not yet used
	handoutConn        // where DB.Conn handed the connection out; operations capture their own
	handoutUsed        // the stack was used by the operation
)

// handedOut captures where database/sql hands the connection out (it calls
// Connect or ResetSession from DB.conn, on the application's goroutine). For
// DB.Query, DB.Exec or DB.Begin the stack is also the operation's, which
// then need not capture its own; for DB.Conn it is the line that took the
// connection, which the leak report names.
//
// Not inlined, so the frames it skips are known (see leak.Stack.Capture).
//
//go:noinline
func (l *connLeak) handedOut() {
	if l.d == nil {
		return
	}
	l.stack.Capture(2) // from ResetSession's or Connect's caller
	l.handout = classifyHandout(l.stack.PCs())
}

// opStack returns the stack of the current operation: the hand-out's, if
// database/sql handed the connection out for this operation, else one
// captured now (skip frames above the caller); nil while off.
//
// Not inlined, so the frames it skips are known (see leak.Stack.Capture).
//
//go:noinline
func (l *connLeak) opStack(skip int) *leak.Stack {
	if l.d == nil {
		return nil
	}
	if l.handout == handoutOp {
		l.handout = handoutUsed
		return &l.stack
	}
	l.stack.Capture(skip + 2)
	l.handout = handoutUsed
	return &l.stack
}

// acquireStack returns the stack of where the connection was taken, for the
// borrow that begins now.
//
// Not inlined, so the frames it skips are known (see leak.Stack.Capture).
//
//go:noinline
func (l *connLeak) acquireStack() *leak.Stack {
	if l.d == nil {
		return nil
	}
	if l.handout == handoutNone || l.handout == handoutUsed {
		// No hand-out seen (database/sql gave a connection opened in the
		// background straight to a waiter), or an operation after it: the
		// current one took the connection.
		l.stack.Capture(2) // from bind's caller
		l.handout = handoutOp
	}
	return &l.stack
}

// enter brackets a call into the physical connection of b when leaked
// connections may be reclaimed, so one is never closed mid-call. It reports
// false if the connection was reclaimed.
func (l *connLeak) enter(b *leak.Borrow) bool {
	if !l.guarded || l.entered {
		return true
	}
	if !b.Enter() {
		return false
	}
	l.entered = true
	return true
}

// exit ends what enter began.
func (l *connLeak) exit(b *leak.Borrow) {
	if l.entered {
		l.entered = false
		b.Exit()
	}
}

// Frame classes for classifyHandout.
const (
	frameOther  = iota + 1
	frameDBconn // database/sql.(*DB).conn: takes a connection for a DB method
	frameDBConn // database/sql.(*DB).Conn: the application takes a sql.Conn
)

// frameClasses caches the class of program counters seen at hand-outs (a
// few call sites in database/sql), so classifying costs no symbol lookup:
// each entry is pc<<2 | class, in a slot chosen by the pc.
var frameClasses [256]atomic.Uint64

// classifyHandout says from the stack at Connect or ResetSession whether
// database/sql takes the connection for one of its own methods (handoutOp)
// or for DB.Conn (handoutConn), or not for an application's call at all
// (handoutNone: the background opener).
func classifyHandout(pcs []uintptr) uint8 {
	for i, pc := range pcs[:min(len(pcs), 6)] {
		if frameClass(pc) != frameDBconn {
			continue
		}
		if i+1 < len(pcs) && frameClass(pcs[i+1]) == frameDBConn {
			return handoutConn
		}
		return handoutOp
	}
	return handoutNone
}

func frameClass(pc uintptr) uint8 {
	slot := &frameClasses[(pc^pc>>8)%uintptr(len(frameClasses))]
	if e := slot.Load(); e>>2 == uint64(pc) && e&3 != 0 {
		return uint8(e & 3)
	}
	class := uint8(frameOther)
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	switch {
	case f.Function == "database/sql.(*DB).conn":
		class = frameDBconn
	case strings.HasPrefix(f.Function, "database/sql.(*DB).Conn"):
		class = frameDBConn
	}
	slot.Store(uint64(pc)<<2 | uint64(class))
	return class
}

// maxHolderLines bounds the lines an acquire-timeout error names.
const maxHolderLines = 5

// withHolders adds to err, an acquire timeout, who holds the pool's
// connections, from leak detection: the holds grouped by the line of the
// application that took them, most connections first, "held: 3 by
// orders.go:88 (longest 1m50s), 1 by report.go:40 (12s)". Only file names
// and lines: no statement, no argument. Without leak detection (d nil) err
// is returned as it is.
func withHolders(d *leak.Detector, err error) error {
	type holder struct {
		at      string
		n       int
		longest time.Duration
	}
	var hs []holder
	for _, r := range d.Held(0) {
		at := "an unknown line"
		if r.AcquiredAt != "" {
			at = filepath.Base(r.AcquiredAt)
		}
		i := slices.IndexFunc(hs, func(h holder) bool { return h.at == at })
		if i < 0 {
			hs = append(hs, holder{at: at})
			i = len(hs) - 1
		}
		hs[i].n++
		hs[i].longest = max(hs[i].longest, r.HeldFor)
	}
	if len(hs) == 0 {
		return err
	}
	slices.SortStableFunc(hs, func(a, b holder) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(b.longest, a.longest))
	})
	var b strings.Builder
	b.WriteString("held: ")
	for i, h := range hs {
		if i == maxHolderLines {
			rest := 0
			for _, h := range hs[i:] {
				rest += h.n
			}
			fmt.Fprintf(&b, ", %d more by %d other lines", rest, len(hs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		longest := h.longest.Round(time.Millisecond)
		if h.n > 1 {
			fmt.Fprintf(&b, "%d by %s (longest %v)", h.n, h.at, longest)
		} else {
			fmt.Fprintf(&b, "1 by %s (%v)", h.at, longest)
		}
	}
	return fmt.Errorf("%w; %s", err, b.String())
}
