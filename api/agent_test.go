package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// API keys of the handoff tests.
const (
	widgetKey = "widget-key-0123456789"
	aliceKey  = "alice-agent-key-0123"
	bobKey    = "bob-agent-key-012345"
	adminKey  = "admin-key-0123456789"
)

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// deskEnv is a Server wired to a real embedded store and escalation desk,
// with a scripted answerer: a message that asks for a "human" is escalated
// as the pipeline does; anything else is answered.
type deskEnv struct {
	srv   *api.Server
	store *store.Bolt
	desk  *escalate.Desk
	logs  *logBuffer

	mu    sync.Mutex
	turns []rag.Turn
}

func newDeskEnv(t *testing.T, opts ...envOption) *deskEnv {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	desk, err := escalate.NewDesk(s, s, escalate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &deskEnv{store: s, desk: desk, logs: &logBuffer{}}
	keys, err := auth.NewKeys([]auth.KeyConfig{
		{Name: "web", Role: auth.RoleWidget, Key: widgetKey},
		{Name: "alice", Role: auth.RoleAgent, Key: aliceKey},
		{Name: "bob", Role: auth.RoleAgent, Key: bobKey},
		{Name: "root", Role: auth.RoleAdmin, Key: adminKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Version: "test", Limits: api.Limits{AuthFailBurst: 1000}}
	deps := api.Deps{
		Answerer:      &fakeAnswerer{StreamFn: e.answer},
		Conversations: s,
		TokenSecret:   tokenSecret,
		Keys:          keys,
		Logger:        e.logs.logger(),
		Handoff:       desk,
		Agents:        desk,
		Tickets:       s,
		AuditLog:      s,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	e.srv = api.New(cfg, deps)
	return e
}

func (e *deskEnv) answer(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
	e.mu.Lock()
	e.turns = append(e.turns, tr)
	e.mu.Unlock()
	if strings.Contains(strings.ToLower(tr.Message), "human") {
		return events(nil,
			rag.Event{Type: rag.EventMeta, Meta: &rag.Meta{Intent: rag.IntentHuman, Locale: "en", Sentiment: rag.SentimentNeutral, Decision: rag.DecideEscalate, Backend: "rules"}},
			rag.Event{Type: rag.EventDelta, Delta: "I'll pass you to a colleague."},
			rag.Event{Type: rag.EventCitations, Citations: []rag.Citation{}},
			rag.Event{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: "requested"}},
			rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: "I'll pass you to a colleague."}},
		)
	}
	return events(nil, answerEvents(theAnswer)...)
}

func (e *deskEnv) calls() []rag.Turn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.turns)
}

func (e *deskEnv) do(t *testing.T, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// chat sends a shopper's message with the widget key and a shopper token.
func (e *deskEnv) chat(t *testing.T, customer, convID, msg string) api.ChatResponse {
	t.Helper()
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: convID, Message: msg}),
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, customer))...)
	if rec.Code != http.StatusOK {
		t.Fatalf("chat %q: %d %s", msg, rec.Code, rec.Body)
	}
	return decode[api.ChatResponse](t, rec.Body.Bytes())
}

// agent calls the agent API with key and expects status.
func (e *deskEnv) agent(t *testing.T, key string, status int, method, path, body string) []byte {
	t.Helper()
	rec := e.do(t, method, path, body, bearer(key)...)
	if rec.Code != status {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, rec.Code, status, rec.Body)
	}
	return rec.Body.Bytes()
}

// The whole handoff: the shopper asks for a person, an agent takes the
// ticket and answers, the shopper reads the answer, writes while the agent
// owns the conversation (the assistant stays silent), the agent resolves
// it and the assistant answers again, with the agent's words in its
// history.
func TestHandoffFullFlow(t *testing.T) {
	e := newDeskEnv(t)

	first := e.chat(t, "C1001", "", "My order W261118-1004 is broken. I want to talk to a human")
	if !first.Escalated || first.TicketID == "" || first.Escalation == nil || first.Escalation.Reason != escalate.ReasonRequested ||
		first.Escalation.Team != escalate.DefaultTeam {
		t.Fatalf("escalating turn = %+v", first)
	}
	conv := first.ConversationID

	// The agent's queue.
	queue := decode[api.TicketList](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets", ""))
	if len(queue.Tickets) != 1 || queue.Tickets[0].ID != first.TicketID || queue.Tickets[0].Status != "open" ||
		queue.Tickets[0].Priority != "normal" || queue.Tickets[0].Packet != nil || !strings.Contains(queue.Tickets[0].Summary, "W261118-1004") {
		t.Fatalf("queue = %+v", queue)
	}
	tk := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+first.TicketID, ""))
	if tk.Packet == nil || len(tk.Packet.Transcript) != 2 || !slices.Equal(tk.Packet.OrderIDs, []string{"W261118-1004"}) ||
		tk.CustomerID != "C1001" || tk.Packet.Reason != escalate.ReasonRequested {
		t.Fatalf("ticket = %+v", tk)
	}

	// Claim, and a second agent who is too late.
	claimed := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", ""))
	if claimed.Status != "claimed" || claimed.Assignee != "alice" {
		t.Fatalf("claimed = %+v", claimed)
	}
	body := e.agent(t, bobKey, 409, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "")
	if eb := decode[api.ErrorResponse](t, body).Error; eb.Code != kefu.EConflict || !strings.Contains(eb.Message, "alice") {
		t.Errorf("bob's claim: %+v", eb)
	}

	// The agent replies; the shopper sees it on the next poll.
	const reply = "Hi, this is Alice. I have arranged a replacement for W261118-1004."
	rr := decode[api.ReplyResponse](t, e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/reply",
		`{"message": "`+reply+`"}`))
	if rr.Message.Role != kefu.RoleAgent || rr.Message.Content != reply || rr.Ticket.Status != "claimed" {
		t.Fatalf("reply = %+v", rr)
	}
	poll := e.do(t, "GET", "/v1/conversations/"+conv+"/messages?after="+first.MessageID, "",
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))...)
	if poll.Code != 200 {
		t.Fatalf("poll: %d %s", poll.Code, poll.Body)
	}
	got := decode[api.MessagesResponse](t, poll.Body.Bytes())
	if len(got.Messages) != 1 || got.Messages[0].ID != rr.Message.ID || got.Messages[0].Role != kefu.RoleAgent || got.Messages[0].Content != reply {
		t.Fatalf("poll after the bot's answer = %+v", got)
	}
	// Nobody else reads the conversation.
	for _, who := range [][]string{
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1002")),
		bearer(widgetKey),
	} {
		if rec := e.do(t, "GET", "/v1/conversations/"+conv+"/messages", "", who...); rec.Code != 404 {
			t.Errorf("another identity polls: %d %s", rec.Code, rec.Body)
		}
	}

	// The shopper writes while Alice owns the conversation: no bot answer.
	calls := len(e.calls())
	silent := e.chat(t, "C1001", conv, "Thank you! Will it come by Friday?")
	if len(e.calls()) != calls {
		t.Fatal("the answerer was called while a person owns the conversation")
	}
	if silent.Decision != api.DecisionHuman || silent.Answer != escalate.HumanNotice("en") || silent.TicketID != first.TicketID ||
		silent.MessageID == "" || len(silent.Citations) != 0 {
		t.Fatalf("reply while a person owns the conversation = %+v", silent)
	}
	tk = decode[api.Ticket](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+first.TicketID, ""))
	if last := tk.Packet.Transcript[len(tk.Packet.Transcript)-2]; last.Content != "Thank you! Will it come by Friday?" {
		t.Errorf("the shopper's message is not on the ticket: %+v", tk.Packet.Transcript)
	}

	// Resolve; the assistant answers again and sees the agent's reply.
	resolved := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/resolve", `{"outcome":"resolved"}`))
	if resolved.Status != "closed" || resolved.Outcome != store.OutcomeHuman || resolved.ClosedAt == nil {
		t.Fatalf("resolved = %+v", resolved)
	}
	after := e.chat(t, "C1001", conv, "And how long do I have to return the old one?")
	if after.Decision != rag.DecideAnswer || after.TicketID != "" || after.Escalated {
		t.Fatalf("answer after resolve = %+v", after)
	}
	turns := e.calls()
	history := turns[len(turns)-1].History
	if !slices.ContainsFunc(history, func(m kefu.Message) bool { return m.Role == kefu.RoleAgent && m.Content == reply }) {
		t.Errorf("the agent's reply is not in the assistant's history: %+v", history)
	}

	// Analytics.
	stats := decode[api.Stats](t, e.agent(t, bobKey, 200, "GET", "/v1/agent/stats", ""))
	if stats.Conversations != 1 || stats.Tickets != 1 || stats.EscalationRate != 1 || stats.ByReason["requested"].Tickets != 1 ||
		stats.Outcomes["human"] != 1 || stats.Outcomes["bot"] != 0 || stats.Open != 0 {
		t.Errorf("stats = %+v", stats)
	}
	metrics := e.do(t, "GET", "/metrics", "", bearer(adminKey)...).Body.String()
	for _, want := range []string{
		`kefu_tickets_opened_total{priority="normal",reason="requested"} 1`,
		`kefu_handoff_outcomes_total{outcome="human"} 1`,
		`kefu_chat_turns_total{decision="human",intent="human_request"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Every agent access is audited, without the text of any message.
	recs, err := e.store.AuditRecords(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Actor+":"+r.Action)
		if r.At.IsZero() || (r.Action != "ticket.list" && r.Action != "stats.view" && r.Target != first.TicketID) {
			t.Errorf("audit record = %+v", r)
		}
	}
	want := []string{"alice:ticket.list", "alice:ticket.view", "alice:ticket.claim", "bob:ticket.claim", "alice:ticket.reply",
		"alice:ticket.view", "alice:ticket.resolve", "bob:stats.view"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit log:\n got %v\nwant %v", actions, want)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `msg="agent access"`); n != len(want) {
		t.Errorf("%d agent access log lines, want %d", n, len(want))
	}
	if strings.Contains(logs, "replacement") {
		t.Error("the log holds a message's text")
	}
}

func TestAgentAPIAuth(t *testing.T) {
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/agent/tickets", ""},
		{"GET", "/v1/agent/tickets/t_X", ""},
		{"POST", "/v1/agent/tickets/t_X/claim", ""},
		{"POST", "/v1/agent/tickets/t_X/reply", `{"message":"hi"}`},
		{"POST", "/v1/agent/tickets/t_X/resolve", `{"outcome":"resolved"}`},
		{"GET", "/v1/agent/stats", ""},
	}
	open := newDeskEnv(t, func(c *api.Config, d *api.Deps) { d.Keys, c.OpenShopperRoutes = nil, true })
	withKeys := newDeskEnv(t)
	tests := []struct {
		name   string
		env    *deskEnv
		header []string
		status int
		code   string
	}{
		{"no keys configured: closed", open, nil, 403, kefu.EForbidden},
		{"no keys configured, a key sent: closed", open, bearer(aliceKey), 403, kefu.EForbidden},
		{"no key", withKeys, nil, 401, kefu.EUnauthorized},
		{"wrong key", withKeys, bearer("not-a-key-0123456789"), 401, kefu.EUnauthorized},
		{"widget key", withKeys, bearer(widgetKey), 403, kefu.EForbidden},
		{"widget key in X-API-Key", withKeys, []string{api.HeaderAPIKey, widgetKey}, 403, kefu.EForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range routes {
				rec := tt.env.do(t, r.method, r.path, r.body, tt.header...)
				eb := wantError(t, rec, tt.status, tt.code)
				if tt.env == open && !strings.Contains(eb.Message, "closed") {
					t.Errorf("%s %s: message %q does not say the agent API is closed", r.method, r.path, eb.Message)
				}
			}
		})
	}
	// Refused requests are audited as failed authentications, never as
	// accesses.
	recs, _ := withKeys.store.AuditRecords(context.Background(), 0)
	if len(recs) == 0 {
		t.Error("the refused requests left no auth.failed record")
	}
	for _, r := range recs {
		if r.Action != "auth.failed" {
			t.Errorf("a refused request was audited as an access: %+v", r)
		}
	}
	// Agent and admin keys get in (the ticket does not exist).
	for _, key := range []string{aliceKey, adminKey} {
		withKeys.agent(t, key, 200, "GET", "/v1/agent/tickets", "")
		withKeys.agent(t, key, 404, "GET", "/v1/agent/tickets/t_X", "")
	}
	// The rest of the API stays as open as it was.
	if rec := open.do(t, "POST", "/v1/chat", `{"message":"hi"}`); rec.Code != 200 {
		t.Errorf("open chat: %d", rec.Code)
	}
}

func TestAgentAPIBadRequests(t *testing.T) {
	e := newDeskEnv(t)
	resp := e.chat(t, "C1001", "", "human please")
	id := resp.TicketID
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/agent/tickets?status=pending", "", 400, kefu.EInvalid},
		{"GET", "/v1/agent/tickets?limit=0", "", 400, kefu.EInvalid},
		{"GET", "/v1/agent/tickets?limit=many", "", 400, kefu.EInvalid},
		{"GET", "/v1/agent/tickets?team=" + strings.Repeat("x", 65), "", 400, kefu.EInvalid},
		{"GET", "/v1/agent/tickets/t_NOPE", "", 404, kefu.ENotFound},
		{"POST", "/v1/agent/tickets/t_NOPE/claim", "", 404, kefu.ENotFound},
		{"POST", "/v1/agent/tickets/" + id + "/reply", `{"message":"  "}`, 400, kefu.EInvalid},
		{"POST", "/v1/agent/tickets/" + id + "/reply", `{"text":"hi"}`, 400, kefu.EInvalid},
		{"POST", "/v1/agent/tickets/" + id + "/reply", `{"message":"` + strings.Repeat("x", 5000) + `"}`, 413, kefu.ETooLarge},
		{"POST", "/v1/agent/tickets/" + id + "/reply", ``, 400, kefu.EInvalid},
		{"POST", "/v1/agent/tickets/" + id + "/resolve", `{"outcome":"done"}`, 400, kefu.EInvalid},
		{"POST", "/v1/agent/tickets/" + id + "/resolve", `{"outcome":"resolved"} {}`, 400, kefu.EInvalid},
		{"GET", "/v1/conversations/" + resp.ConversationID + "/messages?after=m_NOPE", "", 400, kefu.EInvalid},
	}
	for _, tt := range tests {
		header := bearer(aliceKey)
		if strings.HasPrefix(tt.path, "/v1/conversations/") {
			header = append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))
		}
		rec := e.do(t, tt.method, tt.path, tt.body, header...)
		if rec.Code != tt.status {
			t.Errorf("%s %s %.30s: %d, want %d: %s", tt.method, tt.path, tt.body, rec.Code, tt.status, rec.Body)
			continue
		}
		wantError(t, rec, tt.status, tt.code)
	}
	// Abandon, then everything is a conflict.
	e.agent(t, bobKey, 200, "POST", "/v1/agent/tickets/"+id+"/resolve", `{"outcome":"abandoned"}`)
	e.agent(t, aliceKey, 409, "POST", "/v1/agent/tickets/"+id+"/claim", "")
	e.agent(t, aliceKey, 409, "POST", "/v1/agent/tickets/"+id+"/reply", `{"message":"hello?"}`)
	e.agent(t, aliceKey, 409, "POST", "/v1/agent/tickets/"+id+"/resolve", `{"outcome":"resolved"}`)
	closed := decode[api.TicketList](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets?status=closed", ""))
	if len(closed.Tickets) != 1 || closed.Tickets[0].Outcome != store.OutcomeAbandoned || closed.Tickets[0].Assignee != "bob" {
		t.Errorf("closed tickets = %+v", closed)
	}
	if active := decode[api.TicketList](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets", "")); len(active.Tickets) != 0 {
		t.Errorf("active tickets after abandon = %+v", active)
	}
}

// The queue comes most urgent first, then oldest first, and filters by
// team and status.
func TestAgentQueue(t *testing.T) {
	teams, err := escalate.ParseTeams("safety-desk:::safety,fraud,chargeback,legal")
	if err != nil {
		t.Fatal(err)
	}
	e := newDeskEnv(t)
	desk, err := escalate.NewDesk(e.store, e.store, escalate.Config{Teams: teams})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = api.New(api.Config{}, api.Deps{Answerer: &fakeAnswerer{StreamFn: e.answer}, Conversations: e.store, TokenSecret: tokenSecret,
		Keys: mustKeys(t), Handoff: desk, Agents: desk, Tickets: e.store, AuditLog: e.store})
	e.chat(t, "C1", "", "human please")                          // normal, support
	e.chat(t, "C2", "", "The kettle caught fire and I got hurt") // urgent, safety-desk
	e.chat(t, "C3", "", "human, now")                            // normal, support
	e.chat(t, "C4", "", "I will file a chargeback with my bank") // urgent, safety-desk
	e.chat(t, "C5", "", "just a question about returns")         // no ticket
	reasons := func(query string) string {
		t.Helper()
		list := decode[api.TicketList](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets"+query, ""))
		var out []string
		for _, tk := range list.Tickets {
			out = append(out, tk.Reason+"/"+tk.CustomerID)
		}
		return fmt.Sprint(out)
	}
	for query, want := range map[string]string{
		"":                        "[safety/C2 chargeback/C4 requested/C1 requested/C3]",
		"?team=safety-desk":       "[safety/C2 chargeback/C4]",
		"?team=support&limit=1":   "[requested/C1]",
		"?status=claimed":         "[]",
		"?team=nobody&status=all": "[]",
	} {
		if got := reasons(query); got != want {
			t.Errorf("queue%s = %s, want %s", query, got, want)
		}
	}
}

func mustKeys(t *testing.T) *auth.Keys {
	t.Helper()
	k, err := auth.NewKeys([]auth.KeyConfig{
		{Name: "web", Role: auth.RoleWidget, Key: widgetKey}, {Name: "alice", Role: auth.RoleAgent, Key: aliceKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A turn the pipeline answered but the policy hands over (a safety issue)
// keeps its answer, gains a notice, and streams its escalation after the
// citations.
func TestPolicyEscalationOfAnAnsweredTurn(t *testing.T) {
	e := newDeskEnv(t)
	const msg = "The heater caught fire and burned my hand"
	resp := e.chat(t, "C1001", "", msg)
	if !resp.Escalated || resp.Escalation.Reason != escalate.ReasonSafety || resp.TicketID == "" ||
		resp.Answer != theAnswer+escalate.HandoffNotice("en") || resp.Decision != rag.DecideAnswer {
		t.Fatalf("reply = %+v", resp)
	}
	tk := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+resp.TicketID, ""))
	if tk.Priority != "urgent" || tk.Reason != escalate.ReasonSafety {
		t.Errorf("ticket = %+v", tk)
	}
	msgs, _ := e.store.Messages(context.Background(), resp.ConversationID, 0)
	if a := msgs[1]; !a.Escalated || a.Content != resp.Answer {
		t.Errorf("stored answer = %+v", a)
	}

	// The same as a stream.
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{Message: msg}),
		append(bearer(widgetKey), "Accept", "text/event-stream")...)
	evs := readSSE(t, rec.Body, nil)
	if got := strings.Join(names(evs, true), " "); got != "meta delta delta delta citations escalation done" {
		t.Fatalf("events = %s", got)
	}
	if notice := decode[api.StreamDelta](t, []byte(evs[3].data)); notice.Text != escalate.HandoffNotice("en") {
		t.Errorf("last delta = %+v", notice)
	}
	done := decode[api.ChatResponse](t, []byte(evs[len(evs)-1].data))
	if done.TicketID == "" || done.TicketID == resp.TicketID || done.Escalation.Reason != escalate.ReasonSafety {
		t.Errorf("done = %+v", done)
	}
}

// A person's reply reaches a shopper who holds a message stream open.
func TestShopperStreamGetsTheAgentsReply(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "human please")
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "")

	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/conversations/"+first.ConversationID+"/messages", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+widgetKey)
	req.Header.Set(api.HeaderCustomerToken, token(t, "C1001"))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The handler subscribes before it sends the backlog (the shopper's
	// message and the bot's answer), so once the backlog is read, a reply
	// cannot be missed.
	got := make(chan []sseEvent, 1)
	backlogRead := make(chan struct{})
	go func() {
		n := 0
		got <- readSSE(t, resp.Body, func(ev sseEvent) bool {
			if ev.name == api.EventMessage {
				if n++; n == 2 {
					close(backlogRead)
				}
			}
			return strings.Contains(ev.data, `"role":"agent"`)
		})
	}()
	select {
	case <-backlogRead:
	case <-time.After(10 * time.Second):
		t.Fatal("the backlog did not arrive")
	}
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/reply", `{"message":"Alice here, how can I help?"}`)
	var evs []sseEvent
	select {
	case evs = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the reply did not arrive on the stream")
	}
	var roles []string
	for _, ev := range evs {
		if ev.name == api.EventMessage {
			roles = append(roles, decode[api.ConversationMessage](t, []byte(ev.data)).Role)
		}
	}
	if !slices.Equal(roles, []string{"user", "assistant", "agent"}) {
		t.Errorf("stream roles = %v", roles)
	}
	cancel()
}

// The ticket store failing never fails a chat turn: the shopper is
// answered and the failure is logged.
func TestChatSurvivesAFailingTicketStore(t *testing.T) {
	broken := errors.New("disk on fire")
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.Handoff = failingHandoff{err: broken} })
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"human please"}`)
	if rec.Code != 200 {
		t.Fatalf("chat: %d %s", rec.Code, rec.Body)
	}
	if got := decode[api.ChatResponse](t, rec.Body.Bytes()); got.Answer != theAnswer || got.TicketID != "" {
		t.Errorf("reply = %+v", got)
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("the failure is not in the log:\n%s", e.logs)
	}
}

type failingHandoff struct{ err error }

func (f failingHandoff) Assess(escalate.Turn) (escalate.Decision, bool) {
	return escalate.Decision{}, false
}
func (f failingHandoff) ActiveTicket(context.Context, string) (store.Ticket, error) {
	return store.Ticket{}, f.err
}
func (f failingHandoff) Sync(context.Context, string, *escalate.Decision) (store.Ticket, string, error) {
	return store.Ticket{}, "", f.err
}

// A webhook receiver that never answers does not hold up chat: delivery
// runs on its own and the event waits in the outbox.
func TestChatDoesNotWaitForTheWebhook(t *testing.T) {
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)

	e := newDeskEnv(t)
	w, err := escalate.NewWorker(e.store, escalate.WebhookConfig{URL: hook.URL, Secret: []byte("webhook-secret-0123456789")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	desk, err := escalate.NewDesk(e.store, e.store, escalate.Config{}, escalate.WithWebhook(w.Notify))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = api.New(api.Config{}, api.Deps{Answerer: &fakeAnswerer{StreamFn: e.answer}, Conversations: e.store, TokenSecret: tokenSecret,
		Keys: mustKeys(t), Handoff: desk, Agents: desk, Tickets: e.store, AuditLog: e.store})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for i := range 3 {
		resp := e.chat(t, fmt.Sprint("C", i), "", "human please")
		if resp.TicketID == "" {
			t.Fatalf("no ticket: %+v", resp)
		}
	}
	if n, err := e.store.OutboxLen(context.Background()); err != nil || n != 3 {
		t.Errorf("outbox holds %d events (%v), want 3 waiting for the receiver", n, err)
	}
}

// While a person owns the conversation, a streaming client gets the same
// reply as events.
func TestHumanReplyAsStream(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "human please")
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "")
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: first.ConversationID, Message: "你好，还在吗？"}),
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"), "Accept", "text/event-stream")...)
	evs := readSSE(t, rec.Body, nil)
	if got := strings.Join(names(evs, true), " "); got != "meta delta citations escalation done" {
		t.Fatalf("events = %s", got)
	}
	done := decode[api.ChatResponse](t, []byte(evs[len(evs)-1].data))
	if done.Decision != api.DecisionHuman || done.Locale != "zh" || done.Answer != escalate.HumanNotice("zh") || done.TicketID != first.TicketID {
		t.Errorf("done = %+v", done)
	}
	var m map[string]any
	if json.Unmarshal([]byte(evs[0].data), &m); m["decision"] != api.DecisionHuman {
		t.Errorf("meta = %s", evs[0].data)
	}
}
