package api_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/telemetry"
)

// A request's id (the client's X-Request-ID when it is well formed, a new
// one otherwise) comes back in the response, names the request's log
// lines, its trace and the turn's debug line, and is stored with the
// turn's messages, so an answer an agent sees can be found in the logs.
func TestRequestIDThroughLogsTracesAndStore(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	e := newDeskEnv(t)
	const msg = "Where can I find the blue teapot?"
	send := func(id string, text ...string) (string, api.ChatResponse) {
		body := api.ChatRequest{Message: msg}
		if len(text) > 0 {
			body.Message = text[0]
		}
		rr := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, body),
			append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"), telemetry.HeaderRequestID, id)...)
		if rr.Code != http.StatusOK {
			t.Fatalf("chat: %d %s", rr.Code, rr.Body)
		}
		return rr.Header().Get(telemetry.HeaderRequestID), decode[api.ChatResponse](t, rr.Body.Bytes())
	}
	got, resp := send("req-7f3a.b_c:9")
	if got != "req-7f3a.b_c:9" {
		t.Errorf("X-Request-ID came back %q", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("a", telemetry.MaxRequestIDLen+1), "new\nline"} {
		if id, _ := send(bad); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Errorf("X-Request-ID %q came back as %q, want a new id", bad, id)
		}
	}

	msgs, err := e.store.Messages(context.Background(), resp.ConversationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	for _, m := range msgs {
		if m.RequestID != "req-7f3a.b_c:9" {
			t.Errorf("%s message stored with request id %q", m.Role, m.RequestID)
		}
	}

	logs := e.logs.String()
	var turnLine, requestLine string
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "request_id=req-7f3a.b_c:9") {
			continue
		}
		switch {
		case strings.Contains(line, "msg=turn "):
			turnLine = line
		case strings.Contains(line, "msg=request "):
			requestLine = line
		}
	}
	if requestLine == "" || turnLine == "" {
		t.Fatalf("no request or turn line with the request id in:\n%s", logs)
	}
	for _, want := range []string{"decision=", "intent=", "top_scores=", "retrieval=", "model=", "elapsed="} {
		if !strings.Contains(turnLine, want) {
			t.Errorf("turn line lacks %s: %s", want, turnLine)
		}
	}
	if strings.Contains(logs, "teapot") || strings.Contains(logs, "C1001") {
		t.Errorf("the logs hold the shopper's words or id:\n%s", logs)
	}

	// The handoff packet names the request of each line and attempt.
	_, handed := send("req-handoff-1", "human please")
	if handed.TicketID == "" {
		t.Fatalf("no ticket: %+v", handed)
	}
	ticket := string(e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+handed.TicketID, ""))
	if !strings.Contains(ticket, `"request_id":"req-handoff-1"`) {
		t.Errorf("the handoff packet does not name the request: %s", ticket)
	}

	names := map[string]bool{}
	for _, sp := range rec.Ended() {
		names[sp.Name()] = true
		for _, a := range sp.Attributes() {
			if strings.Contains(a.Value.Emit(), "teapot") {
				t.Errorf("span %s attribute %s holds the shopper's words", sp.Name(), a.Key)
			}
		}
	}
	for _, want := range []string{"POST /v1/chat", "kefu.store.question", "kefu.store.answer"} {
		if !names[want] {
			t.Errorf("no span %q in %v", want, names)
		}
	}
}
