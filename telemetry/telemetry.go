// Package telemetry sets up kefu's OpenTelemetry traces and carries a
// request's id through a turn.
//
// Traces are off unless the standard OpenTelemetry variables ask for them:
// an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, OTEL_TRACES_EXPORTER unset or
// "otlp", and OTEL_SDK_DISABLED not "true". Then spans go over OTLP/HTTP
// to that endpoint, configured by the exporter's own OTEL_EXPORTER_OTLP_*
// variables (headers, timeout, TLS, compression), sampled by
// OTEL_TRACES_SAMPLER, named by OTEL_SERVICE_NAME (default "kefu") and
// OTEL_RESOURCE_ATTRIBUTES. Off, every span is the API's no-op and costs a
// function call.
//
// Spans carry ids, decisions, counts, scores and durations: never a
// message's text, a query, or anything that names a shopper.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is the tracer every kefu package starts its spans with; it
// follows the provider Setup installs.
func Tracer() trace.Tracer { return otel.Tracer("github.com/kefuhq/kefu") }

// Enabled reports whether the variables in getenv ask for traces.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))) {
	case "", "otlp":
	default:
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the trace provider the variables ask for (see the
// package comment) and W3C trace-context propagation, and returns what
// flushes and stops it. With traces off it installs nothing and the
// returned function does nothing. version is kefu's, for the resource.
// getenv decides whether traces are on; the exporter reads its own
// OTEL_EXPORTER_OTLP_* variables from the process environment.
func Setup(ctx context.Context, getenv func(string) string, version string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Enabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	if p := strings.ToLower(getenv("OTEL_EXPORTER_OTLP_PROTOCOL")); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: kefu exports traces over http/protobuf only", p)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "kefu"
	}
	// resource.WithFromEnv reads OTEL_RESOURCE_ATTRIBUTES and
	// OTEL_SERVICE_NAME; the explicit name is the default beneath them.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Start starts a span named name under ctx's span, with attrs.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording err (when not nil) as its error.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// StartRequest starts the server span of an HTTP request with method and
// request id, continuing the W3C trace context its header h carries.
func StartRequest(ctx context.Context, h http.Header, method, requestID string) (context.Context, trace.Span) {
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(h))
	return Tracer().Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("kefu.request_id", requestID)))
}

// EndRequest names a request's span after its method and route, records
// the response's status (an error from 500 on) and ends it.
func EndRequest(span trace.Span, method, route string, status int) {
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

func spanContext(ctx context.Context) trace.SpanContext { return trace.SpanContextFromContext(ctx) }
