// Package otlptest is an OTLP/HTTP collector for tests: it stands in for
// Jaeger or an OpenTelemetry Collector, decodes what the SDK's exporters post
// to /v1/traces and /v1/metrics (gzip or not), keeps it, and answers as a
// collector does, so tests can check what sqlpool exports over the wire.
package otlptest

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Collector is a running OTLP/HTTP collector. Its methods are safe for
// concurrent use.
type Collector struct {
	// URL is the collector's base URL: the OTLP endpoint.
	URL string

	tracesOnly bool // /v1/metrics answers 404, as Jaeger's does

	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
	raw     [][]byte // every decompressed body
}

// Start starts a collector, closed when the test ends. A request it cannot
// take (not a POST, another path, a body that does not decode) fails the
// test.
func Start(t testing.TB) *Collector { return start(t, false) }

// StartTracesOnly starts a collector that takes traces only and answers
// 404 to metrics, as Jaeger does with its default configuration.
func StartTracesOnly(t testing.TB) *Collector { return start(t, true) }

func start(t testing.TB, tracesOnly bool) *Collector {
	t.Helper()
	c := &Collector{tracesOnly: tracesOnly}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(t, w, r) }))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Env points the SDK's exporters at c through the environment, for the
// test: OTEL_EXPORTER_OTLP_ENDPOINT, with the signal-specific endpoints
// (which would win over it) and OTEL_SERVICE_NAME emptied.
func (c *Collector) Env(t testing.TB) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
}

func (c *Collector) serve(t testing.TB, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		t.Errorf("OTLP collector: %s %s", r.Method, r.URL.Path)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			t.Errorf("OTLP collector: gzip: %v", err)
			return
		}
		defer gz.Close()
		body = gz
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		t.Errorf("OTLP collector: reading %s: %v", r.URL.Path, err)
		return
	}
	var req, resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req, resp = &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		if c.tracesOnly {
			http.NotFound(w, r)
			return
		}
		req, resp = &colmetricpb.ExportMetricsServiceRequest{}, &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		t.Errorf("OTLP collector: POST to %s", r.URL.Path)
		return
	}
	if err := proto.Unmarshal(data, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		t.Errorf("OTLP collector: decoding %s: %v", r.URL.Path, err)
		return
	}
	c.mu.Lock()
	switch req := req.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		c.traces = append(c.traces, req)
	case *colmetricpb.ExportMetricsServiceRequest:
		c.metrics = append(c.metrics, req)
	}
	c.raw = append(c.raw, data)
	c.mu.Unlock()
	out, err := proto.Marshal(resp)
	if err != nil {
		t.Errorf("OTLP collector: %v", err)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// Requests returns how many exports of traces and of metrics arrived.
func (c *Collector) Requests() (traces, metrics int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.traces), len(c.metrics)
}

// Traces returns every export of spans received, in order.
func (c *Collector) Traces() []*coltracepb.ExportTraceServiceRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.traces)
}

// Metrics returns every export of metrics received, in order.
func (c *Collector) Metrics() []*colmetricpb.ExportMetricsServiceRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.metrics)
}

// Spans returns every span received.
func (c *Collector) Spans() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, req := range c.traces {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				out = append(out, ss.GetSpans()...)
			}
		}
	}
	return out
}

// SpanNames returns the names of every span received.
func (c *Collector) SpanNames() []string {
	var names []string
	for _, s := range c.Spans() {
		names = append(names, s.GetName())
	}
	return names
}

// Services returns the service.name of the resource of every batch of
// spans received.
func (c *Collector) Services() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, req := range c.traces {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					out = append(out, kv.GetValue().GetStringValue())
				}
			}
		}
	}
	return out
}

// LastMetrics returns the metrics received, by name; a later export of a
// metric replaces an earlier one (the temporality is cumulative).
func (c *Collector) LastMetrics() map[string]*metricpb.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*metricpb.Metric{}
	for _, req := range c.metrics {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					out[m.GetName()] = m
				}
			}
		}
	}
	return out
}

// Dump returns everything received: each request in protojson, and each
// decompressed body as it came, for searching.
func (c *Collector) Dump(t testing.TB) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	var msgs []proto.Message
	for _, req := range c.traces {
		msgs = append(msgs, req)
	}
	for _, req := range c.metrics {
		msgs = append(msgs, req)
	}
	for _, m := range msgs {
		js, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		b.WriteByte('\n')
	}
	for _, raw := range c.raw {
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}
