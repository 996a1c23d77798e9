package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "OTLP"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
	} {
		if got := Enabled(env(tc.env)); got != tc.want {
			t.Errorf("Enabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// With an OTLP endpoint set, spans reach it over HTTP when the provider is
// shut down (the batch is flushed), named by OTEL_SERVICE_NAME.
func TestSetupExportsToTheEndpoint(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	prev := otel.GetTracerProvider()
	defer otel.SetTracerProvider(prev)
	// The exporter reads its own variables from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "kefu-test")
	shutdown, err := Setup(context.Background(), os.Getenv, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(context.Background(), "kefu.test")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no spans reached the OTLP endpoint")
	}
}

func TestSetupOffAndBadProtocol(t *testing.T) {
	shutdown, err := Setup(context.Background(), env(nil), "test")
	if err != nil || shutdown(context.Background()) != nil {
		t.Fatalf("Setup with nothing set: %v", err)
	}
	if _, err := Setup(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), "test"); err == nil {
		t.Error("grpc protocol accepted")
	}
}

func FuzzValidRequestID(f *testing.F) {
	f.Add("req-1")
	f.Add("a b")
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidRequestID(id) {
			return
		}
		if len(id) > MaxRequestIDLen {
			t.Fatalf("%q too long", id)
		}
		for _, c := range []byte(id) {
			if c < '-' || c > 'z' || c == '/' || c == '=' || c == '?' || c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '`' || c == ';' || c == '<' || c == '>' {
				t.Fatalf("%q holds %q", id, c)
			}
		}
	})
}
