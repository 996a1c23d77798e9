package api_test

import (
	"context"
	"errors"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	rec := e.do(t, http.MethodGet, "/healthz", "")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if got := decode[api.HealthResponse](t, rec.Body.Bytes()); got != (api.HealthResponse{Status: "ok", Version: "test"}) {
		t.Errorf("healthz = %+v", got)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks map[string]api.Check
		status int
		want   api.ReadyResponse
	}{
		{"no checks", nil, 200, api.ReadyResponse{Status: "ready", Checks: map[string]string{}}},
		{"all pass", map[string]api.Check{"conversations": ok, "chunks": ok}, 200,
			api.ReadyResponse{Status: "ready", Checks: map[string]string{"conversations": "ok", "chunks": "ok"}}},
		{"one fails", map[string]api.Check{
			"conversations": ok,
			"llm": func(context.Context) error {
				return kefu.Errorf(kefu.EUnavailable, "the language model is unreachable")
			},
			"qdrant": func(context.Context) error { return errors.New("dial tcp 10.0.0.7:6334: connection refused") },
			"stuck":  func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			"panics": func(context.Context) error { var p *store.Bolt; return p.Ping(context.Background()) },
		}, 503, api.ReadyResponse{Status: "unavailable", Checks: map[string]string{
			"conversations": "ok",
			"llm":           "the language model is unreachable",
			"qdrant":        "failed (the cause is in the server log)",
			"stuck":         "timed out after 10ms",
			"panics":        "failed (the cause is in the server log)",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *api.Config, d *api.Deps) {
				c.CheckTimeout = 10 * time.Millisecond
				d.Readiness = tt.checks
			})
			rec := e.do(t, http.MethodGet, "/readyz", "")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := decode[api.ReadyResponse](t, rec.Body.Bytes()); !jsonEqual(t, got, tt.want) {
				t.Errorf("readyz = %+v\nwant     %+v", got, tt.want)
			}
			if tt.status != 200 && !strings.Contains(e.logs.String(), "connection refused") {
				t.Errorf("the cause is not in the log:\n%s", e.logs)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.answerer.StreamFn = func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
		evs := answerEvents(theAnswer)
		esc := rag.Event{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: "anger"}}
		return events(nil, append(evs[:4], esc, evs[4])...)
	}
	if rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`); rec.Code != 200 {
		t.Fatalf("chat: %d", rec.Code)
	}
	e.do(t, http.MethodPost, "/v1/chat", `{"message":""}`)
	rec := e.do(t, http.MethodGet, "/metrics", "")
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`kefu_chat_turns_total{decision="answer",intent="return_refund"} 1`,
		`kefu_escalations_total{reason="anger"} 1`,
		`kefu_http_requests_total{route="/v1/chat",status="200"} 1`,
		`kefu_http_requests_total{route="/v1/chat",status="400"} 1`,
		`kefu_chat_duration_seconds_count{mode="json"} 1`,
		`kefu_chat_overhead_seconds_count{mode="json"} 1`,
		`kefu_build_info{version="test"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSharedRegistry(t *testing.T) {
	// Two servers on one registry share their metrics rather than fail.
	reg := prometheus.NewRegistry()
	a := api.New(api.Config{}, api.Deps{Registry: reg})
	b := api.New(api.Config{}, api.Deps{Registry: reg})
	for _, s := range []*api.Server{a, b} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `kefu_http_requests_total{route="/healthz",status="200"} 2`) {
		t.Errorf("metrics:\n%s", rec.Body)
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/nope", 404, kefu.ENotFound},
		{http.MethodGet, "/v1/chat/", 404, kefu.ENotFound},
		{http.MethodGet, "/v1/chat", 405, "method_not_allowed"},
		{http.MethodDelete, "/healthz", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		rec := e.do(t, tt.method, tt.path, "")
		wantError(t, rec, tt.status, tt.code)
	}
	if rec := e.do(t, http.MethodGet, "/v1/chat", ""); rec.Header().Get("Allow") != "POST" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
}

func TestChatNotConfigured(t *testing.T) {
	s := api.New(api.Config{OpenShopperRoutes: true}, api.Deps{})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader(`{"message":"hi"}`)))
	wantError(t, rec, 503, kefu.EUnavailable)
}

// panicStore panics when a conversation is started, to exercise recovery.
type panicStore struct{ *memStore }

func (panicStore) StartConversation(context.Context, string, string, store.Message) (store.Conversation, store.Message, error) {
	var convs map[string]store.Conversation
	convs["x"] = store.Conversation{} // a nil map write
	return store.Conversation{}, store.Message{}, nil
}

func TestRecoverPanic(t *testing.T) {
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.Conversations = panicStore{newMemStore()} })
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`)
	body := wantError(t, rec, 500, kefu.EInternal)
	if body.Message != "internal error" {
		t.Errorf("message %q", body.Message)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "panic: assignment to entry in nil map") || !strings.Contains(logs, "level=ERROR") {
		t.Errorf("the panic is not logged:\n%s", logs)
	}
	// The server still serves.
	if rec := e.do(t, http.MethodGet, "/healthz", ""); rec.Code != 200 {
		t.Errorf("healthz after a panic: %d", rec.Code)
	}
}

func TestOpenModeWarning(t *testing.T) {
	e := newEnv(t)
	if logs := e.logs.String(); strings.Count(logs, "no API keys are configured") != 1 || !strings.Contains(logs, "level=WARN") {
		t.Errorf("want one warning about open mode:\n%s", logs)
	}
	k := newEnv(t, withKeys(t, authKey("w", "wk_0123456789abcdef")))
	if strings.Contains(k.logs.String(), "no API keys") {
		t.Error("warned about open mode with keys configured")
	}
}

func TestServeShutdown(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after shutdown", err)
	}
}

func TestListenAndServeBadAddr(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.ListenAndServe(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Fatal("ListenAndServe on a bad address succeeded")
	}
}
