package otelsetup

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/sqlpool/sqlpool/internal/otlptest"
)

func TestStartExportsSpansAndMetricsToTheEndpoint(t *testing.T) {
	c := otlptest.Start(t)
	c.Env(t)
	if got := Endpoint(); got != c.URL {
		t.Errorf("Endpoint() = %q, want $OTEL_EXPORTER_OTLP_ENDPOINT %q", got, c.URL)
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

	// The meter provider exports once more when it shuts down.
	if traces, metrics := c.Requests(); traces < 1 || metrics < 1 {
		t.Errorf("got %d trace and %d metric exports, want at least 1 of each", traces, metrics)
	}
	if spans := c.SpanNames(); !slices.Contains(spans, "test-span") {
		t.Errorf("spans received: %q, want test-span among them", spans)
	}
	services := c.Services()
	for _, s := range services {
		if s != "otelsetup-test" {
			t.Errorf("service.name: got %q, want otelsetup-test", s)
		}
	}
	if len(services) == 0 {
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
