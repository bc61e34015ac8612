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
//	OTEL_SERVICE_NAME             overrides the serviceName passed to Start
//	OTEL_RESOURCE_ATTRIBUTES      more resource attributes, key=value,...
package otelsetup

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

// Start builds an SDK TracerProvider (batching spans to an OTLP/HTTP trace
// exporter) and MeterProvider (a PeriodicReader exporting to an OTLP/HTTP
// metric exporter), both with a resource whose service.name is serviceName,
// and installs them as the global providers, along with the W3C trace-context
// and baggage propagators.
//
// Nothing is dialed yet: an unreachable collector shows up later, as export
// errors reported to the global OpenTelemetry error handler (logged to
// stderr by default) and as shutdown's error.
//
// shutdown flushes the spans and metrics not yet exported and shuts both
// providers down; call it once, before the program exits, with a context
// that bounds how long it may take. The global providers stay installed
// after it, and record nothing more.
func Start(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
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
	var metricOpts []otlpmetrichttp.Option
	if defaultEndpoint("METRICS") {
		metricOpts = append(metricOpts, otlpmetrichttp.WithInsecure())
	}
	traceExp, err := otlptracehttp.New(ctx, traceOpts...)
	if err != nil {
		return nil, fmt.Errorf("otelsetup: creating the OTLP trace exporter: %w", err)
	}
	metricExp, err := otlpmetrichttp.New(ctx, metricOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("otelsetup: creating the OTLP metric exporter: %w", err), traceExp.Shutdown(ctx))
	}

	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(traceExp),
		sdktrace.WithResource(res),
	)
	// An explicit WithInterval would override OTEL_METRIC_EXPORT_INTERVAL,
	// which the reader reads itself: set ours only when the variable is not.
	var readerOpts []sdkmetric.PeriodicReaderOption
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(MetricInterval))
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, readerOpts...)),
		sdkmetric.WithResource(res),
	)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
	))

	return func(ctx context.Context) error {
		// Spans first: ending spans may still record metrics.
		var errs []error
		if err := tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutting down the tracer provider: %w", err))
		}
		if err := mp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutting down the meter provider: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("otelsetup: %w", err)
		}
		return nil
	}, nil
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
