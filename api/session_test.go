package api_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/store"
)

// fakeClock is a settable clock for session lifetimes.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func withClock(c *fakeClock) envOption {
	return func(_ *api.Config, d *api.Deps) { d.Now = c.now }
}

const testOrigin = "http://example.com" // httptest.NewRequest's host

// signedIn is a staff session as a browser holds it.
type signedIn struct {
	cookie *http.Cookie
	csrf   string
	view   api.SessionResponse
}

func (e *deskEnv) signIn(t *testing.T, key string, header ...string) (signedIn, *httptest.ResponseRecorder) {
	t.Helper()
	rec := e.do(t, http.MethodPost, "/v1/session", `{"key":"`+key+`"}`, header...)
	if rec.Code != http.StatusOK {
		return signedIn{}, rec
	}
	var got signedIn
	for _, c := range rec.Result().Cookies() {
		if c.Name == api.SessionCookie {
			got.cookie = c
		}
	}
	if got.cookie == nil {
		t.Fatalf("sign-in set no %s cookie: %v", api.SessionCookie, rec.Header())
	}
	got.view = decode[api.SessionResponse](t, rec.Body.Bytes())
	got.csrf = got.view.CSRFToken
	return got, rec
}

// send makes a browser request with the session's cookie and the headers.
func (e *deskEnv) send(t *testing.T, s signedIn, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: s.cookie.Value})
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (s signedIn) write() []string {
	return []string{"Origin", testOrigin, api.HeaderCSRF, s.csrf}
}

func TestSessionCookieFlags(t *testing.T) {
	e := newDeskEnv(t)
	s, rec := e.signIn(t, aliceKey, "Origin", testOrigin)
	if rec.Code != 200 {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	c := s.cookie
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
		t.Errorf("cookie over plain HTTP = %+v; want HttpOnly, SameSite=Strict, Path=/, not Secure, with Max-Age", c)
	}
	if len(c.Value) < 40 || strings.Contains(c.Value, aliceKey) || strings.Contains(rec.Body.String(), aliceKey) {
		t.Errorf("the cookie (%q) or the body carries the key or is too short: %s", c.Value, rec.Body)
	}
	if s.view.Name != "alice" || s.view.Role != "agent" || len(s.csrf) < 40 || s.csrf == c.Value {
		t.Errorf("session = %+v", s.view)
	}

	// Over TLS the cookie is Secure.
	req := httptest.NewRequest(http.MethodPost, "/v1/session", strings.NewReader(`{"key":"`+aliceKey+`"}`))
	req.TLS = &tls.ConnectionState{}
	tlsRec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(tlsRec, req)
	cs := tlsRec.Result().Cookies()
	if tlsRec.Code != 200 || len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie over TLS = %+v (%d)", cs, tlsRec.Code)
	}

	// A reload reads the session and its CSRF token back.
	got := e.send(t, s, http.MethodGet, "/v1/session", "")
	if got.Code != 200 || decode[api.SessionResponse](t, got.Body.Bytes()).CSRFToken != s.csrf {
		t.Errorf("GET /v1/session: %d %s", got.Code, got.Body)
	}
}

// The console's whole day through its session: read the queue, claim,
// reply and resolve, each write with the CSRF token and the origin.
func TestSessionWorksTheDesk(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "I want to talk to a human")
	s, rec := e.signIn(t, aliceKey)
	if rec.Code != 200 {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	if r := e.send(t, s, "GET", "/v1/agent/tickets", ""); r.Code != 200 || !strings.Contains(r.Body.String(), first.TicketID) {
		t.Fatalf("queue through the session: %d %s", r.Code, r.Body)
	}
	claim := e.send(t, s, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "", s.write()...)
	if claim.Code != 200 || decode[api.Ticket](t, claim.Body.Bytes()).Assignee != "alice" {
		t.Fatalf("claim through the session: %d %s", claim.Code, claim.Body)
	}
	reply := e.send(t, s, "POST", "/v1/agent/tickets/"+first.TicketID+"/reply", `{"message":"Hello, Alice here."}`, s.write()...)
	if reply.Code != 200 {
		t.Fatalf("reply: %d %s", reply.Code, reply.Body)
	}
	resolve := e.send(t, s, "POST", "/v1/agent/tickets/"+first.TicketID+"/resolve", `{"outcome":"resolved"}`, s.write()...)
	if resolve.Code != 200 {
		t.Fatalf("resolve: %d %s", resolve.Code, resolve.Body)
	}
	// The audit log names the agent behind the session.
	recs, err := e.store.AuditRecords(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var claimed bool
	for _, r := range recs {
		if r.Action == "ticket.claim" && r.Actor == "alice" {
			claimed = true
		}
	}
	if !claimed {
		t.Errorf("no audit record of alice's claim: %+v", recs)
	}
}

// Attacks on a signed-in agent's browser: a write without the token, with
// a wrong token, from another site, or with no origin at all is refused,
// and the ticket stays unclaimed.
func TestSessionCSRFRefused(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "I want to talk to a human")
	s, _ := e.signIn(t, aliceKey)
	path := "/v1/agent/tickets/" + first.TicketID + "/claim"
	for name, header := range map[string][]string{
		"no token":         {"Origin", testOrigin},
		"wrong token":      {"Origin", testOrigin, api.HeaderCSRF, s.csrf[:len(s.csrf)-2] + "xx"},
		"other origin":     {"Origin", "https://evil.example", api.HeaderCSRF, s.csrf},
		"other referer":    {"Referer", "https://evil.example/page", api.HeaderCSRF, s.csrf},
		"no origin":        {api.HeaderCSRF, s.csrf},
		"null origin":      {"Origin", "null", api.HeaderCSRF, s.csrf},
		"look-alike host":  {"Origin", "http://example.com.evil.example", api.HeaderCSRF, s.csrf},
		"cookie in header": {"Origin", testOrigin, api.HeaderCSRF, s.cookie.Value},
	} {
		t.Run(name, func(t *testing.T) {
			rec := e.send(t, s, "POST", path, "", header...)
			wantError(t, rec, http.StatusForbidden, kefu.EForbidden)
		})
	}
	tk := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+first.TicketID, ""))
	if tk.Status != "open" {
		t.Errorf("a refused write changed the ticket: %+v", tk)
	}
	// Sign-out is a write too.
	wantError(t, e.send(t, s, "DELETE", "/v1/session", "", "Origin", "https://evil.example", api.HeaderCSRF, s.csrf), 403, kefu.EForbidden)
	if r := e.send(t, s, "GET", "/v1/agent/tickets", ""); r.Code != 200 {
		t.Errorf("a refused sign-out ended the session: %d", r.Code)
	}
	// Another site cannot sign the browser in (login CSRF).
	_, rec := e.signIn(t, aliceKey, "Origin", "https://evil.example")
	wantError(t, rec, http.StatusForbidden, kefu.EForbidden)
}

func TestSessionExpires(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := newDeskEnv(t, withClock(clock), func(c *api.Config, _ *api.Deps) {
		c.SessionTTL, c.SessionIdle = 8*time.Hour, time.Hour
	})
	s, _ := e.signIn(t, aliceKey)
	// Used every 50 minutes, it outlives its idle bound but not its TTL.
	for i := 0; i < 9; i++ {
		clock.add(50 * time.Minute)
		if r := e.send(t, s, "GET", "/v1/agent/tickets", ""); r.Code != 200 {
			t.Fatalf("after %d × 50 min: %d %s", i+1, r.Code, r.Body)
		}
	}
	clock.add(50 * time.Minute) // 8h20m since sign-in
	wantError(t, e.send(t, s, "GET", "/v1/agent/tickets", ""), http.StatusUnauthorized, kefu.EUnauthorized)
	wantError(t, e.send(t, s, "GET", "/v1/session", ""), http.StatusUnauthorized, kefu.EUnauthorized)

	// Left alone for an hour, a fresh one ends too.
	s2, _ := e.signIn(t, aliceKey)
	clock.add(time.Hour)
	wantError(t, e.send(t, s2, "GET", "/v1/agent/tickets", ""), http.StatusUnauthorized, kefu.EUnauthorized)
}

func TestSessionSignOut(t *testing.T) {
	e := newDeskEnv(t)
	s, _ := e.signIn(t, aliceKey)
	rec := e.send(t, s, "DELETE", "/v1/session", "", s.write()...)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("sign-out: %d %s", rec.Code, rec.Body)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != api.SessionCookie || cs[0].MaxAge >= 0 {
		t.Errorf("sign-out did not clear the cookie: %+v", cs)
	}
	// The old cookie, replayed, is dead.
	wantError(t, e.send(t, s, "GET", "/v1/agent/tickets", ""), http.StatusUnauthorized, kefu.EUnauthorized)
}

// An agent's session is an agent key: the admin routes refuse it, as they
// refuse the agent's key itself; an admin's session reaches both.
func TestAgentSessionCannotReachAdmin(t *testing.T) {
	e := newDeskEnv(t, func(_ *api.Config, d *api.Deps) {
		d.Analytics = d.AuditLog.(*store.Bolt)
		d.Documents = &fakeDocuments{}
	})
	s, _ := e.signIn(t, aliceKey)
	wantError(t, e.send(t, s, "GET", "/v1/admin/analytics", ""), http.StatusForbidden, kefu.EForbidden)
	wantError(t, e.send(t, s, "DELETE", "/v1/admin/documents/policies/returns.md", "", s.write()...), http.StatusForbidden, kefu.EForbidden)
	wantError(t, e.send(t, s, "GET", "/v1/admin/audit", ""), http.StatusForbidden, kefu.EForbidden)

	admin, _ := e.signIn(t, adminKey)
	if admin.view.Role != "admin" {
		t.Fatalf("admin session = %+v", admin.view)
	}
	if r := e.send(t, admin, "GET", "/v1/admin/analytics", ""); r.Code != 200 {
		t.Errorf("admin session on analytics: %d %s", r.Code, r.Body)
	}
	if r := e.send(t, admin, "GET", "/v1/agent/tickets", ""); r.Code != 200 {
		t.Errorf("admin session on the queue: %d %s", r.Code, r.Body)
	}
}

// A widget key, a wrong key and no key do not sign in; failures count
// against the address like the API's failed authentications, and a forged
// cookie counts too.
func TestSessionSignInRefusedAndLimited(t *testing.T) {
	e := newDeskEnv(t, withLimits(api.Limits{AuthFailRate: 0.001, AuthFailBurst: 3}))
	_, rec := e.signIn(t, widgetKey)
	wantError(t, rec, http.StatusForbidden, kefu.EForbidden)
	_, rec = e.signIn(t, "guess-0123456789")
	wantError(t, rec, http.StatusUnauthorized, kefu.EUnauthorized)
	forged := signedIn{cookie: &http.Cookie{Value: strings.Repeat("A", 43)}}
	wantError(t, e.send(t, forged, "GET", "/v1/agent/tickets", ""), http.StatusUnauthorized, kefu.EUnauthorized)
	// The burst is spent: even the right key is refused until it refills.
	_, rec = e.signIn(t, aliceKey)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("sign-in after three failures: %d %s", rec.Code, rec.Body)
	}
}

func TestSessionsAreBounded(t *testing.T) {
	e := newDeskEnv(t, func(c *api.Config, _ *api.Deps) { c.MaxSessions = 2 })
	first, _ := e.signIn(t, aliceKey)
	second, _ := e.signIn(t, bobKey)
	third, _ := e.signIn(t, aliceKey)
	wantError(t, e.send(t, first, "GET", "/v1/agent/tickets", ""), http.StatusUnauthorized, kefu.EUnauthorized)
	for _, s := range []signedIn{second, third} {
		if r := e.send(t, s, "GET", "/v1/agent/tickets", ""); r.Code != 200 {
			t.Errorf("session of %s: %d", s.view.Name, r.Code)
		}
	}
}

// A bearer key still works beside sessions, and takes precedence over a
// cookie.
func TestBearerKeyBesideSession(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "I want to talk to a human")
	s, _ := e.signIn(t, aliceKey)
	rec := e.send(t, s, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "", bearer(bobKey)...)
	if rec.Code != 200 || decode[api.Ticket](t, rec.Body.Bytes()).Assignee != "bob" {
		t.Fatalf("bearer claim with a cookie beside it: %d %s", rec.Code, rec.Body)
	}
}

// The copilot drafts from the shopper's last question that the knowledge
// answers, as that shopper, and stores nothing.
func TestSuggestedReply(t *testing.T) {
	e := newDeskEnv(t)
	first := e.chat(t, "C1001", "", "Can I return opened headphones?")
	esc := e.chat(t, "C1001", first.ConversationID, "I want to talk to a human")
	before := len(e.calls())
	msgs := decode[api.MessagesResponse](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+esc.TicketID+"/messages", ""))
	if len(msgs.Messages) != 4 || msgs.Messages[2].Content != "I want to talk to a human" {
		t.Fatalf("messages = %+v", msgs)
	}

	sug := decode[api.Suggestion](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+esc.TicketID+"/suggestion", ""))
	if !sug.Found || sug.Question != "Can I return opened headphones?" || sug.Answer != theAnswer || len(sug.Citations) == 0 || sug.Decision != "answer" {
		t.Fatalf("suggestion = %+v", sug)
	}
	calls := e.calls()[before:]
	if len(calls) != 2 || calls[1].CustomerID != "C1001" || calls[1].Channel != "agent_assist" || len(calls[1].History) != 0 {
		t.Fatalf("the copilot's turns = %+v", calls)
	}
	if got := decode[api.MessagesResponse](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+esc.TicketID+"/messages", "")); len(got.Messages) != 4 {
		t.Errorf("drafting stored messages: %+v", got)
	}
	// A shopper's key cannot read drafts or the conversation through the desk.
	e.agent(t, widgetKey, 403, "GET", "/v1/agent/tickets/"+esc.TicketID+"/suggestion", "")
	e.agent(t, widgetKey, 403, "GET", "/v1/agent/tickets/"+esc.TicketID+"/messages", "")
	e.agent(t, aliceKey, 404, "GET", "/v1/agent/tickets/t_nope/suggestion", "")
}

// With only a request for a person, the draft is the holding reply, marked
// not found.
func TestSuggestedReplyNothingFound(t *testing.T) {
	e := newDeskEnv(t)
	esc := e.chat(t, "C1002", "", "I want to talk to a human")
	sug := decode[api.Suggestion](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+esc.TicketID+"/suggestion", ""))
	if sug.Found || sug.Question != "I want to talk to a human" || sug.Citations == nil {
		t.Fatalf("suggestion = %+v", sug)
	}
}

// An internal note stays in the ticket: the shopper's conversation and
// the assistant's next turn never hold it, and a later reply keeps it.
func TestInternalNote(t *testing.T) {
	e := newDeskEnv(t)
	esc := e.chat(t, "C1001", "", "I want to talk to a human")
	tk := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+esc.TicketID+"/note", `{"note":"VIP: refund approved by lead"}`))
	if tk.Packet == nil || len(tk.Packet.Notes) != 1 || tk.Packet.Notes[0].Agent != "alice" || tk.Packet.Notes[0].Text != "VIP: refund approved by lead" {
		t.Fatalf("ticket after note = %+v", tk.Packet)
	}
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+esc.TicketID+"/reply", `{"message":"Hello"}`)
	after := decode[api.Ticket](t, e.agent(t, aliceKey, 200, "GET", "/v1/agent/tickets/"+esc.TicketID, ""))
	if len(after.Packet.Notes) != 1 {
		t.Errorf("a reply dropped the note: %+v", after.Packet.Notes)
	}
	rec := e.do(t, "GET", "/v1/conversations/"+esc.ConversationID, "", append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))...)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "VIP") {
		t.Errorf("the shopper sees the note: %d %s", rec.Code, rec.Body)
	}
	e.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+esc.TicketID+"/resolve", `{"outcome":"resolved"}`)
	e.chat(t, "C1001", esc.ConversationID, "thanks")
	for _, turn := range e.calls() {
		for _, h := range turn.History {
			if strings.Contains(h.Content, "VIP") {
				t.Errorf("the assistant read the note: %+v", turn.History)
			}
		}
	}
	e.agent(t, aliceKey, 400, "POST", "/v1/agent/tickets/"+esc.TicketID+"/note", `{"note":"  "}`)
	e.agent(t, widgetKey, 403, "POST", "/v1/agent/tickets/"+esc.TicketID+"/note", `{"note":"x"}`)
}
