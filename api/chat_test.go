package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

const theAnswer = "Opened headphones can be returned within 30 days [1]."

func TestChatJSON(t *testing.T) {
	e := newEnv(t)
	var turns []rag.Turn
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		turns = append(turns, tr)
		return events(nil, answerEvents(theAnswer)...)
	}
	tok := token(t, "cust-1")

	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"Can I return opened headphones?","locale":"EN"}`,
		api.HeaderCustomerToken, tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "RETRIEVED-TEXT-NEVER-SENT") || strings.Contains(rec.Body.String(), "query") {
		t.Errorf("reply leaks retrieval details: %s", rec.Body)
	}
	got := decode[api.ChatResponse](t, rec.Body.Bytes())
	conv := e.store.only(t)
	msgs := e.store.all(t, conv.ID)
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2", len(msgs))
	}
	want := api.ChatResponse{
		ConversationID: conv.ID,
		MessageID:      msgs[1].ID,
		Answer:         theAnswer,
		Citations:      []api.Citation{{N: 1, DocID: "policy-returns", Title: "Returns", Source: "policies/returns.md", Snippet: "within 30 days", Score: 0.82}},
		Intent:         "return_refund",
		Backend:        "extractive",
		Decision:       rag.DecideAnswer,
		Locale:         "en",
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("reply = %+v\nwant    %+v", got, want)
	}
	if conv.CustomerID != "cust-1" || conv.Channel != "web" {
		t.Errorf("conversation = %+v", conv)
	}
	if u := msgs[0]; u.Role != kefu.RoleUser || u.Content != "Can I return opened headphones?" {
		t.Errorf("user message = %+v", u)
	}
	a := msgs[1]
	if a.Role != kefu.RoleAssistant || a.Content != theAnswer || a.Intent != "return_refund" ||
		a.Decision != rag.DecideAnswer || a.Escalated || a.Partial {
		t.Errorf("assistant message = %+v", a)
	}
	if cites := decode[[]api.Citation](t, a.Citations); len(cites) != 1 || cites[0].DocID != "policy-returns" {
		t.Errorf("stored citations = %s", a.Citations)
	}
	if tr := turns[0]; tr.ConversationID != conv.ID || tr.CustomerID != "cust-1" || tr.Locale != "en" ||
		tr.Channel != "web" || tr.Message != "Can I return opened headphones?" || len(tr.History) != 0 {
		t.Errorf("turn = %+v", tr)
	}

	// The next turn continues the conversation and sees its history.
	rec = e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: conv.ID, Message: "And shipping?", Channel: "app_ios"}),
		api.HeaderCustomerToken, tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("second turn: status %d: %s", rec.Code, rec.Body)
	}
	tr := turns[1]
	wantHistory := []kefu.Message{{Role: kefu.RoleUser, Content: "Can I return opened headphones?"}, {Role: kefu.RoleAssistant, Content: theAnswer}}
	if !jsonEqual(t, tr.History, wantHistory) || tr.Locale != "" || tr.Channel != "app_ios" {
		t.Errorf("second turn = %+v", tr)
	}
	if n := len(e.store.all(t, conv.ID)); n != 4 {
		t.Errorf("stored %d messages after two turns, want 4", n)
	}
}

func TestChatHistoryLimit(t *testing.T) {
	e := newEnv(t)
	var last rag.Turn
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		last = tr
		return events(nil, answerEvents(theAnswer)...)
	}
	conv, _ := e.store.CreateConversation(context.Background(), "", "web")
	for i := range 30 {
		e.store.AppendMessage(context.Background(), store.Message{ConversationID: conv.ID, Role: kefu.RoleUser, Content: string(rune('a' + i%26))})
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: conv.ID, Message: "now"}))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(last.History) != 20 {
		t.Fatalf("history has %d messages, want 20", len(last.History))
	}
	if first, lastMsg := last.History[0].Content, last.History[19].Content; first != "k" || lastMsg != "d" {
		t.Errorf("history runs %q..%q, want the 20 before the current message (k..d)", first, lastMsg)
	}
}

func TestChatStoresUserMessageBeforeAnswering(t *testing.T) {
	e := newEnv(t)
	called := false
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		called = true
		msgs := e.store.all(t, tr.ConversationID)
		if len(msgs) != 1 || msgs[0].Role != kefu.RoleUser || msgs[0].Content != "where is my parcel" {
			t.Errorf("when the answerer starts, the store holds %+v", msgs)
		}
		return events(kefu.Errorf(kefu.EUnavailable, "the language model is unreachable"))
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"where is my parcel"}`)
	if !called {
		t.Fatal("answerer not called")
	}
	// Nothing was produced: the shopper is told so, offered a person,
	// and keeps their place (the conversation id and a stored answer).
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 with a degraded answer: %s", rec.Code, rec.Body)
	}
	got := decode[api.ChatResponse](t, rec.Body.Bytes())
	msgs := e.store.all(t, e.store.only(t).ID)
	if len(msgs) != 2 || msgs[0].Role != kefu.RoleUser || msgs[1].Role != kefu.RoleAssistant || msgs[1].Partial {
		t.Fatalf("stored %+v", msgs)
	}
	if got.ConversationID != e.store.only(t).ID || got.MessageID != msgs[1].ID || !got.Degraded || got.Partial ||
		!strings.Contains(got.Answer, "human") || got.Answer != msgs[1].Content || msgs[1].ReplyTo != msgs[0].ID {
		t.Errorf("reply %+v, stored %+v", got, msgs[1])
	}
	if !strings.Contains(e.logs.String(), "the language model is unreachable") {
		t.Errorf("the cause is not in the log:\n%s", e.logs)
	}
}

func TestChatPartialAnswerKept(t *testing.T) {
	failing := func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		evs := answerEvents(theAnswer)[:2] // meta and the first delta
		return events(errors.New("generator connection reset"), evs...)
	}
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "sse"}[stream], func(t *testing.T) {
			e := newEnv(t)
			e.answerer.StreamFn = failing
			var header []string
			if stream {
				header = []string{"Accept", "text/event-stream"}
			}
			rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"Can I return opened headphones?"}`, header...)
			if stream {
				evs := readSSE(t, rec.Body, nil)
				if got := strings.Join(names(evs, true), ","); got != "meta,delta,error,delta,done" {
					t.Fatalf("events = %s", got)
				}
				body := decode[api.ErrorBody](t, []byte(evs[2].data))
				if body.Code != kefu.EInternal || body.Message != "internal error" {
					t.Errorf("error event = %+v (the cause must stay in the log)", body)
				}
				if note := decode[api.StreamDelta](t, []byte(evs[3].data)); !strings.Contains(note.Text, "cut short") {
					t.Errorf("the note after the error: %+v", note)
				}
				rec.Body.Reset()
				rec.Body.WriteString(evs[4].data) // the done event is the JSON reply
			} else if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200 with the partial answer: %s", rec.Code, rec.Body)
			}
			got := decode[api.ChatResponse](t, rec.Body.Bytes())
			msgs := e.store.all(t, e.store.only(t).ID)
			if len(msgs) != 2 {
				t.Fatalf("stored %d messages, want 2", len(msgs))
			}
			half := theAnswer[:len(theAnswer)/2]
			if a := msgs[1]; !a.Partial || !strings.HasPrefix(a.Content, half+"\n\n") || a.Intent != "return_refund" || a.ReplyTo != msgs[0].ID {
				t.Errorf("partial answer stored as %+v", a)
			}
			if !got.Partial || !got.Degraded || got.Answer != msgs[1].Content || got.MessageID != msgs[1].ID || got.ConversationID != msgs[0].ConversationID {
				t.Errorf("reply %+v", got)
			}
			if !strings.Contains(e.logs.String(), "generator connection reset") {
				t.Errorf("the cause is not in the log:\n%s", e.logs)
			}
		})
	}
}

func TestChatSSE(t *testing.T) {
	e := newEnv(t)
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		evs := answerEvents(theAnswer)
		esc := rag.Event{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: "requested", Team: "returns"}}
		evs = append(evs[:4], esc, evs[4])
		evs[0].Meta.Decision = rag.DecideEscalate
		return events(nil, evs...)
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"I want a human","locale":"en"}`,
		"Accept", "text/html, text/event-stream;q=0.9")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("content type %q", ct)
	}
	raw := rec.Body.String()
	if strings.Contains(raw, "RETRIEVED-TEXT-NEVER-SENT") || strings.Contains(raw, `"query"`) {
		t.Errorf("stream leaks retrieval details: %s", raw)
	}
	evs := readSSE(t, strings.NewReader(raw), nil)
	if got := strings.Join(names(evs, true), ","); got != "meta,delta,delta,citations,escalation,done" {
		t.Fatalf("events = %s", got)
	}
	conv := e.store.only(t)
	msgs := e.store.all(t, conv.ID)

	meta := decode[map[string]any](t, []byte(evs[0].data))
	wantMeta := map[string]any{"conversation_id": conv.ID, "intent": "return_refund", "locale": "en",
		"sentiment": "neutral", "decision": rag.DecideEscalate, "backend": "extractive"}
	if !jsonEqual(t, meta, wantMeta) {
		t.Errorf("meta = %v, want %v", meta, wantMeta)
	}
	var text string
	for _, ev := range evs[1:3] {
		text += decode[api.StreamDelta](t, []byte(ev.data)).Text
	}
	if text != theAnswer {
		t.Errorf("deltas = %q", text)
	}
	if cites := decode[[]api.Citation](t, []byte(evs[3].data)); len(cites) != 1 || cites[0].DocID != "policy-returns" {
		t.Errorf("citations = %s", evs[3].data)
	}
	if esc := decode[api.Escalation](t, []byte(evs[4].data)); esc != (api.Escalation{Reason: "requested", Team: "returns"}) {
		t.Errorf("escalation = %+v", esc)
	}
	done := decode[api.ChatResponse](t, []byte(evs[5].data))
	if done.ConversationID != conv.ID || done.MessageID != msgs[1].ID || done.Answer != theAnswer ||
		!done.Escalated || done.Escalation == nil || done.Decision != rag.DecideEscalate || len(done.Citations) != 1 {
		t.Errorf("done = %+v", done)
	}
	if !msgs[1].Escalated || msgs[1].Decision != rag.DecideEscalate {
		t.Errorf("stored answer = %+v", msgs[1])
	}
}

func TestChatSSEMetaFirst(t *testing.T) {
	// The client learns the conversation id first even when the answerer
	// sends no meta, or fails at once.
	tests := []struct {
		name string
		seq  iter.Seq2[rag.Event, error]
		want string
	}{
		{"no meta", events(nil, rag.Event{Type: rag.EventDelta, Delta: "hi"}, rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: "hi"}}), "meta,delta,done"},
		{"immediate failure", events(kefu.Errorf(kefu.EUnavailable, "no backend")), "meta,error,delta,done"},
		{"empty stream", events(nil), "meta,done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.answerer.StreamFn = func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] { return tt.seq }
			rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`, "Accept", "text/event-stream")
			evs := readSSE(t, rec.Body, nil)
			if got := strings.Join(names(evs, true), ","); got != tt.want {
				t.Fatalf("events = %s, want %s", got, tt.want)
			}
			if meta := decode[api.StreamMeta](t, []byte(evs[0].data)); meta.ConversationID != e.store.only(t).ID {
				t.Errorf("meta = %+v", meta)
			}
		})
	}
}

func TestChatBadInput(t *testing.T) {
	setup := func(t *testing.T, e *env) map[string]string {
		ctx := context.Background()
		mine, _ := e.store.CreateConversation(ctx, "cust-1", "web")
		theirs, _ := e.store.CreateConversation(ctx, "cust-2", "web")
		anon, _ := e.store.CreateConversation(ctx, "", "web")
		return map[string]string{"mine": mine.ID, "theirs": theirs.ID, "anon": anon.ID}
	}
	expired, err := auth.Mint(tokenSecret, "cust-1", time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := auth.Mint([]byte("not-the-shop-secret"), "cust-1", time.Hour, time.Now())
	big := strings.Repeat("x", 100<<10)

	tests := []struct {
		name    string
		body    string // ID(...) is replaced by the id of that conversation
		token   string
		status  int
		code    string
		message string // a substring of the error message
	}{
		{"malformed JSON", `{"message": "hi"`, "", 400, kefu.EInvalid, "malformed JSON"},
		{"syntax error", `{"message": hi}`, "", 400, kefu.EInvalid, "malformed JSON at byte"},
		{"empty body", ``, "", 400, kefu.EInvalid, "body is empty"},
		{"not an object", `["hi"]`, "", 400, kefu.EInvalid, "JSON object"},
		{"wrong type", `{"message": 42}`, "", 400, kefu.EInvalid, `"message" must be a string`},
		{"unknown field", `{"message": "hi", "customer_id": "cust-2"}`, "", 400, kefu.EInvalid, `unknown field "customer_id"`},
		{"trailing data", `{"message": "hi"} {}`, "", 400, kefu.EInvalid, "one JSON object"},
		{"no message", `{}`, "", 400, kefu.EInvalid, "message is empty"},
		{"empty message", `{"message": ""}`, "", 400, kefu.EInvalid, "message is empty"},
		{"blank message", `{"message": " \n\t "}`, "", 400, kefu.EInvalid, "message is empty"},
		{"100 KB message", `{"message": "` + big + `"}`, "", 413, kefu.ETooLarge, "larger than"},
		{"message over the limit", `{"message": "` + strings.Repeat("y", 4001) + `"}`, "", 413, kefu.ETooLarge, "4001 bytes"},
		{"bad locale", `{"message": "hi", "locale": "fr"}`, "", 400, kefu.EInvalid, `locale "fr"`},
		{"bad channel", `{"message": "hi", "channel": "Web Chat"}`, "", 400, kefu.EInvalid, "channel"},
		{"long channel", `{"message": "hi", "channel": "` + strings.Repeat("a", 33) + `"}`, "", 400, kefu.EInvalid, "channel"},
		{"unknown conversation", `{"message": "hi", "conversation_id": "c_NOPE"}`, "", 404, kefu.ENotFound, "conversation not found"},
		{"huge conversation id", `{"message": "hi", "conversation_id": "` + strings.Repeat("c", 500) + `"}`, "", 404, kefu.ENotFound, "conversation not found"},
		{"another customer's conversation", `{"message": "hi", "conversation_id": "ID(theirs)"}`, "cust-1", 404, kefu.ENotFound, "conversation not found"},
		{"customer's conversation used anonymously", `{"message": "hi", "conversation_id": "ID(mine)"}`, "", 404, kefu.ENotFound, "conversation not found"},
		{"anonymous conversation used signed in", `{"message": "hi", "conversation_id": "ID(anon)"}`, "cust-1", 404, kefu.ENotFound, "conversation not found"},
		{"expired token", `{"message": "hi"}`, expired, 401, kefu.EUnauthorized, "token expired"},
		{"forged token", `{"message": "hi"}`, forged, 401, kefu.EUnauthorized, "token signature invalid"},
		{"garbage token", `{"message": "hi"}`, "not-a-token", 401, kefu.EUnauthorized, "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.answerer.StreamFn = func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
				t.Error("the answerer was called")
				return events(nil)
			}
			ids := setup(t, e)
			body := tt.body
			for k, id := range ids {
				body = strings.ReplaceAll(body, "ID("+k+")", id)
			}
			var header []string
			switch tt.token {
			case "":
			case "cust-1":
				header = []string{api.HeaderCustomerToken, token(t, "cust-1")}
			default:
				header = []string{api.HeaderCustomerToken, tt.token}
			}
			for _, accept := range []string{"application/json", "text/event-stream"} {
				rec := e.do(t, http.MethodPost, "/v1/chat", body, append(header, "Accept", accept)...)
				got := wantError(t, rec, tt.status, tt.code)
				if !strings.Contains(got.Message, tt.message) {
					t.Errorf("message = %q, want it to contain %q", got.Message, tt.message)
				}
				if len(got.Message) > 200 {
					t.Errorf("message is %d bytes long", len(got.Message))
				}
			}
			for _, id := range ids {
				if msgs := e.store.all(t, id); len(msgs) != 0 {
					t.Errorf("a refused request stored %+v", msgs)
				}
			}
			if len(header) == 2 && strings.Contains(e.logs.String(), header[1]) {
				t.Errorf("the log holds the token")
			}
		})
	}
}

func TestChatOwnConversation(t *testing.T) {
	e := newEnv(t)
	mine, _ := e.store.CreateConversation(context.Background(), "cust-1", "web")
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: mine.ID, Message: "hi"}),
		api.HeaderCustomerToken, token(t, "cust-1"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestChatAPIKeys(t *testing.T) {
	const widgetKey, agentKey = "wk_0123456789abcdef", "ag_0123456789abcdef"
	e := newEnv(t, withKeys(t,
		auth.KeyConfig{Name: "shop-widget", Role: auth.RoleWidget, Key: widgetKey},
		auth.KeyConfig{Name: "console", Role: auth.RoleAgent, Hash: auth.HashKey(agentKey)},
	))
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"no key", nil, 401},
		{"wrong key", []string{"Authorization", "Bearer wk_wrongwrongwrong"}, 401},
		{"not bearer", []string{"Authorization", "Basic " + widgetKey}, 401},
		{"hash as key", []string{api.HeaderAPIKey, auth.HashKey(widgetKey)}, 401},
		{"widget bearer", []string{"Authorization", "Bearer " + widgetKey}, 200},
		{"widget header", []string{api.HeaderAPIKey, widgetKey}, 200},
		{"agent key", []string{"Authorization", "bearer " + agentKey}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`, tt.header...)
			if tt.status != 200 {
				wantError(t, rec, tt.status, kefu.EUnauthorized)
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		})
	}
	logs := e.logs.String()
	for _, secret := range []string{widgetKey, agentKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds an API key:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "api_key=shop-widget") {
		t.Errorf("the log does not name the key:\n%s", logs)
	}
	// Health stays open.
	if rec := e.do(t, http.MethodGet, "/healthz", ""); rec.Code != 200 {
		t.Errorf("healthz: %d", rec.Code)
	}
}

func TestChatLogsNoContent(t *testing.T) {
	e := newEnv(t)
	tok := token(t, "cust-secretive")
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"my card number is 4111 1111 1111 1111"}`,
		api.HeaderCustomerToken, tok)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	logs := e.logs.String()
	for _, s := range []string{"4111", tok, theAnswer[:20]} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q:\n%s", s, logs)
		}
	}
	for _, s := range []string{"method=POST", "route=/v1/chat", "status=200", "duration="} {
		if !strings.Contains(logs, s) {
			t.Errorf("the log lacks %q:\n%s", s, logs)
		}
	}
}

func TestChatStoreFailure(t *testing.T) {
	e := newEnv(t)
	e.store.AppendFn = func(m store.Message) error {
		return errors.New("disk full at /var/lib/kefu")
	}
	e.answerer.StreamFn = func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
		t.Error("the answerer ran although the shopper's message was not stored")
		return events(nil)
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`)
	body := wantError(t, rec, 500, kefu.EInternal)
	if body.Message != "internal error" {
		t.Errorf("message %q", body.Message)
	}
	if !strings.Contains(e.logs.String(), "disk full") {
		t.Errorf("the cause is not in the log:\n%s", e.logs)
	}
}

func TestChatAnswerNotStored(t *testing.T) {
	// The answer is still delivered when storing it fails.
	e := newEnv(t)
	e.store.AppendFn = func(m store.Message) error {
		if m.Role == kefu.RoleAssistant {
			return errors.New("write failed")
		}
		return nil
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := decode[api.ChatResponse](t, rec.Body.Bytes()); got.Answer != theAnswer || got.MessageID != "" {
		t.Errorf("reply = %+v", got)
	}
	if !strings.Contains(e.logs.String(), "write failed") {
		t.Errorf("the failure is not in the log:\n%s", e.logs)
	}
}

func TestChatAnswererPanics(t *testing.T) {
	e := newEnv(t)
	e.answerer.StreamFn = func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			yield(answerEvents(theAnswer)[1], nil)
			var m map[string]int
			m["boom"]++ // a nil map write
		}
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`)
	if got := decode[api.ChatResponse](t, rec.Body.Bytes()); rec.Code != http.StatusOK || !got.Partial || !got.Degraded || got.MessageID == "" {
		t.Errorf("status %d, reply %+v; want 200 with the part answered", rec.Code, got)
	}
	if !strings.Contains(e.logs.String(), "answerer panicked") {
		t.Errorf("log:\n%s", e.logs)
	}
}

// jsonEqual compares two values by their JSON encodings.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var u, v any
	json.Unmarshal(x, &u)
	json.Unmarshal(y, &v)
	x, _ = json.Marshal(u)
	y, _ = json.Marshal(v)
	return string(x) == string(y)
}
