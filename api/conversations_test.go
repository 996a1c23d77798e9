package api_test

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// withBolt wires a real embedded store as the conversation, feedback,
// analytics and audit store.
func withBolt(t *testing.T) (*store.Bolt, envOption) {
	t.Helper()
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func(_ *api.Config, d *api.Deps) {
		d.Conversations, d.Feedback, d.Analytics, d.AuditLog = db, db, db, db
	}
}

// chatAs sends one chat message as customer ("" for anonymous) and returns
// the reply.
func (e *env) chatAs(t *testing.T, customer, convID, msg string, header ...string) api.ChatResponse {
	t.Helper()
	if customer != "" {
		header = append(header, api.HeaderCustomerToken, token(t, customer))
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: convID, Message: msg}), header...)
	if rec.Code != http.StatusOK {
		t.Fatalf("chat %q: %d %s", msg, rec.Code, rec.Body)
	}
	return decode[api.ChatResponse](t, rec.Body.Bytes())
}

// asShopper returns the header of a request made by customer ("" for an
// anonymous shopper), after the given ones.
func asShopper(t *testing.T, customer string, header ...string) []string {
	if customer == "" {
		return header
	}
	return append(header, api.HeaderCustomerToken, token(t, customer))
}

func TestGetConversation(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	first := e.chatAs(t, "C1", "", "Can I return opened headphones?")
	second := e.chatAs(t, "C1", first.ConversationID, "And in China?")

	rec := e.do(t, http.MethodGet, "/v1/conversations/"+first.ConversationID, "", asShopper(t, "C1")...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := decode[api.ConversationResponse](t, rec.Body.Bytes())
	if got.ID != first.ConversationID || got.Channel != "web" || got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("conversation = %+v", got)
	}
	if len(got.Messages) != 4 {
		t.Fatalf("got %d messages, want 4: %+v", len(got.Messages), got.Messages)
	}
	roles := []string{"user", "assistant", "user", "assistant"}
	for i, m := range got.Messages {
		if m.Role != roles[i] || m.ID == "" || m.CreatedAt.IsZero() || m.Feedback != nil || m.Partial {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	if u := got.Messages[0]; u.Content != "Can I return opened headphones?" || u.Intent != "" || u.PromptVersion != "" || len(u.Citations) != 0 {
		t.Errorf("user message = %+v", u)
	}
	a := got.Messages[3]
	if a.ID != second.MessageID || a.Content != second.Answer || a.Intent != "return_refund" || a.Decision != "answer" ||
		a.PromptVersion != prompts.Version || len(a.Citations) != 1 || a.Citations[0].DocID != "policy-returns" || a.Citations[0].N != 1 {
		t.Errorf("answer = %+v", a)
	}
	if strings.Contains(rec.Body.String(), "RETRIEVED-TEXT-NEVER-SENT") || strings.Contains(rec.Body.String(), "C1") {
		t.Errorf("the conversation shows retrieved text or the customer id: %s", rec.Body)
	}
}

// A conversation is shown only to the identity that owns it; to anyone
// else it does not exist, in the very words used for an unknown id.
func TestGetConversationOwnership(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	mine := e.chatAs(t, "C1", "", "hello").ConversationID
	anon := e.chatAs(t, "", "", "hello").ConversationID

	unknown := e.do(t, http.MethodGet, "/v1/conversations/c_NOSUCHCONVERSATION0000000", "")
	want := wantError(t, unknown, http.StatusNotFound, "not_found")
	tests := []struct {
		name, id, customer string
		status             int
	}{
		{"owner", mine, "C1", http.StatusOK},
		{"another shopper", mine, "C2", http.StatusNotFound},
		{"anonymously", mine, "", http.StatusNotFound},
		{"anonymous conversation, anonymously", anon, "", http.StatusOK},
		{"anonymous conversation, signed in", anon, "C1", http.StatusNotFound},
		{"too long an id", strings.Repeat("c", 300), "C1", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, http.MethodGet, "/v1/conversations/"+tt.id, "", asShopper(t, tt.customer)...)
			if tt.status == http.StatusOK {
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return
			}
			if got := wantError(t, rec, tt.status, "not_found"); got != want {
				t.Errorf("error %+v differs from an unknown id's %+v", got, want)
			}
		})
	}
	rec := e.do(t, http.MethodGet, "/v1/conversations/"+mine, "", api.HeaderCustomerToken, "forged.token")
	wantError(t, rec, http.StatusUnauthorized, "unauthorized")
}

func TestGetConversationNeedsWidgetKey(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt, withKeys(t, authKey("web", widgetKey), auth.KeyConfig{Name: "ops", Role: auth.RoleAgent, Key: aliceKey}))
	id := e.chatAs(t, "", "", "hello", bearer(widgetKey)...).ConversationID
	wantError(t, e.do(t, http.MethodGet, "/v1/conversations/"+id, ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.do(t, http.MethodGet, "/v1/conversations/"+id, "", bearer("wrong-key-0123456789")...), http.StatusUnauthorized, "unauthorized")
	if rec := e.do(t, http.MethodGet, "/v1/conversations/"+id, "", bearer(widgetKey)...); rec.Code != http.StatusOK {
		t.Fatalf("with the widget key: %d %s", rec.Code, rec.Body)
	}
}

// An answer cut short by a failing backend is shown as it was stored:
// partial.
func TestGetConversationPartial(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return events(errors.New("generator died"), answerEvents(theAnswer)[:2]...)
	}
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"returns?"}`, "Accept", "text/event-stream")
	evs := readSSE(t, rec.Body, nil)
	if got := strings.Join(names(evs, true), ","); got != "meta,delta,error,delta,done" {
		t.Fatalf("stream: %+v", evs)
	}
	convID := decode[api.StreamMeta](t, []byte(evs[0].data)).ConversationID
	got := decode[api.ConversationResponse](t, e.do(t, http.MethodGet, "/v1/conversations/"+convID, "").Body.Bytes())
	if len(got.Messages) != 2 {
		t.Fatalf("messages: %+v", got.Messages)
	}
	if a := got.Messages[1]; !a.Partial || !strings.HasPrefix(a.Content, theAnswer[:len(theAnswer)/2]+"\n\n") || a.Decision != "answer" {
		t.Errorf("cut answer = %+v", a)
	}
}
