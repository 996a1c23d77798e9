package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// TicketStore is the behaviour RunTickets checks: tickets, the outbox
// written with them, and the audit log.
type TicketStore interface {
	CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error)
	OpenTicket(ctx context.Context, conversationID string, change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error)
	UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error)
	ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error)
	Ticket(ctx context.Context, id string) (store.Ticket, error)
	Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error)
	TicketStats(ctx context.Context) (store.TicketStats, error)

	Enqueue(ctx context.Context, ev store.OutboxEvent) error
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEvent, error)
	OutboxDelivered(ctx context.Context, id string) error
	OutboxFailed(ctx context.Context, id string, next time.Time, why string) error
	OutboxLen(ctx context.Context) (int, error)

	AppendAudit(ctx context.Context, r store.AuditRecord) error
	AuditRecords(ctx context.Context, limit int) ([]store.AuditRecord, error)
}

// RunTickets runs the ticket, outbox and audit suite. open returns a new,
// empty store for each subtest and arranges its closing with t.Cleanup.
func RunTickets(t *testing.T, open func(t *testing.T) TicketStore) {
	t.Run("OpenThenUpdate", func(t *testing.T) { testOpenThenUpdate(t, open(t)) })
	t.Run("OneActivePerConversation", func(t *testing.T) { testOneActive(t, open(t)) })
	t.Run("ImmutableFields", func(t *testing.T) { testImmutableFields(t, open(t)) })
	t.Run("ChangeErrorAborts", func(t *testing.T) { testChangeErrorAborts(t, open(t)) })
	t.Run("InvalidTickets", func(t *testing.T) { testInvalidTickets(t, open(t)) })
	t.Run("TicketNotFound", func(t *testing.T) { testTicketNotFound(t, open(t)) })
	t.Run("Queue", func(t *testing.T) { testQueue(t, open(t)) })
	t.Run("Stats", func(t *testing.T) { testStats(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
}

// set returns a change that opens (or keeps) a ticket with the reason and
// priority, queuing an event with id evID when it is not empty.
func set(reason, priority, team, evID string) func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error) {
	return func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error) {
		t.Reason, t.Priority, t.Team = reason, priority, team
		t.Packet = json.RawMessage(`{"summary":"` + reason + `"}`)
		return event(evID, t.ID), nil
	}
}

func event(id, ticketID string) *store.OutboxEvent {
	if id == "" {
		return nil
	}
	return &store.OutboxEvent{ID: id, Body: json.RawMessage(`{"id":"` + id + `","ticket":"` + ticketID + `"}`)}
}

func mustTicket(t *testing.T, s TicketStore, convID, reason, priority, team string) store.Ticket {
	t.Helper()
	tk, _, err := s.OpenTicket(context.Background(), convID, set(reason, priority, team, ""))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func testOpenThenUpdate(t *testing.T, s TicketStore) {
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, "cust-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	var sawNew []bool
	first, isNew, err := s.OpenTicket(ctx, c.ID, func(tk *store.Ticket, n bool) (*store.OutboxEvent, error) {
		sawNew = append(sawNew, n)
		if tk.ID == "" || tk.ConversationID != c.ID || tk.CustomerID != "cust-1" || tk.Status != store.TicketOpen || tk.CreatedAt.IsZero() {
			t.Errorf("new ticket handed to change = %+v", tk)
		}
		return set("requested", store.PriorityNormal, "support", "ev-1")(tk, n)
	})
	if err != nil || !isNew {
		t.Fatalf("first OpenTicket: new=%v, %v", isNew, err)
	}
	if len(first.ID) < 3 || first.ID[:2] != "t_" || first.Reason != "requested" || first.Team != "support" {
		t.Errorf("first ticket = %+v", first)
	}
	second, isNew, err := s.OpenTicket(ctx, c.ID, func(tk *store.Ticket, n bool) (*store.OutboxEvent, error) {
		sawNew = append(sawNew, n)
		if tk.Reason != "requested" {
			t.Errorf("existing ticket handed to change = %+v", tk)
		}
		return set("anger", store.PriorityHigh, "support", "ev-2")(tk, n)
	})
	if err != nil || isNew {
		t.Fatalf("second OpenTicket: new=%v, %v", isNew, err)
	}
	if second.ID != first.ID || second.Priority != store.PriorityHigh || second.UpdatedAt.Before(first.UpdatedAt) {
		t.Errorf("second = %+v, first = %+v", second, first)
	}
	if fmt.Sprint(sawNew) != "[true false]" {
		t.Errorf("change saw isNew %v", sawNew)
	}
	got, err := s.Ticket(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "anger" || !got.CreatedAt.Equal(first.CreatedAt) || !jsonEqual(got.Packet, json.RawMessage(`{"summary":"anger"}`)) {
		t.Errorf("Ticket = %+v", got)
	}
	active, err := s.ActiveTicket(ctx, c.ID)
	if err != nil || active.ID != first.ID {
		t.Fatalf("ActiveTicket = %+v, %v", active, err)
	}

	now := time.Now().UTC()
	claimed, err := s.UpdateTicket(ctx, first.ID, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		tk.Status, tk.Assignee, tk.ClaimedAt = store.TicketClaimed, "alice", &now
		return event("ev-3", tk.ID), nil
	})
	if err != nil || claimed.Status != store.TicketClaimed || claimed.Assignee != "alice" || claimed.ClaimedAt == nil {
		t.Fatalf("claim: %+v, %v", claimed, err)
	}
	closed, err := s.UpdateTicket(ctx, first.ID, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		tk.Status, tk.Outcome, tk.ClosedAt = store.TicketClosed, store.OutcomeHuman, &now
		return nil, nil
	})
	if err != nil || closed.Status != store.TicketClosed || closed.Outcome != store.OutcomeHuman {
		t.Fatalf("close: %+v, %v", closed, err)
	}
	if _, err := s.ActiveTicket(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("ActiveTicket after close: %v, want not_found", err)
	}
	evs, err := s.DueOutbox(ctx, time.Now().Add(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := eventIDs(evs); ids != "[ev-1 ev-2 ev-3]" {
		t.Errorf("outbox holds %s, want the events of the three changes that queued one", ids)
	}
}

func testOneActive(t *testing.T, s TicketStore) {
	ctx := context.Background()
	a, _ := s.CreateConversation(ctx, "", "web")
	b, _ := s.CreateConversation(ctx, "", "web")
	ta := mustTicket(t, s, a.ID, "requested", store.PriorityNormal, "support")
	tb := mustTicket(t, s, b.ID, "legal", store.PriorityUrgent, "legal")
	if ta.ID == tb.ID {
		t.Fatal("two conversations share a ticket")
	}
	if _, err := s.UpdateTicket(ctx, ta.ID, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		tk.Status, tk.Outcome = store.TicketClosed, store.OutcomeAbandoned
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	again, isNew, err := s.OpenTicket(ctx, a.ID, set("anger", store.PriorityHigh, "support", ""))
	if err != nil || !isNew || again.ID == ta.ID {
		t.Fatalf("OpenTicket after close: %+v new=%v %v", again, isNew, err)
	}
	// A closed ticket cannot become active while another one is.
	_, err = s.UpdateTicket(ctx, ta.ID, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		tk.Status, tk.Outcome = store.TicketOpen, ""
		return nil, nil
	})
	if kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("reopening beside an active ticket: %v, want conflict", err)
	}
	if active, err := s.ActiveTicket(ctx, a.ID); err != nil || active.ID != again.ID {
		t.Errorf("ActiveTicket = %+v, %v; want %s", active, err, again.ID)
	}
	if active, err := s.ActiveTicket(ctx, b.ID); err != nil || active.ID != tb.ID {
		t.Errorf("ActiveTicket(b) = %+v, %v", active, err)
	}
}

func testImmutableFields(t *testing.T, s TicketStore) {
	ctx := context.Background()
	c, _ := s.CreateConversation(ctx, "cust-9", "web")
	tk := mustTicket(t, s, c.ID, "requested", store.PriorityNormal, "support")
	got, err := s.UpdateTicket(ctx, tk.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
		x.ID, x.ConversationID, x.CustomerID, x.CreatedAt = "t_OTHER", "c_OTHER", "cust-0", time.Unix(0, 0)
		x.Team = "returns"
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tk.ID || got.ConversationID != c.ID || got.CustomerID != "cust-9" || !got.CreatedAt.Equal(tk.CreatedAt) || got.Team != "returns" {
		t.Errorf("after changing fixed fields: %+v", got)
	}
	if got.UpdatedAt.Before(tk.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v before %v", got.UpdatedAt, tk.UpdatedAt)
	}
}

func testChangeErrorAborts(t *testing.T, s TicketStore) {
	ctx := context.Background()
	c, _ := s.CreateConversation(ctx, "", "web")
	refuse := kefu.Errorf(kefu.EConflict, "already claimed by bob")
	_, _, err := s.OpenTicket(ctx, c.ID, func(tk *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		tk.Reason, tk.Priority = "requested", store.PriorityNormal
		return event("ev-x", tk.ID), refuse
	})
	if err != refuse && kefu.ErrorMessage(err) != refuse.Message {
		t.Fatalf("OpenTicket returned %v, want the change's error", err)
	}
	if _, err := s.ActiveTicket(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("a ticket was stored by an aborted change: %v", err)
	}
	tk := mustTicket(t, s, c.ID, "requested", store.PriorityNormal, "support")
	_, err = s.UpdateTicket(ctx, tk.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
		x.Status = store.TicketClaimed
		return event("ev-y", x.ID), refuse
	})
	if kefu.ErrorCode(err) != kefu.EConflict {
		t.Fatalf("UpdateTicket returned %v, want conflict", err)
	}
	if got, _ := s.Ticket(ctx, tk.ID); got.Status != store.TicketOpen {
		t.Errorf("aborted change was written: %+v", got)
	}
	if n, err := s.OutboxLen(ctx); err != nil || n != 0 {
		t.Errorf("outbox holds %d events after aborted changes (%v)", n, err)
	}
}

func testInvalidTickets(t *testing.T, s TicketStore) {
	ctx := context.Background()
	c, _ := s.CreateConversation(ctx, "", "web")
	tk := mustTicket(t, s, c.ID, "requested", store.PriorityNormal, "support")
	for name, change := range map[string]store.TicketChange{
		"status":         func(x *store.Ticket) (*store.OutboxEvent, error) { x.Status = "pending"; return nil, nil },
		"priority":       func(x *store.Ticket) (*store.OutboxEvent, error) { x.Priority = "p1"; return nil, nil },
		"no reason":      func(x *store.Ticket) (*store.OutboxEvent, error) { x.Reason = ""; return nil, nil },
		"closed, no why": func(x *store.Ticket) (*store.OutboxEvent, error) { x.Status = store.TicketClosed; return nil, nil },
		"open, outcome":  func(x *store.Ticket) (*store.OutboxEvent, error) { x.Outcome = store.OutcomeHuman; return nil, nil },
		"packet":         func(x *store.Ticket) (*store.OutboxEvent, error) { x.Packet = json.RawMessage(`{`); return nil, nil },
		"event body": func(x *store.Ticket) (*store.OutboxEvent, error) {
			return &store.OutboxEvent{ID: "e", Body: []byte("{")}, nil
		},
		"event without id": func(x *store.Ticket) (*store.OutboxEvent, error) { return &store.OutboxEvent{Body: []byte("{}")}, nil },
	} {
		if _, err := s.UpdateTicket(ctx, tk.ID, change); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("%s: UpdateTicket error = %v, want invalid", name, err)
		}
	}
	if got, _ := s.Ticket(ctx, tk.ID); got.Status != store.TicketOpen || got.Reason != "requested" {
		t.Errorf("an invalid change was written: %+v", got)
	}
}

func testTicketNotFound(t *testing.T, s TicketStore) {
	ctx := context.Background()
	c, _ := s.CreateConversation(ctx, "", "web")
	nop := func(*store.Ticket) (*store.OutboxEvent, error) { return nil, nil }
	for _, id := range []string{"", "t_NOSUCHTICKET000000000000000", "x\x00y", string(make([]byte, 300))} {
		if _, err := s.Ticket(ctx, id); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("Ticket(%q) = %v, want not_found", id, err)
		}
		if _, err := s.UpdateTicket(ctx, id, nop); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("UpdateTicket(%q) = %v, want not_found", id, err)
		}
		if _, _, err := s.OpenTicket(ctx, id, set("requested", store.PriorityNormal, "", "")); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("OpenTicket(%q) = %v, want not_found", id, err)
		}
		if _, err := s.ActiveTicket(ctx, id); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("ActiveTicket(%q) = %v, want not_found", id, err)
		}
	}
	if _, err := s.ActiveTicket(ctx, c.ID); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("ActiveTicket of a conversation without tickets = %v, want not_found", err)
	}
}

func testQueue(t *testing.T, s TicketStore) {
	ctx := context.Background()
	type spec struct{ reason, priority, team string }
	specs := []spec{
		{"requested", store.PriorityNormal, "support"},
		{"anger", store.PriorityHigh, "support"},
		{"legal", store.PriorityUrgent, "legal"},
		{"no_knowledge", store.PriorityNormal, "support"},
		{"safety", store.PriorityUrgent, "support"},
		{"refund_amount", store.PriorityNormal, "returns-zh"},
	}
	ids := map[string]string{}
	for _, sp := range specs {
		c, _ := s.CreateConversation(ctx, "", "web")
		ids[sp.reason] = mustTicket(t, s, c.ID, sp.reason, sp.priority, sp.team).ID
	}
	if _, err := s.UpdateTicket(ctx, ids["requested"], func(x *store.Ticket) (*store.OutboxEvent, error) {
		x.Status, x.Assignee = store.TicketClaimed, "alice"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTicket(ctx, ids["no_knowledge"], func(x *store.Ticket) (*store.OutboxEvent, error) {
		x.Status, x.Outcome = store.TicketClosed, store.OutcomeBot
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	reasons := func(f store.TicketFilter) string {
		t.Helper()
		ts, err := s.Tickets(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, tk := range ts {
			if len(tk.Packet) != 0 {
				t.Errorf("Tickets returns packets")
			}
			if i > 0 {
				prev := ts[i-1]
				if r, pr := store.PriorityRank(tk.Priority), store.PriorityRank(prev.Priority); r < pr || r == pr && tk.CreatedAt.Before(prev.CreatedAt) {
					t.Errorf("queue out of order at %d: %+v after %+v", i, tk, prev)
				}
			}
			out = append(out, tk.Reason)
		}
		return fmt.Sprint(out)
	}
	// Equal priorities come oldest first; the two urgent tickets were made
	// in this order, as were the normal ones.
	for _, tt := range []struct {
		f    store.TicketFilter
		want string
	}{
		{store.TicketFilter{}, "[legal safety anger requested refund_amount]"},
		{store.TicketFilter{Team: "support"}, "[safety anger requested]"},
		{store.TicketFilter{Statuses: []string{store.TicketOpen}}, "[legal safety anger refund_amount]"},
		{store.TicketFilter{Statuses: []string{store.TicketClaimed}}, "[requested]"},
		{store.TicketFilter{Statuses: []string{store.TicketClosed}}, "[no_knowledge]"},
		{store.TicketFilter{Statuses: []string{store.TicketOpen, store.TicketClaimed, store.TicketClosed}, Limit: 2}, "[legal safety]"},
		{store.TicketFilter{Team: "nobody"}, "[]"},
	} {
		if got := reasons(tt.f); got != tt.want {
			t.Errorf("Tickets(%+v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func testStats(t *testing.T, s TicketStore) {
	ctx := context.Background()
	st, err := s.TicketStats(ctx)
	if err != nil || st.Conversations != 0 || st.Tickets != 0 {
		t.Fatalf("empty store stats = %+v, %v", st, err)
	}
	var convs []store.Conversation
	for range 4 {
		c, _ := s.CreateConversation(ctx, "", "web")
		convs = append(convs, c)
	}
	mustTicket(t, s, convs[0].ID, "requested", store.PriorityNormal, "support")
	tk := mustTicket(t, s, convs[1].ID, "requested", store.PriorityNormal, "support")
	mustTicket(t, s, convs[2].ID, "legal", store.PriorityUrgent, "legal")
	if _, err := s.UpdateTicket(ctx, tk.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
		x.Status, x.Outcome = store.TicketClosed, store.OutcomeHuman
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err = s.TicketStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.TicketStats{
		Conversations: 4, Tickets: 3,
		ByReason:  map[string]int{"requested": 2, "legal": 1},
		ByStatus:  map[string]int{store.TicketOpen: 2, store.TicketClosed: 1},
		ByOutcome: map[string]int{store.OutcomeHuman: 1},
	}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

func testOutbox(t *testing.T, s TicketStore) {
	ctx := context.Background()
	now := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Enqueue(ctx, *event(id, "t_1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, *event("a", "t_1")); kefu.ErrorCode(err) != kefu.EConflict {
		t.Errorf("queuing id a twice: %v, want conflict", err)
	}
	for _, bad := range []store.OutboxEvent{{ID: "", Body: []byte("{}")}, {ID: "d", Body: []byte("not json")}, {ID: string(make([]byte, 100)), Body: []byte("{}")}} {
		if err := s.Enqueue(ctx, bad); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("Enqueue(%q, %q) = %v, want invalid", bad.ID, bad.Body, err)
		}
	}
	due, err := s.DueOutbox(ctx, now.Add(time.Second), 2)
	if err != nil || eventIDs(due) != "[a b]" {
		t.Fatalf("DueOutbox limit 2 = %s, %v", eventIDs(due), err)
	}
	if due[0].Attempts != 0 || due[0].CreatedAt.IsZero() || !jsonEqual(due[0].Body, event("a", "t_1").Body) {
		t.Errorf("event = %+v", due[0])
	}
	later := now.Add(time.Hour)
	if err := s.OutboxFailed(ctx, "a", later, "receiver answered 500"); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueOutbox(ctx, now.Add(time.Second), 0)
	if eventIDs(due) != "[b c]" {
		t.Errorf("after a failed attempt the event is not due until later; due = %s", eventIDs(due))
	}
	due, _ = s.DueOutbox(ctx, later, 0)
	if eventIDs(due) != "[a b c]" || due[0].Attempts != 1 || due[0].LastError != "receiver answered 500" {
		t.Errorf("due at the retry time = %+v", due)
	}
	for _, id := range []string{"b", "b", "nonexistent"} {
		if err := s.OutboxDelivered(ctx, id); err != nil {
			t.Errorf("OutboxDelivered(%q) = %v", id, err)
		}
	}
	if err := s.OutboxFailed(ctx, "b", later, "x"); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("OutboxFailed on a delivered event = %v, want not_found", err)
	}
	if n, err := s.OutboxLen(ctx); err != nil || n != 2 {
		t.Errorf("OutboxLen = %d, %v; want 2", n, err)
	}
	// A delivered id may be queued again (a receiver drops the repeat).
	if err := s.Enqueue(ctx, *event("b", "t_1")); err != nil {
		t.Errorf("queuing a delivered id again: %v", err)
	}
}

func testAudit(t *testing.T, s TicketStore) {
	ctx := context.Background()
	if recs, err := s.AuditRecords(ctx, 10); err != nil || len(recs) != 0 {
		t.Fatalf("empty audit log = %+v, %v", recs, err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, action := range []string{"ticket.list", "ticket.view", "ticket.claim"} {
		r := store.AuditRecord{Actor: "alice", Role: "agent", Action: action, Target: fmt.Sprint("t_", i)}
		if i == 0 {
			r.At = at
		}
		if err := s.AppendAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []store.AuditRecord{{Action: "ticket.view"}, {Actor: "alice"}} {
		if err := s.AppendAudit(ctx, bad); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("AppendAudit(%+v) = %v, want invalid", bad, err)
		}
	}
	all, err := s.AuditRecords(ctx, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("AuditRecords = %+v, %v", all, err)
	}
	if !all[0].At.Equal(at) || all[0].Action != "ticket.list" || all[2].Action != "ticket.claim" || all[2].At.IsZero() || all[1].Target != "t_1" {
		t.Errorf("audit log = %+v", all)
	}
	last, _ := s.AuditRecords(ctx, 2)
	if len(last) != 2 || last[0].Action != "ticket.view" || last[1].Action != "ticket.claim" {
		t.Errorf("last two records = %+v", last)
	}
}

func eventIDs(evs []store.OutboxEvent) string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return fmt.Sprint(ids)
}
