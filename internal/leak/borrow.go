package leak

import (
	"sync"
	"sync/atomic"
	"time"
)

// Borrow follows one resource (for sqlpool, one physical connection) through
// its successive borrows. The holder calls Begin when it takes the resource
// and End when it gives it back, and in between says what it opens; the
// Detector it is tracked by reads it from its scan. A Borrow must be tracked
// (Detector.Track) before Begin. Its methods are for one holder at a time,
// concurrently with the Detector; the zero value is ready to track. Every
// method of a Borrow that is not tracked does nothing, so a holder need not
// ask whether leak detection is on: Enter reports true and Reclaimed false.
type Borrow struct {
	d       *Detector
	id      uint64 // set by Track: numbers the detector's resources from 1
	reclaim func() // set by Track: takes the resource back from its holder

	// state guards the resource against reclaim while its holder uses it;
	// used only when the Detector reclaims.
	state atomic.Uint32

	mu sync.Mutex
	// Guarded by mu.
	seq       uint64    // counts borrows; identifies one in reports
	since     time.Time // when the current borrow began; zero while not borrowed
	acquired  Stack     // where the current borrow began
	rowsAt    Stack     // where the last rows still open were opened
	txAt      Stack     // where the open transaction began
	rows      int       // rows open
	tx        bool      // a transaction is open
	statement string    // the last statement, raw: sanitized only when reported
	reported  bool      // the current borrow was reported as a leak
	reclaimed bool      // the current borrow's resource was reclaimed

	idx int // position in d.borrows while tracked; guarded by d.mu
}

const (
	stateBusy      = 1 << iota // the holder is inside a call on the resource
	stateReclaimed             // the Detector took the resource back
)

// ID returns the number Track gave b, which reports show as Conn: the
// Detector numbers its resources from 1. It is 0 before Track.
func (b *Borrow) ID() uint64 { return b.id }

// Begin starts a borrow that began at at, taken at the stack acquired (which
// is copied). The Detector reports it once it is older than the threshold.
func (b *Borrow) Begin(at time.Time, acquired *Stack) {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	b.seq++
	b.since = at
	b.acquired = *acquired
	b.rows, b.tx = 0, false
	b.statement = ""
	b.reported, b.reclaimed = false, false
	b.mu.Unlock()
}

// End ends the current borrow. If it had been reported as a leak, End logs
// that it came back and after how long: the line that closes a report.
func (b *Borrow) End() {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	if b.since.IsZero() {
		b.mu.Unlock()
		return
	}
	var back *returned
	if b.reported {
		back = &returned{id: b.id, seq: b.seq, heldFor: b.d.now().Sub(b.since), acquired: b.acquired, reclaimed: b.reclaimed}
	}
	b.since = time.Time{}
	b.rows, b.tx = 0, false
	b.statement = ""
	b.mu.Unlock()
	if back != nil {
		b.d.logReturned(back)
	}
}

// Rows records that statement opened rows, at stack at (copied).
func (b *Borrow) Rows(at *Stack, statement string) {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	b.rows++
	b.rowsAt = *at
	b.statement = statement
	b.mu.Unlock()
}

// RowsClosed records that rows opened by Rows were closed.
func (b *Borrow) RowsClosed() {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	if b.rows > 0 {
		b.rows--
	}
	b.mu.Unlock()
}

// Tx records that a transaction began at stack at (copied).
func (b *Borrow) Tx(at *Stack) {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	b.tx = true
	b.txAt = *at
	b.mu.Unlock()
}

// TxDone records that the transaction ended.
func (b *Borrow) TxDone() {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	b.tx = false
	b.mu.Unlock()
}

// Statement records the last statement run, for reports. The text is kept
// as it is and sanitized only if the borrow is reported.
func (b *Borrow) Statement(statement string) {
	if b.d == nil {
		return
	}
	b.mu.Lock()
	b.statement = statement
	b.mu.Unlock()
}

// Enter marks the holder as inside a call on the resource, so the Detector
// does not reclaim it meanwhile, and reports false if it has been reclaimed:
// the holder must then not touch the resource. Every Enter that returns true
// must be followed by Exit. Without reclaim it only reports true.
func (b *Borrow) Enter() bool {
	if b.d == nil || !b.d.cfg.Reclaim {
		return true
	}
	return b.state.CompareAndSwap(0, stateBusy)
}

// Exit ends what Enter began.
func (b *Borrow) Exit() {
	if b.d != nil && b.d.cfg.Reclaim {
		b.state.Store(0)
	}
}

// Reclaimed reports whether the Detector took the resource back from the
// current borrow.
func (b *Borrow) Reclaimed() bool { return b.state.Load()&stateReclaimed != 0 }

// open describes what the current borrow holds open. Call with b.mu held.
func (b *Borrow) openLocked() string {
	switch {
	case b.tx && b.rows > 0:
		return "tx+rows"
	case b.tx:
		return "tx"
	case b.rows > 0:
		return "rows"
	}
	return "conn"
}

// snapshot is a copy of a borrow's state, taken under its lock and turned
// into a Report (symbolized, sanitized) outside it.
type snapshot struct {
	id, seq   uint64
	since     time.Time
	open      string
	statement string
	reclaimed bool
	acquired  Stack
	rowsAt    *Stack // nil: no rows open
	txAt      *Stack // nil: no transaction open
	rows, tx  Stack  // storage for rowsAt and txAt
}

// snapshotLocked copies the current borrow into s. Call with b.mu held.
func (b *Borrow) snapshotLocked(s *snapshot) {
	s.id, s.seq, s.since, s.open = b.id, b.seq, b.since, b.openLocked()
	s.statement, s.reclaimed = b.statement, b.reclaimed
	s.acquired = b.acquired
	s.rowsAt, s.txAt = nil, nil
	if b.rows > 0 {
		s.rows = b.rowsAt
		s.rowsAt = &s.rows
	}
	if b.tx {
		s.tx = b.txAt
		s.txAt = &s.tx
	}
}
