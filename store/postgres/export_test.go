package postgres

import (
	"context"

	"github.com/kefuhq/kefu/store"
)

// PutTicketRow stores t in the tickets table's columns that PeriodStats
// reads (id, conversation_id, status, created_at, updated_at and the body
// sealed for ("tickets", id)), for tests of PeriodStats while the store
// does not write tickets itself.
func (s *Store) PutTicketRow(ctx context.Context, t store.Ticket) error {
	body, err := s.seal("tickets", t.ID, t)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `
INSERT INTO tickets (id, conversation_id, status, created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, body = EXCLUDED.body`,
		t.ID, t.ConversationID, t.Status, t.CreatedAt, t.UpdatedAt, body)
	return err
}
