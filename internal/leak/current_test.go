package leak

import (
	"strings"
	"testing"
	"time"
)

func TestCurrentReportsTheBorrowInProgressOfOneResourceUnderTheIDItWasGiven(t *testing.T) {
	d, clock, logs := newTestDetector(t, Config{
		Threshold: time.Minute,
		Sanitize:  func(q string) string { return strings.ReplaceAll(q, "'secret'", "?") },
	})
	var a, b Borrow
	if a.ID() != 0 {
		t.Errorf("ID before Track: got %d, want 0", a.ID())
	}
	d.Track(&a, 1, nil)
	d.Track(&b, 2, nil)
	if a.ID() != 1 || b.ID() != 2 {
		t.Errorf("IDs: got %d and %d, want 1 and 2", a.ID(), b.ID())
	}

	if r, ok := d.Current(&a); ok {
		t.Errorf("Current of a resource not borrowed: got %+v, true; want false", r)
	}
	acquired, at := captureAt()
	a.Begin(clock.Now(), acquired)
	a.Statement("SELECT 'secret'")
	clock.Advance(90 * time.Second)

	r, ok := d.Current(&a)
	if !ok {
		t.Fatal("Current of a borrowed resource: got false, want true")
	}
	if r.Conn != 1 || r.Borrow != 1 || r.HeldFor != 90*time.Second || r.Open != "conn" || r.AcquiredAt != at || len(r.Stack) == 0 {
		t.Errorf("Current: got %+v, want conn 1, borrow 1, held 1m30s, open conn, acquired at %s, with its stack", r, at)
	}
	if r.Statement != "SELECT ?" {
		t.Errorf("Current: got statement %q, want it sanitized: %q", r.Statement, "SELECT ?")
	}
	// Reading is not reporting: no log line, no leak counted.
	if d.Leaks() != 0 || logs.String() != "" {
		t.Errorf("Current reported the borrow: %d leaks, log %q", d.Leaks(), logs.String())
	}
	if _, ok := d.Current(&b); ok {
		t.Error("Current of the other resource, never borrowed: got true, want false")
	}

	a.End()
	if _, ok := d.Current(&a); ok {
		t.Error("Current after End: got true, want false")
	}
}
