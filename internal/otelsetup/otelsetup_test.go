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

	sdk, err := Start(ctx, "otelsetup-test")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	_, span := otel.Tracer("test").Start(ctx, "test-span")
	span.End()
	r, err := sdk.Shutdown(ctx)
	if err != nil || r.MetricsErr != nil {
		t.Fatalf("Shutdown: %v, metrics: %v", err, r.MetricsErr)
	}
	if r.SpansEnded != 1 || r.SpansExported != 1 || r.Dropped() != 0 {
		t.Errorf("Shutdown's report: %d ended, %d exported, %d dropped; want 1, 1, 0", r.SpansEnded, r.SpansExported, r.Dropped())
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

// TestShutdownSucceedsWhenTheCollectorTakesTracesOnly: a collector that
// answers 404 to metrics (Jaeger's default configuration) gets the spans,
// and only the report says the metrics were not taken; with
// OTEL_METRICS_EXPORTER=none no metrics are sent at all.
func TestShutdownSucceedsWhenTheCollectorTakesTracesOnly(t *testing.T) {
	for _, none := range []bool{false, true} {
		t.Run(map[bool]string{false: "metrics rejected", true: "OTEL_METRICS_EXPORTER=none"}[none], func(t *testing.T) {
			c := otlptest.StartTracesOnly(t)
			c.Env(t)
			if none {
				t.Setenv("OTEL_METRICS_EXPORTER", "none")
			}
			ctx := context.Background()
			sdk, err := Start(ctx, "otelsetup-test")
			if err != nil {
				t.Fatal(err)
			}
			_, span := otel.Tracer("test").Start(ctx, "test-span")
			span.End()
			otel.Meter("test").Int64Counter("test.counter")
			if err := sdk.FlushMetrics(ctx); (err == nil) == !none {
				t.Errorf("FlushMetrics: got %v", err)
			}
			r, err := sdk.Shutdown(ctx)
			if err != nil {
				t.Fatalf("Shutdown: %v, want nil: the spans went through", err)
			}
			if (r.MetricsErr == nil) == !none {
				t.Errorf("the report's metrics error: got %v", r.MetricsErr)
			}
			if r.SpansExported != 1 {
				t.Errorf("got %d spans exported, want 1", r.SpansExported)
			}
			if spans := c.SpanNames(); !slices.Contains(spans, "test-span") {
				t.Errorf("spans received: %q, want test-span", spans)
			}
		})
	}
}
