package leak

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/leakdetect"
)

// fakeClock is a settable clock for the detector.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestDetector returns a detector on a fake clock that never scans by
// itself (tests call Scan), logging to the returned buffer.
func newTestDetector(t *testing.T, cfg Config) (*Detector, *fakeClock, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Threshold == 0 {
		cfg.Threshold = time.Minute
	}
	cfg.ScanPeriod = time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if cfg.Pool == "" {
		cfg.Pool = "test"
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	d.now = clock.Now
	return d, clock, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// textAttrs parses the one line of slog.TextHandler output in line into its
// keys and values, unquoted.
func textAttrs(t *testing.T, line string) map[string]string {
	t.Helper()
	attrs := map[string]string{}
	rest := strings.TrimSuffix(line, "\n")
	for rest != "" {
		key, value, ok := strings.Cut(rest, "=")
		if !ok || strings.ContainsAny(key, " \n") {
			t.Fatalf("not one line of key=value pairs: %q", line)
		}
		rest = value
		if strings.HasPrefix(value, `"`) {
			quoted, err := strconv.QuotedPrefix(value)
			if err != nil {
				t.Fatalf("value of %s in %q: %v", key, line, err)
			}
			rest = value[len(quoted):]
			value, _ = strconv.Unquote(quoted)
		} else {
			value, rest, _ = strings.Cut(value, " ")
		}
		attrs[key] = value
		rest = strings.TrimPrefix(rest, " ")
	}
	return attrs
}

// here returns "file:line" of its caller.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return file + ":" + strconv.Itoa(line)
}

// capture returns the stack of its caller, starting at the line that calls
// it. It and captureAt are not inlined, so they are two frames to skip
// however the stack is walked.
//
//go:noinline
func capture() *Stack {
	s, _ := captureAt()
	return s
}

// captureAt is capture, also returning "file:line" of the call.
//
//go:noinline
func captureAt() (*Stack, string) {
	var s Stack
	s.Capture(2)
	_, file, line, _ := runtime.Caller(2)
	return &s, file + ":" + strconv.Itoa(line)
}

func TestStackCaptureSkipsFramesAndOriginSkipsLibraries(t *testing.T) {
	var s Stack
	s.Capture(0)
	at := here()
	frames := s.Frames()
	if len(frames) < 2 {
		t.Fatalf("frames = %v", frames)
	}
	// With skip 0 the first frame is the function calling Capture.
	if got := frames[0].Function; !strings.HasSuffix(got, ".TestStackCaptureSkipsFramesAndOriginSkipsLibraries") {
		t.Errorf("first frame = %s, want the test function", got)
	}
	if got, want := frames[0].Line+1, lineOf(t, at); got != want {
		t.Errorf("first frame at line %d, want %d", frames[0].Line, want-1)
	}
	// With this package as a library, its _test.go frames still count as
	// the application's.
	if i := Origin(frames, []string{"github.com/sqlpool/sqlpool/leakdetect."}); i != 0 {
		t.Errorf("Origin = %d, want 0 (frames %v)", i, frames)
	}
	// captureAt skips itself and capture: its first frame is this line.
	s2, at2 := capture(), here()
	if got := s2.Frames()[0].Location(); got != at2 {
		t.Errorf("capture() starts at %s, want %s", got, at2)
	}
}

// deep calls f at the bottom of n more frames, some inlined, some not.
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	if n%2 == 0 {
		deepInlined(n-1, f)
		return
	}
	deep(n-1, f)
}

func deepInlined(n int, f func()) { deep(n, f) }

func TestFramePointerStackSymbolizesAsRuntimeCallersDoes(t *testing.T) {
	if !haveFP {
		t.Skip("no frame-pointer unwinding on " + runtime.GOARCH)
	}
	for _, depth := range []int{0, 5, 20, 60} {
		var fp, rc Stack
		deep(depth, func() {
			fp.Capture(0)
			useFP = false
			rc.Capture(0)
			useFP = true
		})
		got, want := fp.Frames(), rc.Frames()
		// The captures are on different lines; the rest must be equal.
		if len(got) == 0 || len(want) == 0 || got[0].Function != want[0].Function {
			t.Fatalf("depth %d: first frames %v and %v", depth, got, want)
		}
		got, want = got[1:], want[1:]
		n := min(len(got), len(want))
		if n < min(depth, MaxDepth-2) {
			t.Fatalf("depth %d: %d frames by frame pointers, %d by runtime.Callers", depth, len(got), len(want))
		}
		for i := range n {
			if got[i] != want[i] {
				t.Fatalf("depth %d, frame %d: frame pointers give %v, runtime.Callers %v", depth, i+1, got[i], want[i])
			}
		}
	}
}

func BenchmarkCapture(b *testing.B) {
	for _, fp := range []bool{true, false} {
		for _, depth := range []int{10, 30} {
			b.Run(fmt.Sprintf("fp=%v/depth=%d", fp, depth), func(b *testing.B) {
				if fp && !haveFP {
					b.Skip("no frame pointers")
				}
				useFP = fp
				defer func() { useFP = true }()
				var s Stack
				deep(depth, func() {
					for b.Loop() {
						s.Capture(0)
					}
				})
			})
		}
	}
}

func lineOf(t *testing.T, loc string) int {
	t.Helper()
	n, err := strconv.Atoi(loc[strings.LastIndexByte(loc, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOriginIsFirstFrameOutsideLibrariesAndRuntime(t *testing.T) {
	frames := []leakdetect.Frame{
		{Function: "runtime.goexit", File: "/go/src/runtime/asm.s", Line: 1},
		{Function: "github.com/sqlpool/sqlpool.(*conn).bind", File: "/src/conn.go", Line: 10},
		{Function: "database/sql.(*DB).query", File: "/go/src/database/sql/sql.go", Line: 20},
		{Function: "github.com/sqlpool/sqlpool_test.TestX", File: "/src/x_test.go", Line: 30},
		{Function: "main.main", File: "/app/main.go", Line: 40},
	}
	libs := []string{"database/sql.", "github.com/sqlpool/sqlpool."}
	if got := Origin(frames, libs); got != 3 {
		t.Errorf("Origin = %d, want 3", got)
	}
	if got := Origin(frames[:3], libs); got != -1 {
		t.Errorf("Origin of library frames only = %d, want -1", got)
	}
	// A library's own tests are callers, not library code.
	inPkgTest := []leakdetect.Frame{{Function: "github.com/sqlpool/sqlpool.TestY", File: "/src/y_test.go", Line: 5}}
	if got := Origin(inPkgTest, libs); got != 0 {
		t.Errorf("Origin of an in-package test frame = %d, want 0", got)
	}
}

func TestScanReportsABorrowOnceAfterTheThresholdWithItsStackAndStatement(t *testing.T) {
	var reports []leakdetect.Report
	d, clock, logs := newTestDetector(t, Config{
		Threshold: time.Minute,
		Pool:      "orders",
		OnLeak:    func(r leakdetect.Report) { reports = append(reports, r) },
		Sanitize:  func(q string) string { return strings.ReplaceAll(q, "42", "?") },
	})
	var b Borrow
	d.Track(&b, 1, nil)
	acquired, at := captureAt()
	b.Begin(clock.Now(), acquired)
	b.Rows(acquired, "SELECT * FROM t WHERE id = 42")

	clock.Advance(59 * time.Second)
	d.Scan()
	if len(reports) != 0 || d.Leaks() != 0 {
		t.Fatalf("reported before the threshold: %v", reports)
	}
	clock.Advance(2 * time.Second)
	d.Scan()
	d.Scan()
	if len(reports) != 1 {
		t.Fatalf("got %d reports, want 1", len(reports))
	}
	r := reports[0]
	if r.Pool != "orders" || r.HeldFor != 61*time.Second || r.Open != "rows" || r.Borrow != 1 {
		t.Errorf("report = %+v", r)
	}
	if r.Statement != "SELECT * FROM t WHERE id = ?" {
		t.Errorf("statement = %q, want it sanitized", r.Statement)
	}
	if r.AcquiredAt != at {
		t.Errorf("acquired_at = %q, want %q", r.AcquiredAt, at)
	}
	if r.RowsAt == "" || len(r.RowsStack) == 0 || r.TxAt != "" {
		t.Errorf("rows_at = %q, tx_at = %q", r.RowsAt, r.TxAt)
	}
	if got := d.Leaks(); got != 1 {
		t.Errorf("Leaks = %d, want 1", got)
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", leakMessage, "pool=orders", "held_for=1m1s", "open=rows", "acquired_at=" + r.AcquiredAt, `statement="SELECT * FROM t WHERE id = ?"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The raw statement's "42" may be elsewhere in the line (the time, a
	// stack's line numbers): look for it in the statement attribute, and
	// for the whole raw statement anywhere.
	if stmt, ok := textAttrs(t, out)["statement"]; !ok || strings.Contains(stmt, "42") || strings.Contains(out, "WHERE id = 42") {
		t.Errorf("log shows the raw statement (statement attribute %q):\n%s", stmt, out)
	}

	clock.Advance(9 * time.Second)
	b.RowsClosed()
	b.End()
	out = logs.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, returnedMessage) || !strings.Contains(out, "held_for=1m10s") || !strings.Contains(out, "borrow=1") {
		t.Errorf("no returned line after End:\n%s", out)
	}
}

func TestEndWithoutReportLogsNothingAndNextBorrowIsFresh(t *testing.T) {
	var n int
	d, clock, logs := newTestDetector(t, Config{OnLeak: func(leakdetect.Report) { n++ }})
	var b Borrow
	d.Track(&b, 1, nil)
	b.Begin(clock.Now(), capture())
	clock.Advance(30 * time.Second)
	b.End()
	clock.Advance(time.Hour)
	d.Scan()
	if n != 0 || logs.String() != "" {
		t.Fatalf("a borrow ended before the threshold was reported: %d reports, log %q", n, logs.String())
	}
	// A new borrow is judged on its own age and reported once.
	b.Begin(clock.Now(), capture())
	b.Tx(capture())
	clock.Advance(2 * time.Minute)
	d.Scan()
	b.TxDone()
	d.Scan()
	if n != 1 {
		t.Fatalf("got %d reports, want 1", n)
	}
}

func TestHeldAndSuspectsListBorrowsOldestFirst(t *testing.T) {
	d, clock, _ := newTestDetector(t, Config{Threshold: time.Minute})
	var a, b, c Borrow
	for i, x := range []*Borrow{&a, &b, &c} {
		d.Track(x, uint64(i+1), nil)
	}
	b.Begin(clock.Now(), capture())
	clock.Advance(30 * time.Second)
	a.Begin(clock.Now(), capture())
	a.Tx(capture())
	clock.Advance(40 * time.Second)

	held := d.Held(0)
	if len(held) != 2 || held[0].HeldFor != 70*time.Second || held[1].HeldFor != 40*time.Second {
		t.Fatalf("Held(0) = %+v", held)
	}
	if held[1].Open != "tx" || held[1].TxAt == "" {
		t.Errorf("second = %+v, want an open tx", held[1])
	}
	sus := d.Suspects()
	if len(sus) != 1 || sus[0].HeldFor != 70*time.Second || sus[0].Open != "conn" {
		t.Fatalf("Suspects = %+v", sus)
	}
	d.Untrack(&b)
	if got := d.Suspects(); len(got) != 0 {
		t.Errorf("an untracked borrow is still listed: %+v", got)
	}
	d.Untrack(&b) // idempotent
	if got := len(d.Held(0)); got != 1 {
		t.Errorf("Held after untrack = %d, want 1", got)
	}
}

func TestReclaimWaitsUntilTheHolderIsOutsideACall(t *testing.T) {
	reclaims := 0
	d, clock, logs := newTestDetector(t, Config{Reclaim: true})
	var b Borrow
	d.Track(&b, 1, func() { reclaims++ })
	b.Begin(clock.Now(), capture())
	if !b.Enter() {
		t.Fatal("Enter failed on a fresh borrow")
	}
	clock.Advance(2 * time.Minute)
	d.Scan()
	if reclaims != 0 {
		t.Fatal("reclaimed while the holder was inside a call")
	}
	if d.Leaks() != 1 {
		t.Fatalf("Leaks = %d, want the busy borrow reported anyway", d.Leaks())
	}
	b.Exit()
	d.Scan()
	d.Scan()
	if reclaims != 1 || d.ReclaimedCount() != 1 || !b.Reclaimed() {
		t.Fatalf("reclaims = %d, ReclaimedCount = %d, Reclaimed = %v; want 1, 1, true", reclaims, d.ReclaimedCount(), b.Reclaimed())
	}
	if b.Enter() {
		t.Fatal("Enter succeeded after reclaim")
	}
	if d.Leaks() != 1 {
		t.Errorf("Leaks = %d, want 1 (one borrow)", d.Leaks())
	}
	b.End()
	if out := logs.String(); !strings.Contains(out, returnedMessage) || !strings.Contains(out, "reclaimed=true") {
		t.Errorf("returned line does not say the connection was reclaimed:\n%s", out)
	}
}

func TestWithoutReclaimEnterAlwaysSucceeds(t *testing.T) {
	d, clock, _ := newTestDetector(t, Config{})
	var b Borrow
	d.Track(&b, 1, func() { t.Error("reclaimed without Reclaim") })
	b.Begin(clock.Now(), capture())
	clock.Advance(time.Hour)
	d.Scan()
	if !b.Enter() {
		t.Error("Enter = false without Reclaim")
	}
	b.Exit()
}

func TestNewRejectsNonPositiveThreshold(t *testing.T) {
	for _, th := range []time.Duration{0, -time.Second} {
		if _, err := New(Config{Threshold: th}); err == nil || !strings.Contains(err.Error(), "Threshold must be > 0") {
			t.Errorf("New(Threshold: %v) = %v, want an error naming Threshold", th, err)
		}
	}
}

func TestBackgroundScanReportsWithoutBeingCalledAndCloseStopsIt(t *testing.T) {
	reported := make(chan leakdetect.Report, 1)
	d, err := New(Config{
		Threshold: 5 * time.Millisecond,
		Logger:    slog.New(slog.DiscardHandler),
		OnLeak:    func(r leakdetect.Report) { reported <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	var b Borrow
	d.Track(&b, 1, nil)
	b.Begin(time.Now(), capture())
	select {
	case r := <-reported:
		if r.HeldFor < 5*time.Millisecond {
			t.Errorf("HeldFor = %v, want >= the threshold", r.HeldFor)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report from the background scan")
	}
	d.Close()
	d.Close() // idempotent
}

func BenchmarkBorrow(b *testing.B) {
	d, err := New(Config{Threshold: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var br Borrow
	d.Track(&br, 1, nil)
	var s Stack
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Capture(0)
		br.Begin(now, &s)
		br.Rows(&s, "SELECT 1")
		br.RowsClosed()
		br.End()
	}
}
