package api_test

import (
	"net/http"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/store"
)

func TestPeriodAnalytics(t *testing.T) {
	e := newDeskEnv(t, func(_ *api.Config, d *api.Deps) {
		d.Analytics = d.AuditLog.(*store.Bolt)
		d.Feedback = d.AuditLog.(*store.Bolt)
	})
	answered := e.chat(t, "C1001", "", "Can I return opened headphones?")
	esc := e.chat(t, "C1002", "", "I want to talk to a human")
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+esc.TicketID+"/reply", `{"message":"Hi, Alice here."}`)
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+esc.TicketID+"/resolve", `{"outcome":"resolved"}`)
	rec := e.do(t, "POST", "/v1/conversations/"+answered.ConversationID+"/feedback",
		`{"message_id":"`+answered.MessageID+`","rating":"up"}`, append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))...)
	if rec.Code != 200 {
		t.Fatalf("feedback: %d %s", rec.Code, rec.Body)
	}

	p := decode[api.PeriodAnalytics](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/analytics/period", ""))
	if p.Conversations != 2 || p.Escalated != 1 || p.ResolvedWithoutHuman != 1 || p.ResolutionRate != 0.5 || p.EscalationRate != 0.5 ||
		p.Tickets != 1 || p.ByReason["requested"] != 1 || p.ByOutcome["human"] != 1 || p.Feedback.Up != 1 || p.Feedback.Down != 0 ||
		p.FirstResponse.Count != 1 || p.TimeToResolution.Count != 1 || len(p.TopIntents) == 0 || len(p.Days) != 7 {
		t.Fatalf("period = %+v", p)
	}
	var days int
	for _, d := range p.Days {
		days += d.Conversations
	}
	if days != 2 {
		t.Errorf("days hold %d conversations, want 2: %+v", days, p.Days)
	}
	// A period before any of it is empty.
	empty := decode[api.PeriodAnalytics](t, e.agent(t, adminKey, 200, "GET", "/v1/admin/analytics/period?from=2020-01-01&to=2020-01-08", ""))
	if empty.Conversations != 0 || empty.Tickets != 0 || empty.Feedback.Up != 0 || empty.ResolutionRate != 0 {
		t.Errorf("empty period = %+v", empty)
	}
	for _, q := range []string{"?from=yesterday", "?from=2026-01-08&to=2026-01-01", "?from=2000-01-01&to=2026-01-01"} {
		wantError(t, e.do(t, "GET", "/v1/admin/analytics/period"+q, "", bearer(adminKey)...), http.StatusBadRequest, kefu.EInvalid)
	}
	// Agents do not read analytics.
	e.agent(t, aliceKey, 403, "GET", "/v1/admin/analytics/period", "")
}
