package otelsetup

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP collector: it accepts POST /v1/traces and
// /v1/metrics, counts them and keeps the names of the spans and of their
// services.
type receiver struct {
	url string // the server's base URL

	mu       sync.Mutex
	requests map[string]int // by path
	spans    []string
	services []string
}

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
				for _, kv := range rs.GetResource().GetAttributes() {
					if kv.GetKey() == "service.name" {
						r.services = append(r.services, kv.GetValue().GetStringValue())
					}
				}
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
	r.url = srv.URL
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	// Signal-specific settings would win over the endpoint above.
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	return r
}

func TestStartExportsSpansAndMetricsToTheEndpoint(t *testing.T) {
	r := startReceiver(t)
	if got := Endpoint(); got != r.url {
		t.Errorf("Endpoint() = %q, want $OTEL_EXPORTER_OTLP_ENDPOINT %q", got, r.url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	shutdown, err := Start(ctx, "otelsetup-test")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	_, span := otel.Tracer("test").Start(ctx, "test-span")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.requests["/v1/traces"] < 1 {
		t.Errorf("got %d /v1/traces requests, want at least 1", r.requests["/v1/traces"])
	}
	// The meter provider exports once more when it shuts down.
	if r.requests["/v1/metrics"] < 1 {
		t.Errorf("got %d /v1/metrics requests, want at least 1", r.requests["/v1/metrics"])
	}
	if !slices.Contains(r.spans, "test-span") {
		t.Errorf("spans received: %q, want test-span among them", r.spans)
	}
	for _, s := range r.services {
		if s != "otelsetup-test" {
			t.Errorf("service.name: got %q, want otelsetup-test", s)
		}
	}
	if len(r.services) == 0 {
		t.Error("the spans' resource has no service.name")
	}
}

func TestTheDefaultEndpointIsPlainHTTP(t *testing.T) {
	for _, name := range []string{"ENDPOINT", "TRACES_ENDPOINT", "METRICS_ENDPOINT", "INSECURE", "TRACES_INSECURE", "METRICS_INSECURE"} {
		t.Setenv("OTEL_EXPORTER_OTLP_"+name, "")
	}
	if got, want := Endpoint(), "http://localhost:4318 (default)"; got != want {
		t.Errorf("Endpoint() = %q, want %q", got, want)
	}
	if !defaultEndpoint("TRACES") || !defaultEndpoint("METRICS") {
		t.Error("defaultEndpoint: got false with no OTEL_EXPORTER_OTLP_* set, want true")
	}
	// Any endpoint or insecure setting is the exporters' to apply.
	for _, tc := range []struct{ name, value, signal string }{
		{"ENDPOINT", "https://collector:4318", "TRACES"},
		{"TRACES_ENDPOINT", "https://collector:4318/v1/traces", "TRACES"},
		{"METRICS_INSECURE", "false", "METRICS"},
		{"INSECURE", "true", "METRICS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_"+tc.name, tc.value)
			if defaultEndpoint(tc.signal) {
				t.Errorf("defaultEndpoint(%q) with OTEL_EXPORTER_OTLP_%s=%s: got true, want false", tc.signal, tc.name, tc.value)
			}
		})
	}
}
