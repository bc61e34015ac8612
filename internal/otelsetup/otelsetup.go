// Package otelsetup installs OpenTelemetry SDK tracer and meter providers
// that export over OTLP/HTTP, for the sqlpool demo and examples.
//
// sqlpool takes its tracer and meter from the global providers
// (otel.GetTracerProvider, otel.GetMeterProvider), so once Start has run, a
// program's sqlpool spans and metrics are exported with no sqlpool-specific
// code.
//
// Everything else is configured by the standard OpenTelemetry environment
// variables, which the SDK and its exporters read themselves, among them:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT   the collector's base URL (default http://localhost:4318);
//	                              /v1/traces and /v1/metrics are appended
//	OTEL_EXPORTER_OTLP_HEADERS    headers sent with each export, e.g. authorization
//	OTEL_METRIC_EXPORT_INTERVAL   milliseconds between metric exports (default here 5000)
//	OTEL_METRICS_EXPORTER         none exports no metrics (for a collector that takes traces only)
//	OTEL_SERVICE_NAME             overrides the serviceName passed to Start
//	OTEL_RESOURCE_ATTRIBUTES      more resource attributes, key=value,...
package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// DefaultEndpoint is where Start's exporters send when the environment sets
// no endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT): the OTLP/HTTP port of a local
// collector, such as Jaeger's.
const DefaultEndpoint = "http://localhost:4318"

// MetricInterval is the time between metric exports unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise.
const MetricInterval = 5 * time.Second

// Endpoint describes where Start's exporters send, for a program to print:
// the value of OTEL_EXPORTER_OTLP_ENDPOINT, or DefaultEndpoint marked as
// the default. It only reads the variable; the exporters parse it.
func Endpoint() string {
	if v := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		return v
	}
	return DefaultEndpoint + " (default)"
}

// Batching of spans: a load of tens of thousands of queries a second (the
// demo's) ends as many spans; the SDK's defaults (a queue of 2,048 spans
// sent every 5 s) would drop most of them. These hold about a second of
// such a load and send it as it comes.
const (
	spanQueue     = 1 << 16
	spanBatch     = 4096
	spanBatchWait = 200 * time.Millisecond
)

// SDK is the providers Start installed.
type SDK struct {
	tp       *sdktrace.TracerProvider
	mp       *sdkmetric.MeterProvider // nil with OTEL_METRICS_EXPORTER=none
	ended    *countingProcessor
	exported *countingExporter
}

// Report says what Shutdown exported: spans ended and spans the collector
// took (the rest were dropped, the batch queue full, or failed to export),
// and the metrics' error, which does not fail a program whose traces went
// through (Jaeger's default configuration takes traces only).
type Report struct {
	SpansEnded, SpansExported int64
	MetricsErr                error
}

// Dropped is how many ended spans never reached the collector.
func (r Report) Dropped() int64 { return max(0, r.SpansEnded-r.SpansExported) }

// Start builds an SDK TracerProvider (batching spans to an OTLP/HTTP trace
// exporter) and, unless OTEL_METRICS_EXPORTER=none, a MeterProvider (a
// PeriodicReader exporting to an OTLP/HTTP metric exporter), both with a
// resource whose service.name is serviceName, and installs them as the
// global providers, along with the W3C trace-context and baggage
// propagators. Export errors go to the global OpenTelemetry error handler,
// which Start sets to log each distinct error once.
//
// Nothing is dialed yet: an unreachable collector shows up later, as export
// errors and in Shutdown's result. Call Shutdown once, before the program
// exits.
func Start(ctx context.Context, serviceName string) (*SDK, error) {
	// The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) comes
	// last, so it overrides serviceName.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(serviceName)),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("otelsetup: building the resource: %w", err)
	}
	// The exporters read OTEL_EXPORTER_OTLP_ENDPOINT and the other
	// OTEL_EXPORTER_OTLP_* variables themselves. Only their default differs
	// from the specification's: https://localhost:4318, which a local
	// collector such as Jaeger does not serve; make it http.
	var traceOpts []otlptracehttp.Option
	if defaultEndpoint("TRACES") {
		traceOpts = append(traceOpts, otlptracehttp.WithInsecure())
	}
	traceExp, err := otlptracehttp.New(ctx, traceOpts...)
	if err != nil {
		return nil, fmt.Errorf("otelsetup: creating the OTLP trace exporter: %w", err)
	}
	s := &SDK{ended: &countingProcessor{}, exported: &countingExporter{SpanExporter: traceExp}}
	s.tp = sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(s.ended),
		sdktrace.WithBatcher(s.exported,
			sdktrace.WithMaxQueueSize(spanQueue),
			sdktrace.WithMaxExportBatchSize(spanBatch),
			sdktrace.WithBatchTimeout(spanBatchWait)),
		sdktrace.WithResource(res),
	)
	if MetricsOn() {
		var metricOpts []otlpmetrichttp.Option
		if defaultEndpoint("METRICS") {
			metricOpts = append(metricOpts, otlpmetrichttp.WithInsecure())
		}
		metricExp, err := otlpmetrichttp.New(ctx, metricOpts...)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("otelsetup: creating the OTLP metric exporter: %w", err), s.tp.Shutdown(ctx))
		}
		// An explicit WithInterval would override OTEL_METRIC_EXPORT_INTERVAL,
		// which the reader reads itself: set ours only when the variable is not.
		var readerOpts []sdkmetric.PeriodicReaderOption
		if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
			readerOpts = append(readerOpts, sdkmetric.WithInterval(MetricInterval))
		}
		s.mp = sdkmetric.NewMeterProvider(
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, readerOpts...)),
			sdkmetric.WithResource(res),
		)
		otel.SetMeterProvider(s.mp)
	}
	otel.SetTracerProvider(s.tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
	))
	otel.SetErrorHandler(&onceHandler{seen: map[string]bool{}})
	return s, nil
}

// MetricsOn reports whether metrics are exported: unless
// OTEL_METRICS_EXPORTER is none (the specification's variable; only otlp
// and none are known here).
func MetricsOn() bool { return strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER")) != "none" }

// FlushMetrics exports the metrics now, before the program closes what
// they observe (an *sql.DB, whose pool gauges go with it).
func (s *SDK) FlushMetrics(ctx context.Context) error {
	if s.mp == nil {
		return nil
	}
	return s.mp.ForceFlush(ctx)
}

// Shutdown flushes the spans and metrics not yet exported and shuts both
// providers down, within ctx. Its error is the traces': a failed metrics
// export is in the Report. The global providers stay installed after it,
// and record nothing more.
func (s *SDK) Shutdown(ctx context.Context) (Report, error) {
	// Spans first: ending spans may still record metrics.
	var r Report
	terr := s.tp.Shutdown(ctx)
	if s.mp != nil {
		r.MetricsErr = s.mp.Shutdown(ctx)
	}
	r.SpansEnded, r.SpansExported = s.ended.n.Load(), s.exported.n.Load()
	if terr != nil {
		return r, fmt.Errorf("otelsetup: exporting the spans: %w", terr)
	}
	return r, nil
}

// countingProcessor counts the spans that end (and are sampled).
type countingProcessor struct{ n atomic.Int64 }

func (p *countingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p *countingProcessor) OnEnd(sdktrace.ReadOnlySpan)                     { p.n.Add(1) }
func (p *countingProcessor) Shutdown(context.Context) error                  { return nil }
func (p *countingProcessor) ForceFlush(context.Context) error                { return nil }

// countingExporter counts the spans the collector took.
type countingExporter struct {
	sdktrace.SpanExporter
	n atomic.Int64
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		e.n.Add(int64(len(spans)))
	}
	return err
}

// onceHandler logs each distinct OpenTelemetry error once: a collector
// that rejects metrics would otherwise be logged at every export.
type onceHandler struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (h *onceHandler) Handle(err error) {
	msg := err.Error()
	h.mu.Lock()
	first := !h.seen[msg]
	h.seen[msg] = true
	h.mu.Unlock()
	if first {
		log.Printf("OpenTelemetry: %v (logged once)", err)
	}
}

// defaultEndpoint reports whether the exporter of signal ("TRACES",
// "METRICS") is left with its built-in endpoint: no endpoint and no
// insecure setting in the environment, general or for that signal. Like the
// exporters, it takes a blank variable as unset.
func defaultEndpoint(signal string) bool {
	for _, name := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT",
		"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_" + signal + "_INSECURE",
	} {
		if strings.TrimSpace(os.Getenv(name)) != "" {
			return false
		}
	}
	return true
}
