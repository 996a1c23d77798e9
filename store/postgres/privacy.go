package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// A shopper's data, found by the pseudonym columns (customer_ref) and the
// conversations they own: exported from one consistent read, erased in
// one transaction with its audit record, and removed by retention in
// bounded batches.

// retentionBatch bounds how many rows one retention statement removes, so
// that no transaction holds many locks or runs long.
const retentionBatch = 500

// deleteConversations is the end of a statement that removes the
// conversations a CTE convs names with everything that hangs off them
// (feedback f, the pending action p, messages m, the conversations c),
// for erasure and retention alike.
const deleteConversations = `f AS (
    DELETE FROM feedback WHERE conversation_id IN (SELECT id FROM convs) RETURNING 1
), p AS (
    DELETE FROM proposals WHERE conversation_id IN (SELECT id FROM convs) RETURNING 1
), m AS (
    DELETE FROM messages WHERE conversation_id IN (SELECT id FROM convs) RETURNING 1
), c AS (
    DELETE FROM conversations WHERE id IN (SELECT id FROM convs) RETURNING 1
)`

func checkErasable(customerID string) error {
	if customerID == "" {
		return kefu.Errorf(kefu.EInvalid, "a customer id is required (anonymous conversations are removed by retention only)")
	}
	if len(customerID) > store.MaxCustomerIDLen {
		return kefu.Errorf(kefu.EInvalid, "customer id is %d bytes; the limit is %d", len(customerID), store.MaxCustomerIDLen)
	}
	return nil
}

// EraseCustomer removes everything the store holds about a shopper (their
// conversations with every message, feedback and pending action, the
// tickets of those conversations or naming them, and the outbox events
// about either) and appends an audit record of the erasure, all in one
// transaction. The audit record names the shopper by pseudonym only.
func (s *Store) EraseCustomer(ctx context.Context, customerID string, by store.AuditRecord) (store.Erasure, error) {
	var e store.Erasure
	if err := ctx.Err(); err != nil {
		return e, err
	}
	if err := checkErasable(customerID); err != nil {
		return e, err
	}
	if by.Actor == "" {
		return e, kefu.Errorf(kefu.EInvalid, "an erasure needs an actor for the audit log")
	}
	ref := CustomerRef(customerID)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Every sub-statement sees the same snapshot: the conversations,
		// their tickets and the events are chosen before any is removed.
		err := tx.QueryRow(ctx, `
WITH convs AS (
    SELECT id FROM conversations WHERE customer_ref = $1 FOR UPDATE
), t AS (
    DELETE FROM tickets WHERE customer_ref = $1 OR conversation_id IN (SELECT id FROM convs) RETURNING id
), o AS (
    DELETE FROM outbox
    WHERE customer_ref = $1 OR conversation_id IN (SELECT id FROM convs) OR ticket_id IN (SELECT id FROM t)
    RETURNING 1
), `+deleteConversations+`
SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM m), (SELECT count(*) FROM t),
       (SELECT count(*) FROM f), (SELECT count(*) FROM o), (SELECT count(*) FROM p)`, ref).
			Scan(&e.Conversations, &e.Messages, &e.Tickets, &e.Feedback, &e.OutboxEvents, new(int))
		if err != nil {
			return err
		}
		rec := store.AuditRecord{At: by.At, Actor: by.Actor, Role: by.Role, Action: store.ActionCustomerErase,
			Target: store.CustomerRef(customerID), Detail: "erased " + e.String()}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return store.Erasure{}, fmt.Errorf("erase customer: %w", err)
	}
	return e, nil
}

// ExportCustomer returns everything the store holds about a shopper, from
// one consistent read (a repeatable-read transaction): their conversations
// (oldest first) with every message and feedback and the pending action,
// the tickets of those conversations or naming them, with their packets,
// and the outbox events about either.
func (s *Store) ExportCustomer(ctx context.Context, customerID string) (store.CustomerExport, error) {
	out := store.CustomerExport{CustomerID: customerID, Conversations: []store.ConversationExport{}, Tickets: []store.Ticket{}, OutboxEvents: []store.OutboxEvent{}}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if err := checkErasable(customerID); err != nil {
		return out, err
	}
	ref := CustomerRef(customerID)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		convs, err := s.exportConversations(ctx, tx, ref)
		if err != nil {
			return err
		}
		out.Conversations = convs
		if out.Tickets, err = s.exportTickets(ctx, tx, ref); err != nil {
			return err
		}
		out.OutboxEvents, err = s.exportOutbox(ctx, tx, ref)
		return err
	})
	if err != nil {
		return store.CustomerExport{}, fmt.Errorf("export customer: %w", err)
	}
	out.ExportedAt = s.now().UTC()
	return out, nil
}

func (s *Store) exportConversations(ctx context.Context, tx pgx.Tx, ref string) ([]store.ConversationExport, error) {
	out, err := collect(ctx, tx, func(row pgx.CollectableRow) (store.ConversationExport, error) {
		var id string
		var updated time.Time
		var body []byte
		if err := row.Scan(&id, &updated, &body); err != nil {
			return store.ConversationExport{}, err
		}
		c, err := s.conversation(id, body, updated)
		return store.ConversationExport{Conversation: c, Messages: []store.Message{}, Feedback: []store.Feedback{}}, err
	}, `SELECT id, updated_at, body FROM conversations WHERE customer_ref = $1 ORDER BY created_at, id`, ref)
	if err != nil {
		return nil, err
	}
	for i := range out {
		ce := &out[i]
		if ce.Messages, err = s.exportMessages(ctx, tx, ce.ID); err != nil {
			return nil, err
		}
		if ce.Feedback, err = s.exportFeedback(ctx, tx, ce.ID); err != nil {
			return nil, err
		}
		var pid string
		var body []byte
		err := tx.QueryRow(ctx, `SELECT id, body FROM proposals WHERE conversation_id = $1`, ce.ID).Scan(&pid, &body)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			var p store.Proposal
			if err := s.open("proposals", ce.ID, body, &p); err != nil {
				return nil, err
			}
			ce.PendingAction = &p
		}
	}
	return out, nil
}

func (s *Store) exportMessages(ctx context.Context, tx pgx.Tx, conversationID string) ([]store.Message, error) {
	return collect(ctx, tx, func(row pgx.CollectableRow) (store.Message, error) {
		var id string
		var at time.Time
		var body []byte
		if err := row.Scan(&id, &at, &body); err != nil {
			return store.Message{}, err
		}
		return s.message(id, body, at)
	}, `SELECT id, created_at, body FROM messages WHERE conversation_id = $1 ORDER BY seq`, conversationID)
}

func (s *Store) exportFeedback(ctx context.Context, tx pgx.Tx, conversationID string) ([]store.Feedback, error) {
	return collect(ctx, tx, func(row pgx.CollectableRow) (store.Feedback, error) {
		var id string
		var body []byte
		if err := row.Scan(&id, &body); err != nil {
			return store.Feedback{}, err
		}
		var f store.Feedback
		err := s.open("feedback", id, body, &f)
		return f, err
	}, `SELECT message_id, body FROM feedback WHERE conversation_id = $1 ORDER BY seq`, conversationID)
}

func (s *Store) exportTickets(ctx context.Context, tx pgx.Tx, ref string) ([]store.Ticket, error) {
	return collect(ctx, tx, func(row pgx.CollectableRow) (store.Ticket, error) {
		var id string
		var body, packet []byte
		if err := row.Scan(&id, &body, &packet); err != nil {
			return store.Ticket{}, err
		}
		return s.ticket(id, body, packet)
	}, `
SELECT id, body, packet FROM tickets
WHERE customer_ref = $1 OR conversation_id IN (SELECT id FROM conversations WHERE customer_ref = $1)
ORDER BY created_at, id`, ref)
}

func (s *Store) exportOutbox(ctx context.Context, tx pgx.Tx, ref string) ([]store.OutboxEvent, error) {
	return collect(ctx, tx, func(row pgx.CollectableRow) (store.OutboxEvent, error) {
		var id string
		var due time.Time
		var attempts int
		var lastErr, body []byte
		if err := row.Scan(&id, &due, &attempts, &lastErr, &body); err != nil {
			return store.OutboxEvent{}, err
		}
		return s.outboxEvent(id, due, attempts, lastErr, body)
	}, `
SELECT id, due_at, attempts, last_error, body FROM outbox
WHERE customer_ref = $1
   OR conversation_id IN (SELECT id FROM conversations WHERE customer_ref = $1)
   OR ticket_id IN (SELECT id FROM tickets WHERE customer_ref = $1
                    OR conversation_id IN (SELECT id FROM conversations WHERE customer_ref = $1))
ORDER BY seq`, ref)
}

// collect runs query in tx and returns its rows, each decoded by decode.
func collect[T any](ctx context.Context, tx pgx.Tx, decode pgx.RowToFunc[T], query string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, decode)
}

// ApplyRetention removes what is older than its window (a zero window
// keeps everything of its kind): conversations whose last message is older
// than Chats and that have no active ticket, with their messages, feedback
// and pending action; feedback older than Feedback; closed tickets closed
// before Tickets; outbox events queued before Outbox; and audit records
// older than Audit, from the start of the chain, whose last removed
// record becomes the anchor the first kept one is verified against. It
// works in batches of retentionBatch rows, and when it removed anything it
// appends an audit record saying how much.
func (s *Store) ApplyRetention(ctx context.Context, r store.Retention, now time.Time) (store.RetentionReport, error) {
	return r.Run(ctx, now, store.RetentionSteps{
		Chats: s.expireChats, Feedback: s.expireFeedback, Tickets: s.expireTickets,
		Outbox: s.expireOutbox, Audit: s.expireAudit,
	}, s.AppendAudit)
}

// batched runs one retention statement until it removes fewer rows than a
// batch; add takes each run's counts.
func batched(ctx context.Context, run func() (n int, err error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := run()
		if err != nil {
			return err
		}
		if n < retentionBatch {
			return nil
		}
	}
}

func (s *Store) expireChats(ctx context.Context, cutoff time.Time, rep *store.RetentionReport) error {
	return batched(ctx, func() (int, error) {
		var c, m, f int
		err := s.pool.QueryRow(ctx, `
WITH convs AS (
    SELECT id FROM conversations cv
    WHERE cv.updated_at < $1
      AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.conversation_id = cv.id AND t.status IN ('open', 'claimed'))
    ORDER BY cv.updated_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), `+deleteConversations+`
SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM m), (SELECT count(*) FROM f), (SELECT count(*) FROM p)`,
			cutoff, retentionBatch).Scan(&c, &m, &f, new(int))
		rep.Conversations += c
		rep.Messages += m
		rep.Feedback += f
		return c, err
	})
}

// expireRows runs a DELETE of at most a batch of table's rows chosen by
// where (with $1 the cutoff) and counts them into *n.
func (s *Store) expireRows(ctx context.Context, table, key, where string, cutoff time.Time, n *int) error {
	q := `WITH d AS (DELETE FROM ` + table + ` WHERE ` + key + ` IN (SELECT ` + key + ` FROM ` + table +
		` WHERE ` + where + ` LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1) SELECT count(*) FROM d`
	return batched(ctx, func() (int, error) {
		var got int
		err := s.pool.QueryRow(ctx, q, cutoff, retentionBatch).Scan(&got)
		*n += got
		return got, err
	})
}

func (s *Store) expireFeedback(ctx context.Context, cutoff time.Time, rep *store.RetentionReport) error {
	return s.expireRows(ctx, "feedback", "message_id", "created_at < $1", cutoff, &rep.Feedback)
}

func (s *Store) expireTickets(ctx context.Context, cutoff time.Time, rep *store.RetentionReport) error {
	return s.expireRows(ctx, "tickets", "id", "status = 'closed' AND COALESCE(closed_at, updated_at) < $1", cutoff, &rep.Tickets)
}

func (s *Store) expireOutbox(ctx context.Context, cutoff time.Time, rep *store.RetentionReport) error {
	return s.expireRows(ctx, "outbox", "id", "created_at < $1", cutoff, &rep.OutboxEvents)
}

// expireAudit removes the oldest audit records older than cutoff, a batch
// at a time, and moves the chain's anchor to the last one removed, under
// the head's lock (appends wait, as they wait for each other).
func (s *Store) expireAudit(ctx context.Context, cutoff time.Time, rep *store.RetentionReport) error {
	return batched(ctx, func() (int, error) {
		n := 0
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM audit_head WHERE one FOR UPDATE`); err != nil {
				return err
			}
			// The records to remove run from the first up to the first one
			// not older than cutoff: the chain is cut at its start only.
			rows, err := tx.Query(ctx, `
SELECT seq, body FROM audit_log
WHERE seq < COALESCE((SELECT min(seq) FROM audit_log WHERE at >= $1), 9223372036854775807)
ORDER BY seq LIMIT $2`, cutoff, retentionBatch)
			if err != nil {
				return err
			}
			var lastSeq int64
			var lastBody []byte
			for rows.Next() {
				if err := rows.Scan(&lastSeq, &lastBody); err != nil {
					rows.Close()
					return err
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil || n == 0 {
				return err
			}
			var last store.AuditRecord
			if err := s.open("audit_log", auditID(uint64(lastSeq)), lastBody, &last); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, lastSeq); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE audit_head SET anchor_seq = $1, anchor_hash = $2 WHERE one`, lastSeq, last.Hash)
			return err
		})
		rep.AuditRecords += n
		return n, err
	})
}
