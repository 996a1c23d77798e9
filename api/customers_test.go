package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/store"
)

func withPrivacy(_ *api.Config, d *api.Deps) {
	d.Privacy = d.Conversations.(*store.Bolt)
	d.Feedback = d.Conversations.(*store.Bolt)
}

// TestExportAndEraseCustomer plays a shopper's whole stay (chat, handoff,
// an agent's reply, feedback), exports it and erases it through the admin
// API.
func TestExportAndEraseCustomer(t *testing.T) {
	e := newDeskEnv(t, withPrivacy)
	first := e.chat(t, "cust-1", "", "Where is my order? it-is-cust-1-speaking")
	e.chat(t, "cust-1", first.ConversationID, "I want a human please")
	other := e.chat(t, "cust-2", "", "Hello from cust-2")
	tk, err := e.store.ActiveTicket(t.Context(), first.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	e.agent(t, aliceKey, http.StatusOK, http.MethodPost, "/v1/agent/tickets/"+tk.ID+"/claim", "")
	e.agent(t, aliceKey, http.StatusOK, http.MethodPost, "/v1/agent/tickets/"+tk.ID+"/reply", `{"message":"agent-reply-to-cust-1"}`)
	rec := e.do(t, http.MethodPost, "/v1/conversations/"+first.ConversationID+"/feedback",
		`{"message_id":"`+first.MessageID+`","rating":"down","comment":"cust-1-feedback-comment"}`,
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "cust-1"))...)
	if rec.Code != http.StatusOK {
		t.Fatalf("feedback: %d %s", rec.Code, rec.Body)
	}

	// Only an admin exports or erases.
	for _, key := range []string{widgetKey, aliceKey} {
		wantError(t, e.do(t, http.MethodGet, "/v1/admin/customers/cust-1/export", "", bearer(key)...), 403, kefu.EForbidden)
		wantError(t, e.do(t, http.MethodDelete, "/v1/admin/customers/cust-1", "", bearer(key)...), 403, kefu.EForbidden)
		wantError(t, e.do(t, http.MethodGet, "/v1/admin/audit", "", bearer(key)...), 403, kefu.EForbidden)
	}
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/customers/cust-1", ""), 401, kefu.EUnauthorized)
	wantError(t, e.do(t, http.MethodDelete, "/v1/admin/customers/bad%20id", "", bearer(adminKey)...), 400, kefu.EInvalid)

	body := e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/customers/cust-1/export", "")
	ex := decode[store.CustomerExport](t, body)
	if len(ex.Conversations) != 1 || len(ex.Tickets) != 1 || len(ex.Conversations[0].Feedback) != 1 {
		t.Fatalf("export = %s", body)
	}
	for _, want := range []string{"it-is-cust-1-speaking", "I want a human please", "agent-reply-to-cust-1", "cust-1-feedback-comment", tk.ID} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	if strings.Contains(string(body), "cust-2") {
		t.Error("the export of cust-1 holds cust-2's data")
	}

	body = e.agent(t, adminKey, http.StatusOK, http.MethodDelete, "/v1/admin/customers/cust-1", "")
	reply := decode[api.EraseReply](t, body)
	if reply.Erased.Conversations != 1 || reply.Erased.Tickets != 1 || reply.Erased.Feedback != 1 || reply.Erased.Messages < 5 ||
		reply.Customer != store.CustomerRef("cust-1") {
		t.Errorf("erase reply = %s", body)
	}
	if _, err := e.store.Conversation(t.Context(), first.ConversationID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("the erased conversation is still there: %v", err)
	}
	if _, err := e.store.Ticket(t.Context(), tk.ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("the erased ticket is still there: %v", err)
	}
	if msgs, err := e.store.Messages(t.Context(), other.ConversationID, 0); err != nil || len(msgs) != 2 {
		t.Errorf("cust-2's conversation after cust-1's erasure: %d messages, %v", len(msgs), err)
	}
	after := decode[store.CustomerExport](t, e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/customers/cust-1/export", ""))
	if len(after.Conversations)+len(after.Tickets)+len(after.OutboxEvents) != 0 {
		t.Errorf("export after erasure = %+v", after)
	}

	// The audit log says who erased and exported whom (as a pseudonym),
	// and holds nothing of what was erased.
	body = e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/audit?actor=root", "")
	page := decode[store.AuditPage](t, body)
	var actions []string
	for _, r := range page.Records {
		actions = append(actions, r.Action)
	}
	if got := strings.Join(actions, " "); got != "customers.export customer.erase customers.export audit.read" {
		t.Errorf("root's audit actions = %s", got)
	}
	if page.Records[1].Target != store.CustomerRef("cust-1") || !strings.Contains(page.Records[1].Detail, "1 conversations") {
		t.Errorf("erasure record = %+v", page.Records[1])
	}
	all := e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/audit?limit=1000", "")
	for _, secret := range []string{"cust-1", "it-is-cust-1-speaking", "agent-reply-to-cust-1", "cust-1-feedback-comment"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
	if v, err := e.store.VerifyAudit(t.Context()); err != nil || v.Break != nil {
		t.Errorf("audit chain: %+v, %v", v, err)
	}
}

func TestReadAuditQuery(t *testing.T) {
	e := newDeskEnv(t, withPrivacy)
	for range 5 {
		e.agent(t, aliceKey, http.StatusOK, http.MethodGet, "/v1/agent/tickets", "")
	}
	page := decode[store.AuditPage](t, e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/audit?actor=alice&action=ticket.list&limit=2", ""))
	if len(page.Records) != 2 || page.Next != 2 || page.Records[0].Actor != "alice" {
		t.Fatalf("first page = %+v", page)
	}
	page = decode[store.AuditPage](t, e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/audit?actor=alice&limit=2&after=4", ""))
	if len(page.Records) != 1 || page.Records[0].Seq != 5 || page.Next != 0 {
		t.Fatalf("last page = %+v", page)
	}
	page = decode[store.AuditPage](t, e.agent(t, adminKey, http.StatusOK, http.MethodGet, "/v1/admin/audit?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z", ""))
	if len(page.Records) != 0 {
		t.Errorf("records from 2000: %+v", page.Records)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "since=yesterday", "until=2026-13-01T00:00:00Z", "after=-1", "actor=" + strings.Repeat("a", 201)} {
		wantError(t, e.do(t, http.MethodGet, "/v1/admin/audit?"+q, "", bearer(adminKey)...), 400, kefu.EInvalid)
	}
}

func TestPrivacyRoutesNeedAStore(t *testing.T) {
	e := newDeskEnv(t)
	wantError(t, e.do(t, http.MethodGet, "/v1/admin/audit", "", bearer(adminKey)...), 503, kefu.EUnavailable)
}

// Without keys (open demo mode) the routes are closed: they would give
// anyone every shopper's words.
func TestPrivacyRoutesClosedWithoutKeys(t *testing.T) {
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, _, err := db.StartConversation(t.Context(), "cust-1", "web", store.Message{Role: "user", Content: "secret words"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.Privacy = db })
	for _, req := range [][2]string{{http.MethodGet, "/v1/admin/customers/cust-1/export"}, {http.MethodDelete, "/v1/admin/customers/cust-1"}, {http.MethodGet, "/v1/admin/audit"}} {
		rec := e.do(t, req[0], req[1], "")
		wantError(t, rec, 403, kefu.EForbidden)
		if strings.Contains(rec.Body.String(), "secret words") {
			t.Errorf("%s %s leaked the shopper's words", req[0], req[1])
		}
	}
	if _, err := db.Conversation(t.Context(), c.ID); err != nil {
		t.Errorf("an anonymous request erased the shopper: %v", err)
	}
}
