package api_test

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rag"
)

func feedbackBody(t *testing.T, req api.FeedbackRequest) string {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFeedback(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	r := e.chatAs(t, "C1", "", "Can I return opened headphones?")
	path := "/v1/conversations/" + r.ConversationID + "/feedback"

	rec := e.do(t, http.MethodPost, path, feedbackBody(t, api.FeedbackRequest{MessageID: r.MessageID, Rating: "up"}), asShopper(t, "C1")...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	up := decode[api.Feedback](t, rec.Body.Bytes())
	if up.MessageID != r.MessageID || up.Rating != "up" || up.Comment != "" || up.CreatedAt.IsZero() {
		t.Errorf("feedback = %+v", up)
	}
	// A second rating replaces the first.
	rec = e.do(t, http.MethodPost, path, feedbackBody(t, api.FeedbackRequest{MessageID: r.MessageID, Rating: " Down ", Comment: "  Which headphones?  "}), asShopper(t, "C1")...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	conv := decode[api.ConversationResponse](t, e.do(t, http.MethodGet, "/v1/conversations/"+r.ConversationID, "", asShopper(t, "C1")...).Body.Bytes())
	if len(conv.Messages) != 2 {
		t.Fatalf("messages: %+v", conv.Messages)
	}
	fb := conv.Messages[1].Feedback
	if fb == nil || fb.Rating != "down" || fb.Comment != "Which headphones?" || fb.MessageID != r.MessageID || fb.CreatedAt.Before(up.CreatedAt) {
		t.Errorf("answer's feedback = %+v", fb)
	}
	if conv.Messages[0].Feedback != nil {
		t.Errorf("the question has feedback: %+v", conv.Messages[0].Feedback)
	}
	for rating, want := range map[string]float64{"up": 1, "down": 1} {
		if got := counter(t, e, "kefu_feedback_total", rating); got != want {
			t.Errorf("kefu_feedback_total{rating=%q} = %v, want %v", rating, got, want)
		}
	}
}

// counter finds the counter of a family with the one label value.
func counter(t *testing.T, e *env, name, value string) float64 {
	t.Helper()
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestFeedbackRefused(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	r := e.chatAs(t, "C1", "", "Can I return opened headphones?")
	other := e.chatAs(t, "C2", "", "hello")
	conv := e.srvConversation(t, r.ConversationID, "C1")
	question := conv.Messages[0].ID
	path := "/v1/conversations/" + r.ConversationID + "/feedback"

	tests := []struct {
		name     string
		path     string
		body     string
		customer string
		status   int
		code     string
	}{
		{"empty body", path, "", "C1", 400, "invalid"},
		{"malformed", path, `{"message_id":`, "C1", 400, "invalid"},
		{"unknown field", path, `{"message_id":"` + r.MessageID + `","rating":"up","stars":5}`, "C1", 400, "invalid"},
		{"no message id", path, `{"rating":"up"}`, "C1", 400, "invalid"},
		{"bad rating", path, `{"message_id":"` + r.MessageID + `","rating":"meh"}`, "C1", 400, "invalid"},
		{"no rating", path, `{"message_id":"` + r.MessageID + `"}`, "C1", 400, "invalid"},
		{"comment too long", path, feedbackBody(t, api.FeedbackRequest{MessageID: r.MessageID, Rating: "down", Comment: strings.Repeat("x", 1001)}), "C1", 413, "too_large"},
		{"the shopper's own message", path, `{"message_id":"` + question + `","rating":"up"}`, "C1", 400, "invalid"},
		{"unknown message", path, `{"message_id":"m_NOSUCHMESSAGE00000000000","rating":"up"}`, "C1", 404, "not_found"},
		{"another conversation's answer", path, `{"message_id":"` + other.MessageID + `","rating":"up"}`, "C1", 404, "not_found"},
		{"another shopper's conversation", path, `{"message_id":"` + r.MessageID + `","rating":"up"}`, "C2", 404, "not_found"},
		{"anonymously", path, `{"message_id":"` + r.MessageID + `","rating":"up"}`, "", 404, "not_found"},
		{"unknown conversation", "/v1/conversations/c_NOSUCHCONVERSATION0000000/feedback", `{"message_id":"` + r.MessageID + `","rating":"up"}`, "C1", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, http.MethodPost, tt.path, tt.body, asShopper(t, tt.customer)...)
			body := wantError(t, rec, tt.status, tt.code)
			if strings.Contains(body.Message, other.MessageID) {
				t.Errorf("error names another conversation's message: %q", body.Message)
			}
		})
	}
	conv = e.srvConversation(t, r.ConversationID, "C1")
	for _, m := range conv.Messages {
		if m.Feedback != nil {
			t.Errorf("refused feedback was stored: %+v", m)
		}
	}
	// 1,000 characters is the limit, not 1,000 bytes.
	rec := e.do(t, http.MethodPost, path, feedbackBody(t, api.FeedbackRequest{MessageID: r.MessageID, Rating: "down", Comment: strings.Repeat("慢", 1000)}), asShopper(t, "C1")...)
	if rec.Code != http.StatusOK {
		t.Fatalf("1,000 Chinese characters: %d %s", rec.Code, rec.Body)
	}
}

func TestFeedbackUnavailable(t *testing.T) {
	e := newEnv(t) // no feedback store
	r := e.chatAs(t, "", "", "hello")
	rec := e.do(t, http.MethodPost, "/v1/conversations/"+r.ConversationID+"/feedback", `{"message_id":"`+r.MessageID+`","rating":"up"}`)
	wantError(t, rec, http.StatusServiceUnavailable, "unavailable")
}

// srvConversation reads a conversation through the API as customer.
func (e *env) srvConversation(t *testing.T, id, customer string) api.ConversationResponse {
	t.Helper()
	rec := e.do(t, http.MethodGet, "/v1/conversations/"+id, "", asShopper(t, customer)...)
	if rec.Code != http.StatusOK {
		t.Fatalf("conversation %s: %d %s", id, rec.Code, rec.Body)
	}
	return decode[api.ConversationResponse](t, rec.Body.Bytes())
}

// noKnowledge is a turn the shop's knowledge cannot answer, as the
// pipeline reports it.
func noKnowledge() []rag.Event {
	const text = "I'm not sure about that. Shall I pass you to a colleague?"
	return []rag.Event{
		{Type: rag.EventMeta, Meta: &rag.Meta{Intent: "product_question", Locale: "en", Decision: rag.DecideEscalate, Backend: "rules", Reason: "no_knowledge"}},
		{Type: rag.EventDelta, Delta: text},
		{Type: rag.EventCitations, Citations: []rag.Citation{}},
		{Type: rag.EventEscalation, Escalation: &rag.Escalation{Reason: "no_knowledge"}},
		{Type: rag.EventDone, Done: &rag.Done{Answer: text}},
	}
}

func TestAnalytics(t *testing.T) {
	db, opt := withBolt(t)
	e := newEnv(t, opt, withKeys(t, authKey("web", widgetKey),
		auth.KeyConfig{Name: "alice", Role: auth.RoleAgent, Key: aliceKey},
		auth.KeyConfig{Name: "root", Role: auth.RoleAdmin, Key: adminKey}))
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		if strings.Contains(tr.Message, "drone") {
			return events(nil, noKnowledge()...)
		}
		return events(nil, answerEvents(theAnswer)...)
	}
	w := bearer(widgetKey)
	gap := e.chatAs(t, "C1", "", "Do you sell drones? Call me on 13812345678", w...)
	answered := e.chatAs(t, "C1", gap.ConversationID, "Can I return opened headphones?", w...)
	liked := e.chatAs(t, "", "", "returns?", w...)
	rate := func(customer string, r api.ChatResponse, rating, comment string) {
		t.Helper()
		rec := e.do(t, http.MethodPost, "/v1/conversations/"+r.ConversationID+"/feedback",
			feedbackBody(t, api.FeedbackRequest{MessageID: r.MessageID, Rating: rating, Comment: comment}), asShopper(t, customer, w...)...)
		if rec.Code != http.StatusOK {
			t.Fatalf("feedback: %d %s", rec.Code, rec.Body)
		}
	}
	rate("C1", answered, "down", "wrong, write to me at alice@example.com")
	rate("", liked, "up", "")

	// Analytics show shoppers' words: admins only, and never without keys.
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/analytics", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/analytics", "", w...), http.StatusForbidden, "forbidden")
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/analytics", "", bearer(aliceKey)...), http.StatusForbidden, "forbidden")
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/analytics?limit=0", "", bearer(adminKey)...), http.StatusBadRequest, "invalid")
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/analytics?limit=x", "", bearer(adminKey)...), http.StatusBadRequest, "invalid")

	rec := e.do(t, http.MethodGet, "/v1/admin/analytics", "", bearer(adminKey)...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := decode[api.Analytics](t, rec.Body.Bytes())
	if got.Feedback.Up != 1 || got.Feedback.Down != 1 || len(got.Feedback.RecentDown) != 1 {
		t.Fatalf("feedback = %+v", got.Feedback)
	}
	down := got.Feedback.RecentDown[0]
	if down.MessageID != answered.MessageID || down.ConversationID != answered.ConversationID || down.Question != "Can I return opened headphones?" ||
		down.Answer != theAnswer || down.Rating != "down" || down.Comment != "wrong, write to me at [email]" || down.RatedAt == nil ||
		down.Intent != "return_refund" || down.PromptVersion != prompts.Version {
		t.Errorf("recent down = %+v", down)
	}
	if len(got.KnowledgeGaps) != 1 {
		t.Fatalf("knowledge gaps = %+v", got.KnowledgeGaps)
	}
	g := got.KnowledgeGaps[0]
	if g.MessageID != gap.MessageID || g.Question != "Do you sell drones? Call me on [phone]" || g.Reason != "no_knowledge" ||
		g.Decision != "escalate" || g.AnsweredAt.IsZero() || g.Rating != "" {
		t.Errorf("gap = %+v", g)
	}
	if strings.Contains(rec.Body.String(), "13812345678") || strings.Contains(rec.Body.String(), "alice@example.com") {
		t.Errorf("analytics show personal data: %s", rec.Body)
	}
	audit, err := db.AuditRecords(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	audit = withoutAuthFailures(audit)
	if n := len(audit); n != 3 || audit[n-1].Actor != "root" || audit[n-1].Action != "analytics.view" {
		t.Errorf("audit = %+v; want three analytics.view records by root (every admitted access)", audit)
	}

	// With no keys configured, analytics are closed.
	_, opt2 := withBolt(t)
	open := newEnv(t, opt2)
	wantError(t, open.do(t, http.MethodGet, "/v1/admin/analytics", ""), http.StatusForbidden, "forbidden")
}
