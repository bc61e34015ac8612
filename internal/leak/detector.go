// Package leak finds resources borrowed from a pool and not given
// back: it records, cheaply, where each borrow began and what it opened, and
// one background scan reports the borrows held longer than a threshold,
// with the stack of the code that took them.
//
// Recording a borrow captures program counters only (runtime.Callers into a
// fixed array, no allocation); stacks are symbolized only for a report or a
// listing.
package leak

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlpool/sqlpool/leakdetect"
)

// Config configures a Detector.
type Config struct {
	// Threshold is how long a borrow may last before it is reported. It must
	// be > 0.
	Threshold time.Duration

	// Pool names the pool in reports.
	Pool string

	// Logger receives a warning per leak and an info line when a reported
	// borrow ends. nil means slog.Default() at the time of the report.
	Logger *slog.Logger

	// OnLeak, if set, receives each report too. It runs on the scanning
	// goroutine: it should return quickly.
	OnLeak func(leakdetect.Report)

	// Reclaim takes the resource back from a borrow once it is reported (the
	// function given to Track), unless its holder is inside a call on it
	// (Borrow.Enter); then it is tried again at the next scan.
	Reclaim bool

	// Sanitize makes a statement safe to report (literals out, length
	// bounded). nil means statements are left out of reports.
	Sanitize func(string) string

	// Libraries are function-name prefixes ("database/sql.") of the code
	// between the application and the borrow: a report's AcquiredAt is the
	// first frame outside them.
	Libraries []string

	// ScanPeriod is how often borrows are scanned. 0 means a quarter of the
	// threshold, between 1ms and 1s: a leak is reported at most that long
	// after it crosses the threshold.
	ScanPeriod time.Duration
}

// Detector watches the borrows of one pool. Its one goroutine scans them
// periodically; there is no timer per borrow.
type Detector struct {
	cfg  Config
	now  func() time.Time // the clock; tests may replace it
	done chan struct{}    // closed by Close
	wg   sync.WaitGroup

	ids       atomic.Uint64 // numbers tracked resources
	leaks     atomic.Int64  // borrows reported
	reclaimed atomic.Int64  // borrows whose resource was reclaimed

	mu      sync.Mutex
	borrows []*Borrow // tracked; guarded by mu
	closed  bool      // guarded by mu

	scanMu  sync.Mutex // serializes scans
	scratch []*Borrow  // guarded by scanMu
	snap    snapshot   // guarded by scanMu
}

// New returns a Detector and starts its scan. Close stops it.
func New(cfg Config) (*Detector, error) {
	if cfg.Threshold <= 0 {
		return nil, errors.New("leakdetect: Threshold must be > 0")
	}
	if cfg.ScanPeriod <= 0 {
		cfg.ScanPeriod = min(max(cfg.Threshold/4, time.Millisecond), time.Second)
	}
	d := &Detector{cfg: cfg, now: time.Now, done: make(chan struct{})}
	d.wg.Add(1)
	go d.loop()
	return d, nil
}

// Threshold returns the configured threshold.
func (d *Detector) Threshold() time.Duration {
	if d == nil {
		return 0
	}
	return d.cfg.Threshold
}

// Close stops the scan and waits for it to finish. It is idempotent.
// Tracked borrows stay readable; nothing is reported any more.
//
// A nil *Detector is leak detection turned off: Close, Track, Untrack,
// Leaks, Held, Suspects and Current do nothing, or report nothing.
func (d *Detector) Close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	close(d.done)
	d.mu.Unlock()
	d.wg.Wait()
}

// Track starts watching b, the resource numbered id (reports show it as
// Conn). reclaim, used only with Config.Reclaim, takes the
// resource back from the holder of a leaked borrow: for a pool, destroys it
// and frees its slot. It is called without any lock held, at most once per
// borrow, and only while the holder is outside Enter/Exit.
func (d *Detector) Track(b *Borrow, id uint64, reclaim func()) {
	if d == nil {
		return
	}
	b.d, b.reclaim, b.id = d, reclaim, id
	d.mu.Lock()
	b.idx = len(d.borrows)
	d.borrows = append(d.borrows, b)
	d.mu.Unlock()
}

// Untrack stops watching b, when its resource is gone for good.
func (d *Detector) Untrack(b *Borrow) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := b.idx
	if i < 0 || i >= len(d.borrows) || d.borrows[i] != b {
		return
	}
	last := len(d.borrows) - 1
	d.borrows[i] = d.borrows[last]
	d.borrows[i].idx = i
	d.borrows[last] = nil
	d.borrows = d.borrows[:last]
	b.idx = -1
}

// Tracked returns how many borrows are tracked: one per resource of the
// pool, borrowed or not.
func (d *Detector) Tracked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.borrows)
}

// Leaks returns how many borrows have been reported as leaks.
func (d *Detector) Leaks() int64 {
	if d == nil {
		return 0
	}
	return d.leaks.Load()
}

// ReclaimedCount returns how many leaked borrows had their resource reclaimed.
func (d *Detector) ReclaimedCount() int64 { return d.reclaimed.Load() }

func (d *Detector) loop() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.ScanPeriod)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
			d.Scan()
		}
	}
}

// Scan reports, once each, the borrows held longer than the threshold, and
// reclaims them if so configured. The background scan calls it; it may also
// be called directly.
func (d *Detector) Scan() {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	d.mu.Lock()
	bs := append(d.scratch[:0], d.borrows...)
	d.mu.Unlock()
	for _, b := range bs {
		d.scanOne(b)
	}
	clear(bs)
	d.scratch = bs[:0]
}

func (d *Detector) scanOne(b *Borrow) {
	now := d.now()
	b.mu.Lock()
	if b.since.IsZero() || now.Sub(b.since) < d.cfg.Threshold {
		b.mu.Unlock()
		return
	}
	report := !b.reported
	if report {
		b.reported = true
		b.snapshotLocked(&d.snap)
	}
	// The holder cannot end the borrow while b.mu is held, and cannot Enter
	// once the state is reclaimed: so the resource reclaimed is this
	// borrow's, and its holder is not using it.
	reclaim := d.cfg.Reclaim && !b.reclaimed && b.state.CompareAndSwap(0, stateReclaimed)
	if reclaim {
		b.reclaimed = true
		d.snap.reclaimed = true
	}
	b.mu.Unlock()
	if report {
		d.leaks.Add(1)
		d.emit(d.report(&d.snap, now))
	}
	if reclaim {
		d.reclaimed.Add(1)
		b.reclaim()
	}
}

// Suspects returns the borrows held longer than the threshold now, oldest
// first, whether reported yet or not.
func (d *Detector) Suspects() []leakdetect.Report {
	if d == nil {
		return nil
	}
	return d.Held(d.cfg.Threshold)
}

// Held returns the borrows held for at least min now, oldest first: with 0,
// every borrow in progress.
func (d *Detector) Held(min time.Duration) []leakdetect.Report {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	bs := slices.Clone(d.borrows)
	d.mu.Unlock()
	now := d.now()
	var out []leakdetect.Report
	var s snapshot
	for _, b := range bs {
		b.mu.Lock()
		if b.since.IsZero() || now.Sub(b.since) < min {
			b.mu.Unlock()
			continue
		}
		b.snapshotLocked(&s)
		b.mu.Unlock()
		out = append(out, d.report(&s, now))
	}
	slices.SortFunc(out, func(a, b leakdetect.Report) int { return a.Since.Compare(b.Since) })
	return out
}

// Current returns b's borrow in progress as a report (HeldFor as of now,
// Statement sanitized, stacks symbolized), and false if b is not borrowed.
// b must be tracked by d.
func (d *Detector) Current(b *Borrow) (leakdetect.Report, bool) {
	if d == nil {
		return leakdetect.Report{}, false
	}
	var s snapshot
	b.mu.Lock()
	if b.since.IsZero() {
		b.mu.Unlock()
		return leakdetect.Report{}, false
	}
	b.snapshotLocked(&s)
	b.mu.Unlock()
	return d.report(&s, d.now()), true
}

func (d *Detector) logger() *slog.Logger {
	if d.cfg.Logger != nil {
		return d.cfg.Logger
	}
	return slog.Default()
}

func (d *Detector) emit(r leakdetect.Report) {
	d.logger().LogAttrs(context.Background(), slog.LevelWarn, leakMessage, attrs(r)...)
	if d.cfg.OnLeak != nil {
		d.cfg.OnLeak(r)
	}
}

// returned is what End keeps of a reported borrow for its closing line.
type returned struct {
	id, seq   uint64
	heldFor   time.Duration
	acquired  Stack
	reclaimed bool
}

func (d *Detector) logReturned(r *returned) {
	_, at := d.symbolize(&r.acquired)
	attrs := []slog.Attr{
		slog.String("pool", d.cfg.Pool),
		slog.Uint64("conn", r.id),
		slog.Uint64("borrow", r.seq),
		slog.Duration("held_for", r.heldFor.Round(time.Millisecond)),
		slog.String("acquired_at", at),
	}
	if r.reclaimed {
		attrs = append(attrs, slog.Bool("reclaimed", true))
	}
	d.logger().LogAttrs(context.Background(), slog.LevelInfo, returnedMessage, attrs...)
}

// symbolize returns s's frames and the location of the first one outside
// the libraries.
func (d *Detector) symbolize(s *Stack) ([]leakdetect.Frame, string) {
	frames := s.Frames()
	if i := Origin(frames, d.cfg.Libraries); i >= 0 {
		return frames, frames[i].Location()
	}
	return frames, ""
}

func (d *Detector) report(s *snapshot, now time.Time) leakdetect.Report {
	r := leakdetect.Report{
		Pool:      d.cfg.Pool,
		Conn:      s.id,
		Borrow:    s.seq,
		Since:     s.since,
		HeldFor:   now.Sub(s.since),
		Open:      s.open,
		Reclaimed: s.reclaimed,
	}
	if s.statement != "" && d.cfg.Sanitize != nil {
		r.Statement = d.cfg.Sanitize(s.statement)
	}
	r.Stack, r.AcquiredAt = d.symbolize(&s.acquired)
	if s.rowsAt != nil {
		r.RowsStack, r.RowsAt = d.symbolize(s.rowsAt)
	}
	if s.txAt != nil {
		r.TxStack, r.TxAt = d.symbolize(s.txAt)
	}
	return r
}
