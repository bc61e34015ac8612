package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// syncBuffer is a bytes.Buffer safe for the demo's goroutines to write
// while the test reads.
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

// leakLine returns the absolute "file:line" of leakRows' QueryContext call.
func leakLine(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("leak.go")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("leak.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "db.QueryContext(") {
			return abs + ":" + strconv.Itoa(i+1)
		}
	}
	t.Fatal("leak.go has no db.QueryContext call")
	return ""
}

var dashboardLine = regexp.MustCompile(`(?m)^dashboard: (http://\S+) \(`)

func TestDemoServeKeepsTheDashboardUpWithALiveLoadAndALeakUntilInterrupted(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "--duration", "300ms", "--workers", "8", "--serve"}, &out) }()

	// The sizing section comes first: a quarter of a minute.
	for deadline := time.Now().Add(90 * time.Second); !strings.Contains(out.String(), "leak suspect: "); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the demo ended before serving: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the demo to report the live leak:\n%s", out.String())
		}
	}
	report := out.String()
	m := dashboardLine.FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("the report has no dashboard line:\n%s", report)
	}
	want := leakLine(t)
	if !strings.Contains(report, "== 8. Dashboard: "+m[1]) || !strings.Contains(report, "leak suspect: the connection taken at "+want+" ") {
		t.Errorf("section 7 does not name the dashboard and the leak at %s:\n%s", want, report)
	}

	resp, err := http.Get(m[1] + "json?pool=" + livePool)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Pools []struct {
			Name  string
			Max   int
			Conns []struct {
				State   string
				Suspect bool
				TakenAt string `json:"taken_at"`
				TakenBy string `json:"taken_by"`
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Pools) != 1 || doc.Pools[0].Max != 8 {
		t.Fatalf("the dashboard's JSON: got %+v, want the pool %s of 8", doc.Pools, livePool)
	}
	leaks := 0
	for _, c := range doc.Pools[0].Conns {
		if c.Suspect {
			leaks++
			// main.leakRows in the demo; in this test binary, named by its import path.
			if c.State != "in_use" || c.TakenAt != want || !strings.HasSuffix(c.TakenBy, "/cmd/sqlpool.leakRows") && c.TakenBy != "main.leakRows" {
				t.Errorf("suspect: got %+v, want in use, taken by leakRows at %s", c, want)
			}
		}
	}
	if leaks != 1 {
		t.Errorf("suspects: got %d, want the one leak", leaks)
	}
	// The sizing section's pools stay, under their loads: the undersized
	// one with its alerts firing and the advice that says so.
	resp, err = http.Get(m[1] + "json?pool=" + undersizedPool)
	if err != nil {
		t.Fatal(err)
	}
	type alert struct {
		Name   string
		Firing bool
	}
	var sized struct {
		Pools []struct {
			Sizing struct {
				Verdict     string
				MaxConns    int `json:"max_conns"`
				Recommended int `json:"recommended_max_conns"`
			}
			Alerts []alert
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&sized)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(sized.Pools) != 1 {
		t.Fatalf("the dashboard's JSON: got %d pools named %s, want 1", len(sized.Pools), undersizedPool)
	}
	sz := sized.Pools[0].Sizing
	if sz.Verdict != string(sqlpool.VerdictUndersized) || sz.MaxConns != sizingMaxConns || sz.Recommended <= sizingMaxConns {
		t.Errorf("%s's sizing: got %+v, want undersized, max_conns %d and more recommended", undersizedPool, sz, sizingMaxConns)
	}
	if !slices.Contains(sized.Pools[0].Alerts, alert{sqlpool.AlertExhaustion, true}) {
		t.Errorf("%s's alerts: got %+v, want exhaustion firing", undersizedPool, sized.Pools[0].Alerts)
	}

	// The root of the server leads to the dashboard.
	if resp, err := http.Get(strings.TrimSuffix(m[1], dashboardPath) + "/"); err != nil || resp.Request.URL.Path != dashboardPath {
		t.Errorf("GET /: got %v, %v; want a redirect to %s", resp, err, dashboardPath)
	} else {
		resp.Body.Close()
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after the interrupt: got %v, want nil (interrupting is how --serve stops)", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop within a minute of the interrupt")
	}
	if _, err := http.Get(m[1]); err == nil {
		t.Error("the dashboard still answers after the demo stopped")
	}
	testdb.WaitFor(t, "the demo's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
}

func TestDashboardFlagIsCheckedAndCanBeTurnedOff(t *testing.T) {
	var out bytes.Buffer
	var ue usageError
	if err := run(context.Background(), []string{"demo", "--serve", "--dashboard", ""}, &out); !errors.As(err, &ue) {
		t.Errorf("--serve without a dashboard: got %v, want a usageError", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"demo", "--dashboard", "256.0.0.1:0", "--duration", "100ms", "--sizing=false"}, &out)
	if err == nil || !strings.Contains(err.Error(), "serving the dashboard") {
		t.Errorf("--dashboard with a bad address: got %v, want an error serving the dashboard", err)
	}
	out.Reset()
	if err := run(ctx, []string{"demo", "--dashboard", "", "--duration", "100ms", "--workers", "2", "--sizing=false"}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "dashboard:") {
		t.Errorf("--dashboard \"\": the report still names a dashboard:\n%s", out.String())
	}
}
