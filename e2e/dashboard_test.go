package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// livePool is the pool the demo's --serve section loads and leaks from
// (cmd/sqlpool/live.go).
const livePool = "demo-live"

// undersizedPool is the pool of the demo's sizing section, too small for
// its load, which --serve keeps under it (cmd/sqlpool/sizing.go).
const undersizedPool = "orders-undersized"

// screenshotPath is where the README's screenshot goes, from this directory.
const screenshotPath = "../docs/dashboard.png"

// demo is the demo program running with --serve, and what it has printed.
type demo struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder // stdout and stderr, guarded by mu
	exited chan struct{}   // closed once the process has ended
	err    error           // Wait's result, once exited is closed
}

func (d *demo) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// waitFor polls cond every 20ms until it holds, failing the test after
// timeout, or at once if the demo ended.
func waitFor(t *testing.T, d *demo, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-d.exited:
			t.Fatalf("the demo ended (%v) while waiting for %s; it printed:\n%s", d.err, what, d.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; the demo printed:\n%s", timeout, what, d.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildDemo builds cmd/sqlpool as a user would, from the repository root.
func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sqlpool")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sqlpool")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sqlpool: %v\n%s", err, out)
	}
	return bin
}

// startDemo runs the demo with --serve on SQLite and stops it (interrupt,
// then kill) when the test ends.
func startDemo(t *testing.T, bin string) *demo {
	t.Helper()
	d := &demo{exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "demo", "--duration", "300ms", "--workers", "16", "--serve", "--dashboard", "127.0.0.1:0")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.out.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() {
		<-copied
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		d.cmd.Process.Kill()
		<-d.exited
	})
	return d
}

// stop interrupts the demo, as Ctrl-C does, and checks that it ends cleanly.
func (d *demo) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not end within 30s of the interrupt; it printed:\n%s", d.output())
	}
	if d.err != nil {
		t.Errorf("the demo ended with %v after the interrupt, want a clean exit; it printed:\n%s", d.err, d.output())
	}
}

// liveState is what the test reads of the live pool from the dashboard's
// JSON.
type liveState struct {
	Max      int `json:"max"`
	InUse    int `json:"in_use"`
	Waiting  int `json:"waiting"`
	Suspects int `json:"suspects"`
	History  []struct {
		InUse int `json:"in_use"`
	} `json:"history"`
}

func readLive(t *testing.T, url string) liveState {
	t.Helper()
	resp, err := http.Get(url + "json?pool=" + livePool)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Pools []liveState }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Pools) != 1 {
		t.Fatalf("the dashboard's JSON has %d pools named %s, want 1", len(doc.Pools), livePool)
	}
	return doc.Pools[0]
}

// leakLine returns the absolute "file:line" of leakRows' QueryContext call,
// which the leak's stack must name.
func leakLine(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs("../cmd/sqlpool/leak.go")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "db.QueryContext(") {
			return path + ":" + strconv.Itoa(i+1)
		}
	}
	t.Fatal("cmd/sqlpool/leak.go has no db.QueryContext call")
	return ""
}

// run runs a chromedp action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// do runs chromedp actions that return nothing, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestDashboardInHeadlessChromiumShowsTheLoadedPoolAndTheLeaksStack(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): install it with apt-get install chromium", chromiumPath, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the browser test is required)")
		}
		t.Skip(msg)
	}
	start := time.Now()
	bin := buildDemo(t)
	built := time.Now()

	d := startDemo(t, bin)
	waitFor(t, d, "the demo to report its live leak", 2*time.Minute, func() bool {
		return strings.Contains(d.output(), "\nleak suspect: ")
	})
	m := regexp.MustCompile(`(?m)^dashboard: (http://127\.0\.0\.1:\d+/\S*) \(until interrupted\)$`).FindStringSubmatch(d.output())
	if m == nil {
		t.Fatalf("the demo printed no dashboard URL:\n%s", d.output())
	}
	url := m[1]
	leakAt := leakLine(t)
	if !strings.Contains(d.output(), "leak suspect: the connection taken at "+leakAt+" ") {
		t.Errorf("the demo's leak line does not name %s:\n%s", leakAt, d.output())
	}
	serving := time.Now()

	// Half a minute of history makes a chart worth a screenshot; then, for a
	// while, a moment when the load has every connection busy, which is
	// what the page is for (the load rises and falls: it comes).
	waitFor(t, d, "30 seconds of history", 2*time.Minute, func() bool { return len(readLive(t, url).History) >= 30 })
	exhausted := func() bool { s := readLive(t, url); return s.InUse == s.Max && s.Waiting > 0 && s.Suspects == 1 }
	for deadline := time.Now().Add(30 * time.Second); !exhausted() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	waited := time.Now()

	// The browser, as the issue says: no network, nothing in the background.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1160),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	var (
		consoleMu sync.Mutex
		console   []chromedp.ConsoleMessage
	)
	messages := chromedp.Console(bctx)
	go func() {
		for msg, err := range messages {
			if err != nil {
				return
			}
			consoleMu.Lock()
			console = append(console, msg)
			consoleMu.Unlock()
		}
	}()

	live := `section.pool[data-pool="` + livePool + `"]`
	stack := live + ` tr.suspect details.stack[open] ol.frames`
	// Paused, so that no reload comes between the checks.
	do(t, bctx, "opening the dashboard",
		chromedp.EmulateViewport(1280, 1100),
		chromedp.Navigate(url+"?refresh=0"),
		chromedp.WaitVisible(chromedp.CSS(live)),
	)

	// The gauges.
	for _, g := range []string{"in_use", "idle", "waiting", "dialing", "wait"} {
		do(t, bctx, "the "+g+" gauge", chromedp.WaitVisible(chromedp.CSS(live+` [data-gauge="`+g+`"]`)))
	}
	inUse := run(t, bctx, "reading the in-use gauge", chromedp.Text(chromedp.CSS(live+` [data-gauge="in_use"] .val`)))
	if !regexp.MustCompile(`^[1-8] / 8 max$`).MatchString(strings.TrimSpace(inUse)) {
		t.Errorf("the in-use gauge shows %q, want n / 8 max with the leaked connection at least", inUse)
	}
	if n := run(t, bctx, "counting the chart's lines", chromedp.Evaluate[int](`document.querySelectorAll('`+live+` svg.chart polyline').length`)); n != 3 {
		t.Errorf("the chart draws %d lines, want 3 (in use, waiting, wait time)", n)
	}
	do(t, bctx, "the chart", chromedp.WaitVisible(chromedp.CSS(live+` svg.chart`)))

	// The leak: highlighted, its stack open, naming the line that took it.
	do(t, bctx, "the leak's stack", chromedp.WaitVisible(chromedp.CSS(stack)))
	frames := run(t, bctx, "reading the leak's stack", chromedp.Text(chromedp.CSS(stack)))
	if !strings.Contains(frames, "main.leakRows "+leakAt) {
		t.Errorf("the leak's stack does not show main.leakRows at %s:\n%s", leakAt, frames)
	}
	origin := run(t, bctx, "reading the stack's marked frame", chromedp.Text(chromedp.CSS(stack+` li.origin`)))
	if !strings.HasPrefix(origin, "main.leakRows ") {
		t.Errorf("the stack marks %q as the application's frame, want main.leakRows", origin)
	}
	badge := run(t, bctx, "reading the state of the leaked connection", chromedp.Text(chromedp.CSS(live+` tr.suspect .state`)))
	if badge != "leak suspect" {
		t.Errorf("the leaked connection's state reads %q, want leak suspect", badge)
	}
	if title := run(t, bctx, "reading the title", chromedp.Title()); !strings.Contains(title, "1 leak suspect") {
		t.Errorf("the page's title is %q, want it to count the leak suspect", title)
	}

	// The undersized pool: the advice's sentence with its verdict, the
	// alerts that fire, each with its message, and where they fired on
	// the chart.
	under := `section.pool[data-pool="` + undersizedPool + `"]`
	do(t, bctx, "the undersized pool's advice", chromedp.WaitVisible(chromedp.CSS(under+` p.sizing[data-verdict="undersized"]`)))
	advice := run(t, bctx, "reading the undersized pool's advice", chromedp.Text(chromedp.CSS(under+` p.sizing[data-verdict="undersized"]`)))
	verdict := run(t, bctx, "reading the advice's verdict", chromedp.Text(chromedp.CSS(under+` p.sizing .badge`)))
	if !regexp.MustCompile(`more than pool_max_conns=4; .* set pool_max_conns=([5-9]|\d\d+)`).MatchString(advice) || !strings.EqualFold(verdict, "undersized") {
		t.Errorf("the undersized pool's advice reads %q, its badge %q; want the verdict undersized and a pool_max_conns above 4", advice, verdict)
	}
	do(t, bctx, "the undersized pool's alerts", chromedp.WaitVisible(chromedp.CSS(under+` p.alert[data-alert="exhaustion"]`)))
	alert := run(t, bctx, "reading the exhaustion alert", chromedp.Text(chromedp.CSS(under+` p.alert[data-alert="exhaustion"]`)))
	if !strings.Contains(alert, "acquires waited with all 4 connections in use") {
		t.Errorf("the exhaustion alert reads %q, want its message", alert)
	}
	firing := run(t, bctx, "reading the alerts firing", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('`+under+` p.alert .badge'), b => b.textContent)`))
	if !slices.Contains(firing, "exhaustion") || !slices.Contains(firing, "utilization") {
		t.Errorf("the undersized pool's alert badges read %q, want exhaustion and utilization among them", firing)
	}
	// The marks are in the chart, inside its box.
	marks := run(t, bctx, "reading the chart's alert marks", chromedp.Evaluate[[]string](`(() => {
		const svg = document.querySelector('`+under+` svg.chart'), box = svg.getBoundingClientRect();
		return Array.from(svg.querySelectorAll('g.alert-mark'), g => {
			const r = g.querySelector('line').getBoundingClientRect();
			return g.dataset.alerts + (r.left >= box.left && r.right <= box.right && r.height > 0 ? '' : ' (outside the chart)');
		});
	})()`))
	if !slices.ContainsFunc(marks, func(m string) bool { return strings.Contains(m, "exhaustion") && !strings.Contains(m, "outside") }) {
		t.Errorf("the undersized pool's chart marks %q, want one where exhaustion fired, inside the chart", marks)
	}

	// The page's one script runs under its Content-Security-Policy: what is
	// folded stays folded across a reload.
	summary := chromedp.CSS(live + ` tr.suspect details.stack > summary`)
	isOpen := `document.querySelector('` + live + ` tr.suspect details.stack').open`
	do(t, bctx, "folding the leak's stack", chromedp.Click(summary), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(live)))
	if run(t, bctx, "reading the fold after a reload", chromedp.Evaluate[bool](isOpen)) {
		t.Error("the leak's stack, folded, is open again after a reload: the page's script did not run")
	}
	do(t, bctx, "unfolding the leak's stack", chromedp.Click(summary), chromedp.WaitVisible(chromedp.CSS(stack)))

	// The screenshot: the page as it opens, reloading itself; preferably
	// at a moment when operations wait, an alert fires and the advice says
	// the pool is short, which is what the page is for.
	do(t, bctx, "forgetting the folds", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
	for deadline := time.Now().Add(30 * time.Second); ; {
		do(t, bctx, "reopening the dashboard", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(stack)))
		telling := run(t, bctx, "reading the live pool's gauges, alerts and advice", chromedp.Evaluate[bool](`(() => {
			const p = document.querySelector('`+live+`');
			return p.querySelector('[data-gauge="waiting"] .val').textContent !== '0' &&
				p.querySelector('p.alert') !== null && p.querySelector('p.sizing[data-verdict="undersized"]') !== null;
		})()`))
		if telling || time.Now().After(deadline) {
			break
		}
	}
	shot := run(t, bctx, "taking the screenshot", chromedp.CaptureScreenshot())
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1100 {
		t.Errorf("the screenshot is %v, want the viewport's 1280x1100", b.Size())
	}
	for _, path := range []string{screenshotPath, filepath.Join(t.TempDir(), "dashboard.png")} {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs(screenshotPath)
	t.Logf("screenshot: %s (%d bytes)", abs, len(shot))

	consoleMu.Lock()
	for _, msg := range console {
		if msg.Type == chromedp.ConsoleError || msg.IsException() {
			t.Errorf("the browser's console: %s", msg)
		}
	}
	consoleMu.Unlock()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the browser steps ran out of time")
	}
	browsed := time.Now()

	d.stop(t)
	t.Logf("time: build %v, demo until its leak %v, history %v, browser %v, in all %v",
		built.Sub(start).Round(time.Millisecond), serving.Sub(built).Round(time.Millisecond),
		waited.Sub(serving).Round(time.Millisecond), browsed.Sub(waited).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
