package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sqlpool/sqlpool/internal/testdb"
)

// receiver is an OTLP/HTTP collector standing in for Jaeger: it accepts
// POST /v1/traces and /v1/metrics, counts them and keeps the spans' names.
type receiver struct {
	mu       sync.Mutex
	requests map[string]int // by path
	spans    []string
}

// startReceiver starts a receiver and points the exporters at it.
func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || (req.URL.Path != "/v1/traces" && req.URL.Path != "/v1/metrics") {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests[req.URL.Path]++
		if req.URL.Path == "/v1/traces" {
			var msg coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &msg); err != nil {
				t.Errorf("decoding a /v1/traces request: %v", err)
			}
			for _, rs := range msg.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					for _, s := range ss.GetSpans() {
						r.spans = append(r.spans, s.GetName())
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	return r
}

// runExample runs the example on dsn against a new receiver and checks
// that it succeeded and exported its traces.
func runExample(t *testing.T, dsn string) {
	t.Helper()
	r := startReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, dsn, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	want := "exported 6 operations; open http://localhost:16686 and search service sqlpool-example\n"
	if out.String() != want {
		t.Errorf("output: got %q, want %q", out.String(), want)
	}

	// run flushed before it returned: everything has been received.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.requests["/v1/traces"] < 1 {
		t.Errorf("got %d /v1/traces requests, want at least 1", r.requests["/v1/traces"])
	}
	if r.requests["/v1/metrics"] < 1 {
		t.Errorf("got %d /v1/metrics requests, want at least 1", r.requests["/v1/metrics"])
	}
	t.Logf("spans received: %q", r.spans)
	if !slices.Contains(r.spans, "checkout") {
		t.Errorf("spans received: %q, want checkout among them", r.spans)
	}
}

func TestRunExportsTracesOnSQLite(t *testing.T) {
	runExample(t, sqliteDSN(t.TempDir()))
}

func TestRunExportsTracesOnPostgres(t *testing.T) {
	u := testdb.PostgresURL(t)
	for _, driverName := range []string{"postgres", "pgx"} {
		t.Run(driverName, func(t *testing.T) {
			runExample(t, driverName+":"+u)
		})
	}
}

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct{ driver, want string }{
		{"sqlite3", "? ?"}, {"mysql", "? ?"}, {"postgres", "$1 $2"}, {"pgx", "$1 $2"},
	} {
		arg := placeholders(tc.driver)
		if got := strings.Join([]string{arg(1), arg(2)}, " "); got != tc.want {
			t.Errorf("placeholders(%q): got %q, want %q", tc.driver, got, tc.want)
		}
	}
}
