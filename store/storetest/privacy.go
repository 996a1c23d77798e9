package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// PrivacyStore is the behaviour RunPrivacy checks: a shopper's data
// exported and erased, retention, and the audit log as a chain that can be
// queried and verified.
type PrivacyStore interface {
	TicketStore
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	Message(ctx context.Context, id string) (store.Message, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error)
	ConversationFeedback(ctx context.Context, conversationID string) ([]store.Feedback, error)

	EraseCustomer(ctx context.Context, customerID string, by store.AuditRecord) (store.Erasure, error)
	ExportCustomer(ctx context.Context, customerID string) (store.CustomerExport, error)
	ApplyRetention(ctx context.Context, r store.Retention, now time.Time) (store.RetentionReport, error)
	Audit(ctx context.Context, q store.AuditQuery) (store.AuditPage, error)
	VerifyAudit(ctx context.Context) (store.AuditVerification, error)
}

// RunPrivacy runs the privacy suite. open returns a new, empty store for
// each subtest and arranges its closing with t.Cleanup.
func RunPrivacy(t *testing.T, open func(t *testing.T) PrivacyStore) {
	t.Run("ExportHoldsEverything", func(t *testing.T) { testExport(t, open(t)) })
	t.Run("EraseLeavesOnlyTheAudit", func(t *testing.T) { testErase(t, open(t)) })
	t.Run("EraseBadInput", func(t *testing.T) { testEraseBadInput(t, open(t)) })
	t.Run("RetentionChats", func(t *testing.T) { testRetentionChats(t, open(t)) })
	t.Run("RetentionTicketsOutboxFeedback", func(t *testing.T) { testRetentionOthers(t, open(t)) })
	t.Run("RetentionAuditKeepsTheChain", func(t *testing.T) { testRetentionAudit(t, open(t)) })
	t.Run("AuditChain", func(t *testing.T) { testAuditChain(t, open(t)) })
	t.Run("AuditQuery", func(t *testing.T) { testAuditQuery(t, open(t)) })
}

// shopper is what seed stored for one shopper.
type shopper struct {
	convs    []store.Conversation
	messages []store.Message
	tickets  []store.Ticket
	feedback []store.Feedback
	events   []string
}

// seed stores for customer two conversations of a question and an answer
// each, feedback with a comment on the first answer, and a ticket with a
// packet and an outbox event on the second conversation.
func seed(t *testing.T, s PrivacyStore, customer string) shopper {
	t.Helper()
	ctx := context.Background()
	var sh shopper
	for i := range 2 {
		c, err := s.CreateConversation(ctx, customer, "web")
		if err != nil {
			t.Fatal(err)
		}
		sh.convs = append(sh.convs, c)
		q, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: fmt.Sprintf("%s question %d", customer, i)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: fmt.Sprintf("%s answer %d", customer, i)})
		if err != nil {
			t.Fatal(err)
		}
		sh.messages = append(sh.messages, q, a)
		if i == 0 {
			f, err := s.PutFeedback(ctx, store.Feedback{ConversationID: c.ID, MessageID: a.ID, Rating: store.RatingDown, Comment: customer + " was not helped"})
			if err != nil {
				t.Fatal(err)
			}
			sh.feedback = append(sh.feedback, f)
			continue
		}
		evID := "ev-" + customer
		tk, _, err := s.OpenTicket(ctx, c.ID, func(tk *store.Ticket, _ bool) (*store.OutboxEvent, error) {
			tk.Reason, tk.Priority, tk.Team = "requested", store.PriorityNormal, "support"
			tk.Summary = customer + " wants a person"
			tk.Packet = json.RawMessage(`{"transcript":[{"role":"user","content":"` + customer + ` question 1"}]}`)
			return &store.OutboxEvent{ID: evID, Body: json.RawMessage(`{"ticket":"` + tk.ID + `"}`)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sh.tickets = append(sh.tickets, tk)
		sh.events = append(sh.events, evID)
	}
	return sh
}

func testExport(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	a := seed(t, s, "cust-a")
	seed(t, s, "cust-b")
	ex, err := s.ExportCustomer(ctx, "cust-a")
	if err != nil {
		t.Fatal(err)
	}
	if ex.CustomerID != "cust-a" || ex.ExportedAt.IsZero() {
		t.Errorf("export header = %q at %v", ex.CustomerID, ex.ExportedAt)
	}
	if len(ex.Conversations) != len(a.convs) {
		t.Fatalf("export has %d conversations, want %d", len(ex.Conversations), len(a.convs))
	}
	var msgs []store.Message
	var fbs []store.Feedback
	for i, c := range ex.Conversations {
		if c.ID != a.convs[i].ID || c.CustomerID != "cust-a" {
			t.Errorf("conversation %d = %+v, want %s", i, c.Conversation, a.convs[i].ID)
		}
		msgs = append(msgs, c.Messages...)
		fbs = append(fbs, c.Feedback...)
	}
	if len(msgs) != len(a.messages) {
		t.Fatalf("export has %d messages, want %d", len(msgs), len(a.messages))
	}
	for i, m := range msgs {
		if m.ID != a.messages[i].ID || m.Content != a.messages[i].Content {
			t.Errorf("message %d = %q %q, want %q %q", i, m.ID, m.Content, a.messages[i].ID, a.messages[i].Content)
		}
	}
	if len(fbs) != 1 || fbs[0].Comment != "cust-a was not helped" || fbs[0].MessageID != a.feedback[0].MessageID {
		t.Errorf("export feedback = %+v", fbs)
	}
	if len(ex.Tickets) != 1 || ex.Tickets[0].ID != a.tickets[0].ID || ex.Tickets[0].Summary != "cust-a wants a person" ||
		!strings.Contains(string(ex.Tickets[0].Packet), "cust-a question 1") {
		t.Errorf("export tickets = %+v", ex.Tickets)
	}
	if len(ex.OutboxEvents) != 1 || ex.OutboxEvents[0].ID != "ev-cust-a" {
		t.Errorf("export outbox = %+v", ex.OutboxEvents)
	}
	raw, _ := json.Marshal(ex)
	if strings.Contains(string(raw), "cust-b") {
		t.Errorf("the export of cust-a holds cust-b's data: %s", raw)
	}
	none, err := s.ExportCustomer(ctx, "cust-nobody")
	if err != nil || len(none.Conversations)+len(none.Tickets)+len(none.OutboxEvents) != 0 {
		t.Errorf("export of an unknown shopper = %+v, %v", none, err)
	}
}

func testErase(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	a := seed(t, s, "cust-a")
	b := seed(t, s, "cust-b")
	if err := s.AppendAudit(ctx, store.AuditRecord{Actor: "alice", Role: "agent", Action: "ticket.view", Target: a.tickets[0].ID}); err != nil {
		t.Fatal(err)
	}
	e, err := s.EraseCustomer(ctx, "cust-a", store.AuditRecord{Actor: "ops", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Erasure{Conversations: 2, Messages: 4, Tickets: 1, Feedback: 1, OutboxEvents: 1}
	if e != want {
		t.Errorf("erasure = %+v, want %+v", e, want)
	}
	for _, c := range a.convs {
		if _, err := s.Conversation(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("erased conversation %s: %v", c.ID, err)
		}
		if _, err := s.ConversationFeedback(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("erased conversation's feedback %s: %v", c.ID, err)
		}
		if _, err := s.ActiveTicket(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("erased conversation's active ticket %s: %v", c.ID, err)
		}
	}
	for _, m := range a.messages {
		if _, err := s.Message(ctx, m.ID); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("erased message %s: %v", m.ID, err)
		}
	}
	for _, tk := range a.tickets {
		if _, err := s.Ticket(ctx, tk.ID); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("erased ticket %s: %v", tk.ID, err)
		}
	}
	due, err := s.DueOutbox(ctx, time.Now().Add(time.Hour), 0)
	if err != nil || eventIDs(due) != "[ev-cust-b]" {
		t.Errorf("outbox after erasure = %s, %v", eventIDs(due), err)
	}
	queue, _ := s.Tickets(ctx, store.TicketFilter{})
	if len(queue) != 1 || queue[0].CustomerID != "cust-b" {
		t.Errorf("queue after erasure = %+v", queue)
	}
	// The other shopper keeps everything.
	ex, err := s.ExportCustomer(ctx, "cust-b")
	if err != nil || len(ex.Conversations) != 2 || len(ex.Tickets) != 1 || len(ex.Conversations[0].Feedback) != 1 {
		t.Errorf("cust-b after cust-a's erasure: %+v, %v", ex, err)
	}
	for _, m := range b.messages {
		if _, err := s.Message(ctx, m.ID); err != nil {
			t.Errorf("cust-b's message %s: %v", m.ID, err)
		}
	}
	left, err := s.ExportCustomer(ctx, "cust-a")
	if err != nil || len(left.Conversations)+len(left.Tickets)+len(left.OutboxEvents) != 0 {
		t.Errorf("cust-a after erasure: %+v, %v", left, err)
	}
	// The audit keeps that it happened and the counts, not whose data.
	page, err := s.Audit(ctx, store.AuditQuery{Action: store.ActionCustomerErase})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("erasure audit = %+v, %v", page, err)
	}
	r := page.Records[0]
	if r.Actor != "ops" || r.Role != "admin" || r.Target != store.CustomerRef("cust-a") || !strings.Contains(r.Detail, "2 conversations, 4 messages") {
		t.Errorf("erasure audit record = %+v", r)
	}
	all, _ := s.Audit(ctx, store.AuditQuery{Limit: store.MaxAuditLimit})
	raw, _ := json.Marshal(all)
	if strings.Contains(string(raw), "cust-a") {
		t.Errorf("the audit log names the erased shopper: %s", raw)
	}
	if v, err := s.VerifyAudit(ctx); err != nil || v.Break != nil || v.Records != 2 {
		t.Errorf("audit after erasure: %+v, %v", v, err)
	}
	// Erasing again finds nothing, and is recorded again.
	if e, err := s.EraseCustomer(ctx, "cust-a", store.AuditRecord{Actor: "ops", Role: "admin"}); err != nil || e != (store.Erasure{}) {
		t.Errorf("second erasure = %+v, %v", e, err)
	}
}

func testEraseBadInput(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	seed(t, s, "cust-a")
	by := store.AuditRecord{Actor: "ops", Role: "admin"}
	for _, id := range []string{"", strings.Repeat("x", 300)} {
		if _, err := s.EraseCustomer(ctx, id, by); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("EraseCustomer(%.10q) = %v, want invalid", id, err)
		}
		if _, err := s.ExportCustomer(ctx, id); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("ExportCustomer(%.10q) = %v, want invalid", id, err)
		}
	}
	if _, err := s.EraseCustomer(ctx, "cust-a", store.AuditRecord{}); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("EraseCustomer with no actor = %v, want invalid", err)
	}
	if ex, _ := s.ExportCustomer(ctx, "cust-a"); len(ex.Conversations) != 2 {
		t.Errorf("a refused erasure removed data: %d conversations left", len(ex.Conversations))
	}
}

func testRetentionChats(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	a := seed(t, s, "cust-a") // its second conversation has an open ticket
	anon, err := s.CreateConversation(ctx, "", "web")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Nothing is old enough yet.
	rep, err := s.ApplyRetention(ctx, store.Retention{Chats: time.Hour}, now)
	if err != nil || rep.Total() != 0 {
		t.Fatalf("retention of fresh data = %+v, %v", rep, err)
	}
	later := now.Add(2 * time.Hour)
	rep, err = s.ApplyRetention(ctx, store.Retention{Chats: time.Hour}, later)
	if err != nil {
		t.Fatal(err)
	}
	want := store.RetentionReport{Conversations: 2, Messages: 2, Feedback: 1}
	if rep != want {
		t.Errorf("retention = %+v, want %+v", rep, want)
	}
	for _, id := range []string{a.convs[0].ID, anon.ID} {
		if _, err := s.Conversation(ctx, id); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("expired conversation %s: %v", id, err)
		}
	}
	if _, err := s.Message(ctx, a.messages[0].ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("expired message: %v", err)
	}
	// A conversation with an open ticket stays while an agent is on it.
	if msgs, err := s.Messages(ctx, a.convs[1].ID, 0); err != nil || len(msgs) != 2 {
		t.Errorf("conversation with an open ticket: %d messages, %v", len(msgs), err)
	}
	page, _ := s.Audit(ctx, store.AuditQuery{Action: store.ActionRetention})
	if len(page.Records) != 1 || !strings.Contains(page.Records[0].Detail, "2 conversations, 2 messages, 1 feedback") {
		t.Errorf("retention audit = %+v", page.Records)
	}
	rep, err = s.ApplyRetention(ctx, store.Retention{Chats: time.Hour}, later)
	if err != nil || rep.Total() != 0 {
		t.Errorf("second run = %+v, %v", rep, err)
	}
	// A zero window keeps that class for ever.
	if rep, err := s.ApplyRetention(ctx, store.Retention{}, later.Add(1000*time.Hour)); err != nil || rep.Total() != 0 {
		t.Errorf("retention with no windows = %+v, %v", rep, err)
	}
}

func testRetentionOthers(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	a := seed(t, s, "cust-a")
	b := seed(t, s, "cust-b")
	// cust-a's ticket is closed; cust-b's stays open.
	_, err := s.UpdateTicket(ctx, a.tickets[0].ID, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		now := time.Now()
		tk.Status, tk.Outcome, tk.ClosedAt = store.TicketClosed, store.OutcomeHuman, &now
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour)
	rep, err := s.ApplyRetention(ctx, store.Retention{Tickets: time.Hour, Outbox: time.Hour, Feedback: time.Hour}, later)
	if err != nil {
		t.Fatal(err)
	}
	want := store.RetentionReport{Tickets: 1, OutboxEvents: 2, Feedback: 2}
	if rep != want {
		t.Errorf("retention = %+v, want %+v", rep, want)
	}
	if _, err := s.Ticket(ctx, a.tickets[0].ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("expired closed ticket: %v", err)
	}
	if _, err := s.Ticket(ctx, b.tickets[0].ID); err != nil {
		t.Errorf("open ticket removed by retention: %v", err)
	}
	if n, _ := s.OutboxLen(ctx); n != 0 {
		t.Errorf("outbox holds %d events after retention", n)
	}
	// Feedback went by its own window; the conversations stay.
	if fb, err := s.ConversationFeedback(ctx, a.convs[0].ID); err != nil || len(fb) != 0 {
		t.Errorf("feedback after retention = %+v, %v", fb, err)
	}
	if msgs, err := s.Messages(ctx, a.convs[0].ID, 0); err != nil || len(msgs) != 2 {
		t.Errorf("conversation after feedback retention: %d messages, %v", len(msgs), err)
	}
}

func testRetentionAudit(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		at := old.Add(time.Duration(i) * time.Hour)
		if i >= 3 {
			at = time.Now()
		}
		if err := s.AppendAudit(ctx, store.AuditRecord{At: at, Actor: "alice", Role: "agent", Action: "ticket.view", Target: fmt.Sprint("t_", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.ApplyRetention(ctx, store.Retention{Audit: 24 * time.Hour}, time.Now())
	if err != nil || rep.AuditRecords != 3 {
		t.Fatalf("audit retention = %+v, %v", rep, err)
	}
	page, err := s.Audit(ctx, store.AuditQuery{})
	if err != nil || len(page.Records) != 3 || page.Records[0].Seq != 4 || page.Records[2].Action != store.ActionRetention {
		t.Fatalf("audit after retention = %+v, %v", page.Records, err)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil || v.Break != nil || v.First != 4 || v.Last != 6 || v.Records != 3 {
		t.Errorf("verify after retention = %+v, %v", v, err)
	}
	// Everything old enough goes, and the chain still holds.
	if _, err := s.ApplyRetention(ctx, store.Retention{Audit: time.Millisecond}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.VerifyAudit(ctx); err != nil || v.Break != nil || v.Records != 1 {
		t.Errorf("verify after removing all but the retention record = %+v, %v", v, err)
	}
}

func testAuditChain(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	v, err := s.VerifyAudit(ctx)
	if err != nil || v.Break != nil || v.Records != 0 {
		t.Fatalf("empty log = %+v, %v", v, err)
	}
	for i := range 4 {
		if err := s.AppendAudit(ctx, store.AuditRecord{Actor: "alice", Role: "agent", Action: "ticket.view", Target: fmt.Sprint("t_", i)}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.Audit(ctx, store.AuditQuery{})
	if err != nil || len(page.Records) != 4 {
		t.Fatalf("audit = %+v, %v", page, err)
	}
	prev := ""
	for i, r := range page.Records {
		if r.Seq != uint64(i+1) || r.Prev != prev || r.Hash == "" || r.Hash != r.ChainHash() {
			t.Errorf("record %d = %+v (prev want %q)", i, r, prev)
		}
		prev = r.Hash
	}
	v, err = s.VerifyAudit(ctx)
	if err != nil || v.Break != nil || v.Records != 4 || v.First != 1 || v.Last != 4 || v.Head != prev {
		t.Errorf("verify = %+v, %v", v, err)
	}
	// The canonical bytes cover every field: an edited one changes the hash.
	r := page.Records[1]
	for _, edit := range []func(*store.AuditRecord){
		func(r *store.AuditRecord) { r.Actor = "mallory" },
		func(r *store.AuditRecord) { r.Target = "t_9" },
		func(r *store.AuditRecord) { r.At = r.At.Add(time.Nanosecond) },
		func(r *store.AuditRecord) { r.Prev = page.Records[2].Hash },
		func(r *store.AuditRecord) { r.Seq++ },
		func(r *store.AuditRecord) { r.Detail = "x" },
	} {
		e := r
		edit(&e)
		if e.ChainHash() == r.Hash {
			t.Errorf("edited record %+v keeps its hash", e)
		}
	}
}

func testAuditQuery(t *testing.T, s PrivacyStore) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 10 {
		actor, action := "alice", "ticket.view"
		if i%2 == 1 {
			actor, action = "ops", "documents.upload"
		}
		r := store.AuditRecord{At: base.Add(time.Duration(i) * time.Hour), Actor: actor, Role: "admin", Action: action}
		if err := s.AppendAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		q    store.AuditQuery
		want string // seqs
	}{
		{store.AuditQuery{}, "[1 2 3 4 5 6 7 8 9 10]"},
		{store.AuditQuery{Actor: "ops"}, "[2 4 6 8 10]"},
		{store.AuditQuery{Action: "ticket.view"}, "[1 3 5 7 9]"},
		{store.AuditQuery{Actor: "ops", Action: "ticket.view"}, "[]"},
		{store.AuditQuery{Since: base.Add(3 * time.Hour), Until: base.Add(6 * time.Hour)}, "[4 5 6]"},
		{store.AuditQuery{Actor: "alice", Since: base.Add(3 * time.Hour)}, "[5 7 9]"},
		{store.AuditQuery{Actor: "nobody"}, "[]"},
	}
	for _, tt := range tests {
		page, err := s.Audit(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := seqs(page.Records); got != tt.want || page.Next != 0 {
			t.Errorf("Audit(%+v) = %s next %d, want %s", tt.q, got, page.Next, tt.want)
		}
	}
	// Pages of three of ops's records, continuing where the last ended.
	var all []store.AuditRecord
	q := store.AuditQuery{Actor: "ops", Limit: 2}
	for range 10 {
		page, err := s.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Records...)
		if page.Next == 0 {
			break
		}
		q.After = page.Next
	}
	if got := seqs(all); got != "[2 4 6 8 10]" {
		t.Errorf("paged = %s", got)
	}
	if page, _ := s.Audit(ctx, store.AuditQuery{Limit: 1 << 30}); len(page.Records) != 10 {
		t.Errorf("a huge limit: %d records", len(page.Records))
	}
}

func seqs(rs []store.AuditRecord) string {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return fmt.Sprint(out)
}
