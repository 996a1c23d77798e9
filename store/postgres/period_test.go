package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

func TestPeriodConformance(t *testing.T) {
	storetest.RunPeriod(t, func(t *testing.T) storetest.PeriodStore { return periodStore(t, openTest(t)) })
}

// periodStore is s with tickets: its own once it writes them, else rows
// written straight into the tickets table that PeriodStats reads.
func periodStore(t *testing.T, s *postgres.Store) storetest.PeriodStore {
	t.Helper()
	if ps, ok := any(s).(storetest.PeriodStore); ok {
		return ps
	}
	ensureTickets(t, s)
	return &ticketRows{Store: s, tickets: map[string]store.Ticket{}}
}

// ensureTickets gives the test database a tickets table when the
// migrations do not make one yet (the tickets migration, 00002, is not in
// this tree): a stand-in with the columns PeriodStats reads.
func ensureTickets(t *testing.T, s *postgres.Store) {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := s.Pool().QueryRow(ctx, `SELECT to_regclass('tickets') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		return
	}
	t.Log("no tickets table in the migrations yet (00002): testing PeriodStats on a stand-in with its columns")
	_, err := s.Pool().Exec(ctx, `
CREATE TABLE tickets (
    id              text        PRIMARY KEY,
    conversation_id text        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    status          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    body            bytea       NOT NULL
)`)
	if err != nil {
		t.Fatal(err)
	}
}

// ticketRows opens and updates tickets as the embedded store does, for
// what PeriodStats reads of them, writing each as a row of the tickets
// table.
type ticketRows struct {
	*postgres.Store
	mu      sync.Mutex
	tickets map[string]store.Ticket
}

func (r *ticketRows) OpenTicket(ctx context.Context, conversationID string, change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error) {
	c, err := r.Conversation(ctx, conversationID)
	if err != nil {
		return store.Ticket{}, false, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	t := store.Ticket{ID: store.NewTicketID(), ConversationID: c.ID, CustomerID: c.CustomerID, Status: store.TicketOpen, CreatedAt: now, UpdatedAt: now}
	if _, err := change(&t, true); err != nil {
		return store.Ticket{}, false, err
	}
	if err := r.PutTicketRow(ctx, t); err != nil {
		return store.Ticket{}, false, err
	}
	r.mu.Lock()
	r.tickets[t.ID] = t
	r.mu.Unlock()
	return t, true, nil
}

func (r *ticketRows) UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error) {
	r.mu.Lock()
	old, ok := r.tickets[id]
	r.mu.Unlock()
	if !ok {
		return store.Ticket{}, kefu.Errorf(kefu.ENotFound, "ticket %q not found", id)
	}
	t := old
	if _, err := change(&t); err != nil {
		return store.Ticket{}, err
	}
	t.ID, t.ConversationID, t.CustomerID, t.CreatedAt = old.ID, old.ConversationID, old.CustomerID, old.CreatedAt
	t.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	if err := r.PutTicketRow(ctx, t); err != nil {
		return store.Ticket{}, err
	}
	r.mu.Lock()
	r.tickets[id] = t
	r.mu.Unlock()
	return t, nil
}

// A ticket counts toward the period it was opened in, but a conversation
// of the period that a person handled counts as escalated whenever its
// ticket was opened; and agents' first replies are measured from each
// ticket's opening, wherever the reply falls.
func TestPeriodTicketsAcrossPeriods(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ensureTickets(t, s)
	c, err := s.CreateConversation(ctx, "cust", "web")
	if err != nil {
		t.Fatal(err)
	}
	// The ticket opened after the conversation started, and the agent
	// replied after that.
	opened := c.CreatedAt.Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	reply, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAgent, Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if !reply.CreatedAt.After(opened) {
		t.Fatalf("reply at %v, not after the ticket opened at %v", reply.CreatedAt, opened)
	}
	closed := reply.CreatedAt.Add(time.Minute)
	tk := store.Ticket{ID: store.NewTicketID(), ConversationID: c.ID, Status: store.TicketClosed, Reason: "requested",
		Priority: store.PriorityNormal, Outcome: store.OutcomeHuman, CreatedAt: opened, UpdatedAt: closed, ClosedAt: &closed}
	if err := s.PutTicketRow(ctx, tk); err != nil {
		t.Fatal(err)
	}
	// The conversation's period, which ends before the ticket opened.
	st, err := s.PeriodStats(ctx, c.CreatedAt, opened)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 1 || st.Escalated != 1 || st.ResolvedByBot != 0 || st.Tickets != 0 || len(st.FirstResponses) != 0 {
		t.Errorf("the conversation's period = %+v", st)
	}
	// The ticket's period, after the conversation started.
	st, err = s.PeriodStats(ctx, opened, closed)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 0 || st.Escalated != 0 || st.Tickets != 1 || st.ByStatus[store.TicketClosed] != 1 ||
		len(st.FirstResponses) != 1 || st.FirstResponses[0] != reply.CreatedAt.Sub(opened) ||
		len(st.Resolutions) != 1 || st.Resolutions[0] != closed.Sub(opened) {
		t.Errorf("the ticket's period = %+v", st)
	}
}
