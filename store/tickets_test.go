package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.TicketStore = (*store.Bolt)(nil)

func TestBoltTicketConformance(t *testing.T) {
	storetest.RunTickets(t, func(t *testing.T) storetest.TicketStore { return openTest(t, t.TempDir()) })
}

// The outbox and the tickets survive a restart: an event queued with a
// ticket change and never delivered is still due after reopening.
func TestBoltOutboxSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConversation(ctx, "cust-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := s.OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		x.Reason, x.Priority, x.Team = "requested", store.PriorityNormal, "support"
		return &store.OutboxEvent{ID: "ev-1", Body: json.RawMessage(`{"id":"ev-1"}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxFailed(ctx, "ev-1", time.Now().Add(-time.Second), "connection refused"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, dir)
	due, err := s2.DueOutbox(ctx, time.Now(), 0)
	if err != nil || len(due) != 1 || due[0].ID != "ev-1" || due[0].Attempts != 1 {
		t.Fatalf("outbox after reopen = %+v, %v", due, err)
	}
	if got, err := s2.ActiveTicket(ctx, c.ID); err != nil || got.ID != tk.ID {
		t.Fatalf("active ticket after reopen = %+v, %v", got, err)
	}
}
