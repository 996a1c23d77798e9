package rag

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kefuhq/kefu"
)

// recordSpans installs a tracer provider that records every span for the
// test's length.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec
}

// A turn's stages are spans under the caller's: understanding, planning
// with its retrieval, and the answer's generation; none carries the
// shopper's words.
func TestTurnSpans(t *testing.T) {
	rec := recordSpans(t)
	const msg = "how long do I have to return my kettle"
	s := &fakeSearcher{SearchFn: func(context.Context, kefu.Query) ([]kefu.Hit, error) { return []kefu.Hit{policyHit(0.9)}, nil }}
	g := &fakeGenerator{pieces: []string{"Return within 30 days.", " [1]"}}
	ctx, root := otel.Tracer("test").Start(context.Background(), "request")
	if _, err := Collect(newTestPipeline(s, g).Stream(ctx, Turn{Message: msg})); err != nil {
		t.Fatal(err)
	}
	root.End()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		byName[sp.Name()] = sp
		if sp.Name() != "request" && sp.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %s is not in the request's trace", sp.Name())
		}
		for _, a := range sp.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, "kettle") {
				t.Errorf("span %s attribute %s = %q holds the shopper's words", sp.Name(), a.Key, v)
			}
		}
	}
	for _, name := range []string{"kefu.understand", "kefu.plan", "kefu.retrieve", "kefu.generate"} {
		if byName[name] == nil {
			t.Errorf("no %s span; got %v", name, keys(byName))
		}
	}
	if sp := byName["kefu.retrieve"]; sp != nil {
		if sp.Parent().SpanID() != byName["kefu.plan"].SpanContext().SpanID() {
			t.Error("retrieval is not under planning")
		}
		var hits int64 = -1
		for _, a := range sp.Attributes() {
			if a.Key == "kefu.hits" {
				hits = a.Value.AsInt64()
			}
		}
		if hits != 1 {
			t.Errorf("kefu.hits = %d, want 1", hits)
		}
	}
	if sp := byName["kefu.plan"]; sp != nil && !hasAttr(sp, "kefu.decision", DecideAnswer) {
		t.Errorf("plan span attributes %v lack the decision", sp.Attributes())
	}
}

func keys(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func hasAttr(sp sdktrace.ReadOnlySpan, key, value string) bool {
	for _, a := range sp.Attributes() {
		if string(a.Key) == key && a.Value.Emit() == value {
			return true
		}
	}
	return false
}
