package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSQLPoolDSN(t *testing.T) {
	for _, c := range []struct{ inner, dsn, want string }{
		{"sqlite3", ":memory:", "sqlite3::memory:?pool_max_conns=8"},
		{"postgres", "postgres://h/db?sslmode=disable", "postgres:postgres://h/db?sslmode=disable&pool_max_conns=8"},
	} {
		if got := SQLPoolDSN(c.inner, c.dsn, "pool_max_conns", "8"); got != c.want {
			t.Errorf("SQLPoolDSN(%q, %q) = %q, want %q", c.inner, c.dsn, got, c.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 0.999: 999, 1: 1000} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile(1..1000, %v) = %v, want %v", q, got, want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v", got)
	}
}

func TestRecoveredAfter(t *testing.T) {
	const b = 10 * time.Millisecond
	r := &Result{Series: []int64{3, 100, 100, 100, 100, 0, 0, 20, 90, 100, 100, 100, 100, 100, 100}}
	ev := &Event{Start: 52 * time.Millisecond}
	got, ok := recoveredAfter(r, ev, b)
	if !ok || got != 28*time.Millisecond { // bucket 8 starts at 80 ms
		t.Errorf("recoveredAfter = %v, %v; want 28ms, true", got, ok)
	}
	r.Series = []int64{3, 100, 100, 100, 100, 0, 0, 0, 0, 0, 0, 0}
	if _, ok := recoveredAfter(r, ev, b); ok {
		t.Error("recoveredAfter reports a recovery that never came")
	}
}

func TestLoadCountsOperationsAndErrors(t *testing.T) {
	var calls atomic.Int64
	boom := errors.New("boom")
	r := Load{
		Goroutines: 4,
		Duration:   50 * time.Millisecond,
		Bucket:     10 * time.Millisecond,
		Worker: Shared(func(context.Context, string) (int64, error) {
			if calls.Add(1)%10 == 0 {
				return 0, boom
			}
			return 1, nil
		}),
	}.Run(context.Background())
	if r.Ops == 0 || r.Errors == 0 {
		t.Fatalf("ops %d, errors %d: want both counted", r.Ops, r.Errors)
	}
	if total := r.Ops + r.Errors; total > calls.Load() {
		t.Errorf("%d operations counted, only %d made", total, calls.Load())
	}
	if int64(len(r.Latencies)) != r.Ops || int64(len(r.ErrorAt)) != r.Errors {
		t.Errorf("%d latencies and %d error times for %d ops and %d errors", len(r.Latencies), len(r.ErrorAt), r.Ops, r.Errors)
	}
	var inSeries int64
	for _, n := range r.Series {
		inSeries += n
	}
	if inSeries != r.Ops {
		t.Errorf("series holds %d operations, %d counted", inSeries, r.Ops)
	}
	if len(r.FirstErrors) != 1 || r.FirstErrors[0] != "boom" {
		t.Errorf("FirstErrors = %q, want [boom]", r.FirstErrors)
	}
}

// TestSuiteQuick runs every workload for a moment, against the local
// PostgreSQL: the figures mean nothing, but every peer must run, every goal
// must get a verdict and the report must be well formed.
func TestSuiteQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the quick suite takes about a minute")
	}
	ctx := context.Background()
	s := &Suite{Quick: true}
	s.Defaults()
	admin, err := OpenAdmin(ctx, s.PostgresURL)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: the suite needs PostgreSQL)", err)
		}
		t.Skipf("%v: start PostgreSQL (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set SQLPOOL_BENCH_POSTGRES", err)
	}
	defer admin.Close()
	s.Log.SetOutput(io.Discard)
	defer s.Log.SetOutput(os.Stderr)

	var secs []Section
	for _, w := range []struct {
		name  string
		f     func() (Section, error)
		peers int // table rows
	}{
		{"overhead", s.Overhead, len(OverheadMicros())},
		{"throughput", func() (Section, error) { return s.Throughput(ctx) }, len(ThroughputPeers()) + 1},
		// 2 drivers × (raw pooled, then raw, sqlpool and sqlpool without resets in 2 configurations)
		{"per-request", func() (Section, error) { return s.ConnectionPerRequest(ctx, admin) }, 14},
		{"overload", func() (Section, error) { return s.Overload(ctx) }, len(OverloadPeers())},
		{"recovery", func() (Section, error) { return s.Recovery(ctx, admin) }, len(RecoveryPeers())},
		{"tracing", s.Tracing, 4},
		{"pools", func() (Section, error) { return s.Pools(), nil }, len(AcquireReleaseGoroutines)},
	} {
		sec, err := w.f()
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if len(sec.Rows) != w.peers {
			t.Errorf("%s: %d rows, want %d", w.name, len(sec.Rows), w.peers)
		}
		for _, r := range sec.Rows {
			if len(r) != len(sec.Header) {
				t.Errorf("%s: row %q has %d cells for %d columns", w.name, r, len(r), len(sec.Header))
			}
		}
		for _, g := range sec.Goals {
			if g.Result == "" || strings.Contains(g.Result, "NaN") {
				t.Errorf("%s: goal %q has no result: %q", w.name, g.Text, g.Result)
			}
		}
		if sec.Chart == nil || len(sec.Chart.Bars) == 0 {
			t.Errorf("%s: no bars for the chart", w.name)
		}
		secs = append(secs, sec)
	}

	var md, svg bytes.Buffer
	var panels []*Panel
	for _, s := range secs {
		panels = append(panels, s.Chart)
	}
	if err := WriteSVG(&svg, panels); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&svg)
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v", err)
		}
	}
	h := Header{Command: "test", Date: time.Now(), Machine: "test", Settings: s.Settings()}
	if err := WriteMarkdown(&md, h, "benchmarks.svg", secs); err != nil {
		t.Fatal(err)
	}
	goals := 0
	for _, s := range secs {
		goals += len(s.Goals)
	}
	if n := strings.Count(md.String(), "| yes |") + strings.Count(md.String(), "| **no** |"); n != goals {
		t.Errorf("the report gives %d verdicts for %d goals", n, goals)
	}
}
