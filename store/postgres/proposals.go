package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// Proposals: each conversation's pending after-sales action, one row
// keyed and sealed by conversation id; taken_by and expires_at are
// columns too, for the eye and for sweeping.

func init() { registerSealedKey("proposals", "conversation_id") }

// PutProposal stores p as its conversation's pending action, replacing
// any other. ID, CreatedAt and ExpiresAt default as store.PrepareProposal
// sets them. The conversation must exist and belong to p.CustomerID
// (kefu.ENotFound otherwise); an invalid proposal is kefu.EInvalid. The
// check and the write are one statement.
func (s *Store) PutProposal(ctx context.Context, p store.Proposal) (store.Proposal, error) {
	if err := ctx.Err(); err != nil {
		return store.Proposal{}, err
	}
	p, err := store.PrepareProposal(p, s.now())
	if err != nil {
		return store.Proposal{}, err
	}
	if !validID(p.ConversationID) {
		return store.Proposal{}, fmt.Errorf("store the proposed action: %w",
			kefu.Errorf(kefu.ENotFound, "conversation %q not found", p.ConversationID))
	}
	body, err := s.seal("proposals", p.ConversationID, p)
	if err != nil {
		return store.Proposal{}, fmt.Errorf("store the proposed action: %w", err)
	}
	var conv, owned bool
	err = s.pool.QueryRow(ctx, `
WITH c AS (
    SELECT id, customer_ref = $2 AS owned FROM conversations WHERE id = $1
), p AS (
    INSERT INTO proposals (conversation_id, id, taken_by, expires_at, body)
    SELECT c.id, $3, '', $4, $5 FROM c WHERE c.owned
    ON CONFLICT (conversation_id) DO UPDATE
    SET id = EXCLUDED.id, taken_by = '', expires_at = EXCLUDED.expires_at, body = EXCLUDED.body
)
SELECT EXISTS (SELECT 1 FROM c), COALESCE((SELECT owned FROM c), false)`,
		p.ConversationID, CustomerRef(p.CustomerID), p.ID, p.ExpiresAt, body).Scan(&conv, &owned)
	switch {
	case err != nil:
		return store.Proposal{}, fmt.Errorf("store the proposed action: %w", err)
	case !conv:
		return store.Proposal{}, fmt.Errorf("store the proposed action: %w",
			kefu.Errorf(kefu.ENotFound, "conversation %q not found", p.ConversationID))
	case !owned:
		return store.Proposal{}, fmt.Errorf("store the proposed action: %w", kefu.Errorf(kefu.ENotFound, "conversation not found"))
	}
	return p, nil
}

// TakeProposal hands the conversation's pending action to the shopper's
// message messageID, which settles it as store.DecideTake says: the first
// take for a message gets it (and marks it taken by that message), a take
// again for the same message (a retried turn) gets the same proposal, and
// a take for any other message removes it and finds nothing, as does an
// expired one. With an empty messageID the proposal is removed as it is
// handed out. Two messages never both get the same proposal, whichever
// replicas take it: the row is locked while the take is decided and
// written.
func (s *Store) TakeProposal(ctx context.Context, conversationID, messageID string) (store.Proposal, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Proposal{}, false, err
	}
	if !validID(conversationID) || len(messageID) > store.MaxIDLen || !validText(messageID) {
		return store.Proposal{}, false, nil
	}
	var p store.Proposal
	var found bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		found = false
		var body []byte
		err := tx.QueryRow(ctx, `SELECT body FROM proposals WHERE conversation_id = $1 FOR UPDATE`, conversationID).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		p = store.Proposal{}
		if err := s.open("proposals", conversationID, body, &p); err != nil {
			return err
		}
		switch store.DecideTake(p, messageID, s.now()) {
		case store.TakeRemove:
			_, err := tx.Exec(ctx, `DELETE FROM proposals WHERE conversation_id = $1`, conversationID)
			return err
		case store.TakeHandOut:
			found = true
			_, err := tx.Exec(ctx, `DELETE FROM proposals WHERE conversation_id = $1`, conversationID)
			return err
		case store.TakeAgain:
			found = true
			return nil
		}
		found = true
		p.TakenBy = messageID
		body, err = s.seal("proposals", conversationID, p)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE proposals SET taken_by = $2, body = $3 WHERE conversation_id = $1`, conversationID, messageID, body)
		return err
	})
	if err != nil {
		return store.Proposal{}, false, fmt.Errorf("take the proposed action: %w", err)
	}
	if !found {
		return store.Proposal{}, false, nil
	}
	return p, true, nil
}
