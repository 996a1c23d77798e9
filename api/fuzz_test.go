package api_test

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// The fuzz targets of the API's request decoding: arbitrary bytes as the
// body (and the idempotency header) of every route that reads JSON, through
// the whole handler with in-memory or embedded stores and a scripted
// answerer. Whatever the bytes, the reply is a success or a client error
// with a code and a message, never a panic nor a 5xx.

// fuzzServer is a Server with an embedded store, the handoff desk and
// keys, for the fuzz targets; f owns its files. With mem, conversations
// are kept in memory (no disk sync per input).
func fuzzServer(f *testing.F, mem bool) (*api.Server, *store.Bolt) {
	f.Helper()
	db, err := store.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	desk, err := escalate.NewDesk(db, db, escalate.Config{})
	if err != nil {
		f.Fatal(err)
	}
	keys, err := auth.NewKeys([]auth.KeyConfig{
		{Name: "web", Role: auth.RoleWidget, Key: widgetKey},
		{Name: "alice", Role: auth.RoleAgent, Key: aliceKey},
	})
	if err != nil {
		f.Fatal(err)
	}
	answerer := &fakeAnswerer{StreamFn: func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		if strings.Contains(tr.Message, "human") {
			return events(nil,
				rag.Event{Type: rag.EventMeta, Meta: &rag.Meta{Intent: rag.IntentHuman, Locale: "en", Decision: rag.DecideEscalate}},
				rag.Event{Type: rag.EventDelta, Delta: "A colleague will help."},
				rag.Event{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: "requested"}},
				rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: "A colleague will help."}})
		}
		return events(nil, answerEvents(theAnswer)...)
	}}
	deps := api.Deps{
		Answerer: answerer, Conversations: db, TokenSecret: tokenSecret, Keys: keys,
		Handoff: desk, Agents: desk, Tickets: db, AuditLog: db, Feedback: db, Analytics: db,
	}
	if mem {
		deps.Conversations, deps.Handoff = newMemStore(), nil
	}
	// The limits are off: every input must reach the decoding, not a 429.
	off := api.Limits{AddressRate: -1, KeyRate: -1, ShopperRate: -1, AuthFailRate: -1,
		StreamsPerKey: -1, StreamsPerShopper: -1, StreamsPerAddress: -1, TicketsPerHour: -1}
	return api.New(api.Config{Version: "fuzz", MaxBodyBytes: 4 << 10, Limits: off}, deps), db
}

// fuzzDo sends body to path and checks the reply's shape.
func fuzzDo(t *testing.T, srv *api.Server, path string, body []byte, openAI bool, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s answered %d to %q: %s", path, rec.Code, body, rec.Body)
	}
	if rec.Code < 400 {
		return rec
	}
	if openAI {
		var e api.OpenAIErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s: %d with body %s (%v)", path, rec.Code, rec.Body, err)
		}
		return rec
	}
	var e api.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: %d with body %s (%v)", path, rec.Code, rec.Body, err)
	}
	return rec
}

func FuzzChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"message":"Can I return opened headphones?"}`,
		`{"message":"hi","locale":"zh","channel":"app","product_id":"LM-HP-001","client_message_id":"0b7f7d4e-5a57-4c1e-9d0f-3f1c2a6b8e01"}`,
		`{"conversation_id":"c_NOPE","message":"again"}`,
		`{"message":""}`, `{"message":1}`, `[]`, `null`, `{"message":"a"} {}`, `{"mess`, `{"x":1}`,
		`{"message":"\u0000\ud800"}`, `{"message":"hi","client_message_id":"short"}`,
	} {
		f.Add([]byte(seed), "", false)
	}
	f.Add([]byte(`{"message":"hi"}`), "0b7f7d4e-5a57-4c1e-9d0f-3f1c2a6b8e02", true)
	srv, _ := fuzzServer(f, true)
	f.Fuzz(func(t *testing.T, body []byte, key string, stream bool) {
		header := bearer(widgetKey)
		if key != "" {
			header = append(header, api.HeaderIdempotencyKey, strings.ToValidUTF8(strings.Map(dropControl, key), ""))
		}
		if stream {
			header = append(header, "Accept", "text/event-stream")
		}
		rec := fuzzDo(t, srv, "/v1/chat", body, false, header...)
		if rec.Code == http.StatusOK && !stream {
			var r api.ChatResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.ConversationID == "" || r.Citations == nil {
				t.Fatalf("200 with %s (%v)", rec.Body, err)
			}
		}
	})
}

func FuzzCompletionRequest(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"user","content":"Can I return opened headphones?"}]}`,
		`{"model":"kefu","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello\n\nSources: [1] A"},{"role":"user","content":[{"type":"text","text":"returns?"}]}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		`{"n":2,"messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[]}`, `{"messages":[{"role":"tool","content":null}]}`, `{"messages":[{"role":"wizard","content":"x"},{"role":"user","content":"y"}]}`,
		`{"product_id":"a b","messages":[{"role":"user","content":"x"}]}`, `{"client_message_id":"0b7f7d4e-5a57-4c1e-9d0f-3f1c2a6b8e03","messages":[{"role":"user","content":"x"}]}`,
		`{`, `"str"`, `{"messages":{}}`,
	} {
		f.Add([]byte(seed))
	}
	srv, _ := fuzzServer(f, true)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzDo(t, srv, "/v1/chat/completions", body, true, bearer(widgetKey)...)
	})
}

func FuzzFeedbackRequest(f *testing.F) {
	for _, seed := range []string{
		`{"message_id":"m_X","rating":"up"}`, `{"rating":"down","comment":"wrong price"}`, `{"rating":"meh"}`,
		`{"rating":"up","comment":"` + strings.Repeat("x", 3000) + `"}`, `{}`, `[`, `{"rating":null}`,
	} {
		f.Add([]byte(seed))
	}
	srv, db := fuzzServer(f, false)
	conv, _, err := db.StartConversation(context.Background(), "", "web", store.Message{Role: "user", Content: "hi"})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := db.AppendMessage(context.Background(), store.Message{ConversationID: conv.ID, Role: "assistant", Content: "hello"}); err != nil {
		f.Fatal(err)
	}
	path := "/v1/conversations/" + conv.ID + "/feedback"
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzDo(t, srv, path, body, false, bearer(widgetKey)...)
	})
}

func FuzzAgentRequest(f *testing.F) {
	for _, seed := range []string{
		`{"text":"Your refund is on its way."}`, `{"outcome":"resolved","note":"refunded"}`, `{"outcome":"nonsense"}`,
		`{"text":""}`, `{}`, `{"text":1}`, `nul`,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	srv, _ := fuzzServer(f, false)
	// A ticket for the agent routes to act on.
	tok, err := auth.Mint(tokenSecret, "C1001", time.Hour, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader(`{"message":"I want a human"}`))
	req.Header.Set("Authorization", "Bearer "+widgetKey)
	req.Header.Set(api.HeaderCustomerToken, tok)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	var turn api.ChatResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &turn); err != nil || turn.TicketID == "" {
		f.Fatalf("no ticket opened: %d %s", rec.Code, rec.Body)
	}
	paths := []string{"/tickets/" + turn.TicketID + "/claim", "/tickets/" + turn.TicketID + "/reply", "/tickets/" + turn.TicketID + "/resolve"}
	f.Fuzz(func(t *testing.T, body []byte, route uint8) {
		fuzzDo(t, srv, "/v1/agent"+paths[int(route)%len(paths)], body, false, bearer(aliceKey)...)
	})
}

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}
