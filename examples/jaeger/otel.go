package main

// This file installs the OpenTelemetry SDK: the part of the example to copy
// into a program of your own. sqlpool needs nothing more; it takes its
// tracer and meter from the global providers set here.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
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

// sdk is what setupOTel installed.
type sdk struct {
	tracerProvider *sdktrace.TracerProvider
	meterProvider  *sdkmetric.MeterProvider // nil with OTEL_METRICS_EXPORTER=none
}

// setupOTel installs SDK tracer and meter providers, exporting over
// OTLP/HTTP, as the global providers, with the W3C trace-context and baggage
// propagators. The exporters read the standard OTEL_EXPORTER_OTLP_*
// variables themselves (OTEL_EXPORTER_OTLP_ENDPOINT, ..._HEADERS, ...).
// OTEL_METRICS_EXPORTER=none installs no meter provider: for a collector
// that takes traces only, as Jaeger's default configuration does.
//
// Nothing is dialed yet: an unreachable collector shows up as export errors
// (logged to stderr) and in shutdown's errors.
func setupOTel(ctx context.Context, serviceName string) (*sdk, error) {
	// The resource: the attributes every span and metric carries. The
	// environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) comes last,
	// so it overrides serviceName.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(serviceName)),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("building the resource: %w", err)
	}

	// With no endpoint in the environment, the exporters send to
	// https://localhost:4318, but a local Jaeger serves plain HTTP there.
	// Ask for http unless the environment chooses the endpoint or the
	// scheme.
	var traceOpts []otlptracehttp.Option
	if unset("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE") {
		traceOpts = append(traceOpts, otlptracehttp.WithInsecure())
	}

	// Traces: spans are batched, then sent to the trace exporter.
	traceExporter, err := otlptracehttp.New(ctx, traceOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the trace exporter: %w", err)
	}
	s := &sdk{tracerProvider: sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(traceExporter),
		sdktrace.WithResource(res),
	)}

	// Metrics, unless OTEL_METRICS_EXPORTER=none: a PeriodicReader collects
	// them and sends them to the metric exporter every 5s. It reads
	// OTEL_METRIC_EXPORT_INTERVAL itself, but WithInterval would override
	// it: set 5s only when the variable is not.
	if strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER")) != "none" {
		var metricOpts []otlpmetrichttp.Option
		if unset("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
			"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_METRICS_INSECURE") {
			metricOpts = append(metricOpts, otlpmetrichttp.WithInsecure())
		}
		metricExporter, err := otlpmetrichttp.New(ctx, metricOpts...)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("creating the metric exporter: %w", err), s.tracerProvider.Shutdown(ctx))
		}
		var readerOpts []sdkmetric.PeriodicReaderOption
		if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
			readerOpts = append(readerOpts, sdkmetric.WithInterval(5*time.Second))
		}
		s.meterProvider = sdkmetric.NewMeterProvider(
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExporter, readerOpts...)),
			sdkmetric.WithResource(res),
		)
		otel.SetMeterProvider(s.meterProvider)
	}

	// Install them globally, where sqlpool (and otel.Tracer, otel.Meter)
	// find them.
	otel.SetTracerProvider(s.tracerProvider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
	))
	return s, nil
}

// flushMetrics exports the metrics now. Call it before closing what they
// observe: sqlpool's pool gauges (connections idle, in use, pending) go
// with its *sql.DB.
func (s *sdk) flushMetrics(ctx context.Context) error {
	if s.meterProvider == nil {
		return nil
	}
	return s.meterProvider.ForceFlush(ctx)
}

// shutdown exports the spans and metrics not yet sent and stops both
// providers. The errors are apart: a program whose spans went through need
// not fail because the collector refused its metrics.
func (s *sdk) shutdown(ctx context.Context) (tracesErr, metricsErr error) {
	// Traces first: ending spans may still record metrics. The meter
	// provider exports its metrics a last time as it shuts down.
	tracesErr = s.tracerProvider.Shutdown(ctx)
	if s.meterProvider != nil {
		metricsErr = s.meterProvider.Shutdown(ctx)
	}
	return tracesErr, metricsErr
}

// unset reports whether none of the environment variables names is set to
// something other than blanks.
func unset(names ...string) bool {
	for _, name := range names {
		if strings.TrimSpace(os.Getenv(name)) != "" {
			return false
		}
	}
	return true
}

// endpoint describes where the exporters send, for error messages.
func endpoint() string {
	if v := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		return v
	}
	return "http://localhost:4318 (default)"
}
