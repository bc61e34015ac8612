package sqlpool_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlpool/sqlpool"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestExhaustionAlertIsLoggedHookedAndAGauge(t *testing.T) {
	rig := newOtelRig(t)
	var logs leakLog // a log buffer safe for the sampler's goroutine
	fired := make(chan sqlpool.Alert, 16)
	db := rig.open(t, "sqlite3:file:"+filepath.Join(t.TempDir(), "a.db")+"?pool_max_conns=1",
		sqlpool.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		sqlpool.WithOnAlert(func(a sqlpool.Alert) { fired <- a }))
	ctx := context.Background()

	// Hold the one connection while another acquire waits for it.
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := held.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() { waiter <- db.PingContext(ctx) }()

	var a sqlpool.Alert
	for a = range fired {
		if a.Name == sqlpool.AlertExhaustion {
			break
		}
	}
	if !a.Firing || a.Value <= 0 || !strings.Contains(a.Message, "all 1 connections in use") {
		t.Errorf("alert %+v; want exhaustion firing, with the pool's size in its message", a)
	}
	held.Close()
	if err := <-waiter; err != nil {
		t.Fatal(err)
	}

	// The log record: a warning with the numbers and the advice, as
	// attributes a log pipeline can read.
	var rec map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"alert":"exhaustion"`) {
			rec = decodeJSON(t, line)
			break
		}
	}
	if rec == nil || rec["level"] != "WARN" || rec["pool"] != a.Pool || rec["verdict"] == nil || rec["advice"] == nil {
		t.Errorf("log record %v; want a WARN of the exhaustion alert with its pool, verdict and advice", rec)
	}

	// The gauge: 1 for the firing alert, 0 for the others that are on.
	m, ok := rig.metrics(t)["sqlpool.pool.alerts"]
	if !ok {
		t.Fatal("no sqlpool.pool.alerts metric")
	}
	gauge, _ := m.Data.(metricdata.Gauge[int64])
	got := map[string]int64{}
	for _, dp := range gauge.DataPoints {
		name, _ := dp.Attributes.Value("sqlpool.alert.name")
		got[name.AsString()] = dp.Value
	}
	want := map[string]int64{"utilization": 0, "wait": 0, "exhaustion": 1, "acquire_timeouts": 0, "dial_errors": 0}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("sqlpool.pool.alerts{sqlpool.alert.name=%q} = %d (present %v), want %d; all: %v", k, g, ok, v, got)
		}
	}
}

func decodeJSON(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return m
}
