package escalate

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

func openStore(t *testing.T, dir string) *store.Bolt {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type convo struct {
	t  *testing.T
	s  *store.Bolt
	id string
}

func newConvo(t *testing.T, s *store.Bolt, customer string) *convo {
	t.Helper()
	c, err := s.CreateConversation(context.Background(), customer, "web")
	if err != nil {
		t.Fatal(err)
	}
	return &convo{t: t, s: s, id: c.ID}
}

func (c *convo) add(m store.Message) store.Message {
	c.t.Helper()
	m.ConversationID = c.id
	out, err := c.s.AppendMessage(context.Background(), m)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *convo) user(text string) store.Message {
	return c.add(store.Message{Role: kefu.RoleUser, Content: text})
}

func (c *convo) bot(decision, intent, text string, escalated bool) store.Message {
	return c.add(store.Message{Role: kefu.RoleAssistant, Content: text, Decision: decision, Intent: intent, Escalated: escalated,
		Citations: json.RawMessage(`[{"n":1,"doc_id":"policy-returns","title":"Returns","source":"policies/returns.md","snippet":"30 days","score":0.8}]`)})
}

// outbox reads the queued webhook events.
func outbox(t *testing.T, s *store.Bolt) []Event {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), time.Now().Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Event, len(due))
	for i, ev := range due {
		if err := json.Unmarshal(ev.Body, &out[i]); err != nil {
			t.Fatalf("event %s body: %v", ev.ID, err)
		}
		if out[i].ID != ev.ID {
			t.Errorf("event body id %q, outbox id %q", out[i].ID, ev.ID)
		}
	}
	return out
}

func changes(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type+"/"+ev.Change)
	}
	return out
}

func decision(reason, intent string) *Decision {
	return &Decision{Reason: reason, Priority: PriorityOf(reason), Team: DefaultTeam, Intent: intent, Locale: "en"}
}

func TestDeskLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var woken atomic.Int32
	desk, err := NewDesk(s, s, Config{}, WithWebhook(func() { woken.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	c := newConvo(t, s, "C1001")
	c.user("My order W261118-1004 (SF1420576381945) came broken. Call me on 13812345678")
	c.bot(rag.DecideAnswer, rag.IntentWarranty, "Items broken on arrival can be returned within 30 days [1].", false)
	c.user("I want a human")
	c.bot(rag.DecideEscalate, rag.IntentHuman, "I'll pass you to a colleague.", true)

	tk, change, err := desk.Sync(ctx, c.id, decision(ReasonRequested, rag.IntentWarranty))
	if err != nil || change != ChangeOpened {
		t.Fatalf("Sync = %v, %v", change, err)
	}
	if tk.Status != store.TicketOpen || tk.Reason != ReasonRequested || tk.Priority != store.PriorityNormal || tk.Team != DefaultTeam ||
		tk.Intent != rag.IntentWarranty || tk.CustomerID != "C1001" || !strings.Contains(tk.Summary, "W261118-1004") {
		t.Errorf("ticket = %+v", tk)
	}
	p, err := DecodePacket(tk)
	if err != nil {
		t.Fatal(err)
	}
	if p.Redacted || !strings.Contains(p.Transcript[0].Content, "13812345678") {
		t.Errorf("the stored packet must keep the shopper's words for the agent: %+v", p.Transcript[0])
	}
	evs := outbox(t, s)
	if len(evs) != 1 || evs[0].Type != EventTicketCreated || evs[0].Ticket.ID != tk.ID {
		t.Fatalf("outbox = %+v", evs)
	}
	body, _ := json.Marshal(evs[0])
	if strings.Contains(string(body), "13812345678") || !strings.Contains(string(body), "[phone]") || !strings.Contains(string(body), "W261118-1004") {
		t.Errorf("the webhook body must be redacted but keep order numbers: %s", body)
	}
	if woken.Load() == 0 {
		t.Error("the worker was not woken")
	}

	// A later, stronger escalation raises the ticket; a weaker one does not
	// lower it.
	c.user("This is ridiculous!!!")
	c.bot(rag.DecideEscalate, rag.IntentComplaint, "Sorry.", true)
	tk2, change, err := desk.Sync(ctx, c.id, decision(ReasonAnger, rag.IntentComplaint))
	if err != nil || change != ChangeEscalated || tk2.ID != tk.ID || tk2.Reason != ReasonAnger || tk2.Priority != store.PriorityHigh ||
		tk2.Intent != rag.IntentWarranty {
		t.Fatalf("raise: %+v, %s, %v", tk2, change, err)
	}
	tk3, _, err := desk.Sync(ctx, c.id, decision(ReasonRequested, rag.IntentHuman))
	if err != nil || tk3.Reason != ReasonAnger {
		t.Fatalf("weaker escalation: %+v, %v", tk3, err)
	}
	if p, _ := DecodePacket(tk3); !slices.Equal(p.Reasons, []string{ReasonRequested, ReasonAnger}) {
		t.Errorf("reasons = %v", p.Reasons)
	}

	// Claims.
	claimed, err := desk.Claim(ctx, tk.ID, "alice")
	if err != nil || claimed.Status != store.TicketClaimed || claimed.Assignee != "alice" || claimed.ClaimedAt == nil {
		t.Fatalf("claim: %+v, %v", claimed, err)
	}
	if _, err := desk.Claim(ctx, tk.ID, "bob"); kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("bob claims alice's ticket: %v, want conflict", err)
	}
	if again, err := desk.Claim(ctx, tk.ID, "alice"); err != nil || again.Assignee != "alice" {
		t.Errorf("alice claims again: %+v, %v", again, err)
	}
	if _, err := desk.Claim(ctx, "t_NOPE", "alice"); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("claim an unknown ticket: %v", err)
	}

	// The shopper writes while alice owns the conversation.
	c.user("hello? my email is li.wei@example.com")
	if got, change, err := desk.Sync(ctx, c.id, nil); err != nil || change != ChangeMessage || got.Status != store.TicketClaimed {
		t.Fatalf("refresh: %+v %s %v", got, change, err)
	}

	// Replies.
	if _, _, err := desk.Reply(ctx, tk.ID, "bob", "hi"); kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("bob replies on alice's ticket: %v", err)
	}
	if _, _, err := desk.Reply(ctx, tk.ID, "alice", "  "); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("empty reply: %v", err)
	}
	replied, msg, err := desk.Reply(ctx, tk.ID, "alice", "Hello Li Wei, I'm Alice. I'll arrange a replacement.")
	if err != nil || msg.Role != kefu.RoleAgent || msg.ConversationID != c.id || msg.ID == "" {
		t.Fatalf("reply: %+v, %v", msg, err)
	}
	p, _ = DecodePacket(replied)
	if last := p.Transcript[len(p.Transcript)-1]; last.Role != kefu.RoleAgent || last.MessageID != msg.ID {
		t.Errorf("the reply is not in the transcript: %+v", last)
	}

	// Resolve.
	if _, err := desk.Resolve(ctx, tk.ID, "alice", "done"); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("bad outcome: %v", err)
	}
	closed, err := desk.Resolve(ctx, tk.ID, "alice", OutcomeResolved)
	if err != nil || closed.Status != store.TicketClosed || closed.Outcome != store.OutcomeHuman || closed.ClosedAt == nil {
		t.Fatalf("resolve: %+v, %v", closed, err)
	}
	if _, err := desk.Resolve(ctx, tk.ID, "alice", OutcomeResolved); kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("resolve twice: %v", err)
	}
	if _, _, err := desk.Reply(ctx, tk.ID, "alice", "one more thing"); kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("reply on a closed ticket: %v", err)
	}
	if _, err := desk.ActiveTicket(ctx, c.id); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("ActiveTicket after resolve: %v", err)
	}
	if got, change, err := desk.Sync(ctx, c.id, nil); err != nil || change != "" || got.ID != "" {
		t.Errorf("Sync without a ticket = %+v, %q, %v", got, change, err)
	}

	want := []string{
		"ticket.created/opened", "ticket.updated/escalated", "ticket.updated/escalated", "ticket.updated/claimed",
		"ticket.updated/message", "ticket.updated/replied", "ticket.updated/resolved",
	}
	if got := changes(outbox(t, s)); !slices.Equal(got, want) {
		t.Errorf("webhook events:\n got %v\nwant %v", got, want)
	}
	for _, ev := range outbox(t, s) {
		if raw, _ := json.Marshal(ev); strings.Contains(string(raw), "li.wei@example.com") {
			t.Errorf("event %s leaks an email address", ev.Change)
		}
	}
}

func TestDeskOfferLapsesWhenTheBotAnswers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	desk, err := NewDesk(s, s, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		reason string
		claim  bool
		closes bool
	}{
		{"did not know, then answered", ReasonNoKnowledge, false, true},
		{"asked for a person", ReasonRequested, false, false},
		{"did not know, claimed", ReasonNoKnowledge, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newConvo(t, s, "")
			c.user("tractor tyres?")
			c.bot(rag.DecideEscalate, rag.IntentProduct, "I don't know; shall I pass you to a colleague?", true)
			tk, _, err := desk.Sync(ctx, c.id, decision(tt.reason, rag.IntentProduct))
			if err != nil {
				t.Fatal(err)
			}
			if tt.claim {
				if _, err := desk.Claim(ctx, tk.ID, "alice"); err != nil {
					t.Fatal(err)
				}
			}
			c.user("ok then, what is the return period?")
			c.bot(rag.DecideAnswer, rag.IntentReturn, "30 days [1].", false)
			got, change, err := desk.Sync(ctx, c.id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if closes := got.Status == store.TicketClosed; closes != tt.closes {
				t.Fatalf("ticket = %+v (change %s); want closed %v", got, change, tt.closes)
			}
			if tt.closes && (got.Outcome != store.OutcomeBot || change != ChangeBotResolved) {
				t.Errorf("closed as %q by change %q", got.Outcome, change)
			}
		})
	}
	if n, _ := s.OutboxLen(ctx); n != 0 {
		t.Errorf("without a webhook, %d events were queued", n)
	}
}

func TestDeskReplyClaimsAnOpenTicket(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	desk, _ := NewDesk(s, s, Config{})
	c := newConvo(t, s, "")
	c.user("human please")
	tk, _, err := desk.Sync(ctx, c.id, decision(ReasonRequested, rag.IntentHuman))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := desk.Reply(ctx, tk.ID, "carol", "Hi, Carol here.")
	if err != nil || got.Status != store.TicketClaimed || got.Assignee != "carol" {
		t.Fatalf("reply to an open ticket: %+v, %v", got, err)
	}
	// Closing an unclaimed ticket records the closer.
	c2 := newConvo(t, s, "")
	c2.user("human please")
	tk2, _, _ := desk.Sync(ctx, c2.id, decision(ReasonRequested, rag.IntentHuman))
	closed, err := desk.Resolve(ctx, tk2.ID, "dave", OutcomeAbandoned)
	if err != nil || closed.Outcome != store.OutcomeAbandoned || closed.Assignee != "dave" {
		t.Fatalf("abandon: %+v, %v", closed, err)
	}
}

// TestWebhookBodyRedactsAcrossTheSummaryCut plays a card number, an IBAN
// and a US phone number placed where the summary cuts the first message:
// the webhook body holds none of their digits.
func TestWebhookBodyRedactsAcrossTheSummaryCut(t *testing.T) {
	ctx := context.Background()
	for _, number := range []string{"4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "(555) 123-4567"} {
		s := openStore(t, t.TempDir())
		desk, err := NewDesk(s, s, Config{}, WithWebhook(func() {}))
		if err != nil {
			t.Fatal(err)
		}
		c := newConvo(t, s, "C1001")
		c.user(strings.Repeat("a", maxSummaryRunes-8) + " " + number + " is mine")
		c.bot(rag.DecideEscalate, rag.IntentHuman, "I'll pass you to a colleague.", true)
		if _, _, err := desk.Sync(ctx, c.id, decision(ReasonRequested, rag.IntentPayment)); err != nil {
			t.Fatal(err)
		}
		evs := outbox(t, s)
		if len(evs) != 1 {
			t.Fatalf("outbox %+v", evs)
		}
		body, _ := json.Marshal(evs[0])
		for _, part := range strings.Fields(number) {
			if len(part) >= 3 && strings.Contains(string(body), part) && part != "WEST" {
				t.Errorf("%s: the webhook body holds %q: %s", number, part, body)
			}
		}
	}
}
