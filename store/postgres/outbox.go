package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// The outbox, shared by replicas. DueOutbox leases the events it hands out
// to the replica that asked (this Store): no other replica is handed them
// until the lease runs out, delivered or not, while this one is handed
// them again, as the embedded store does, until they are delivered or
// failed. The events queued with one ticket's changes leave in the order
// they were queued: one is not handed out while an earlier one of the
// same ticket is leased to another replica or waits for its retry.

// OutboxLease is how long an event handed out by DueOutbox stays with the
// replica that took it: longer than the webhook worker takes over a full
// batch (32 events of at most 10s each), so that a slow receiver does not
// get an event twice; a replica that dies leaves its events to the others
// after it.
const OutboxLease = 10 * time.Minute

// Enqueue adds an event to the outbox, due now. It fails with
// kefu.EInvalid when the id is empty or too long or the body is not JSON,
// and kefu.EConflict when an event with the id is already waiting.
func (s *Store) Enqueue(ctx context.Context, ev store.OutboxEvent) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	body, err := s.outboxBody(ev, now)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `
INSERT INTO outbox (id, conversation_id, customer_ref, created_at, due_at, body)
VALUES ($1, NULLIF($2, ''), $3, $4, $4, $5)`, ev.ID, ev.ConversationID, customerRefOrNil(ev.CustomerID), now, body)
	if violated(err) == "outbox_pkey" {
		return kefu.Errorf(kefu.EConflict, "outbox event %s is already queued", ev.ID)
	}
	if err != nil {
		return fmt.Errorf("enqueue outbox event: %w", err)
	}
	return nil
}

// outboxBody checks ev and seals what its body holds, created at now.
func (s *Store) outboxBody(ev store.OutboxEvent, now time.Time) ([]byte, error) {
	if err := store.CheckOutboxEvent(ev); err != nil {
		return nil, err
	}
	if !validKey(ev.ID) {
		return nil, kefu.Errorf(kefu.EInvalid, "outbox event id %q is not valid UTF-8 text", ev.ID)
	}
	if !validText(ev.ConversationID) {
		return nil, kefu.Errorf(kefu.EInvalid, "outbox event %s: conversation id is not valid UTF-8 text", ev.ID)
	}
	return s.seal("outbox", ev.ID, outboxBody{ID: ev.ID, Body: ev.Body, CreatedAt: now,
		ConversationID: ev.ConversationID, CustomerID: ev.CustomerID})
}

func customerRefOrNil(customerID string) *string {
	if customerID == "" {
		return nil
	}
	ref := CustomerRef(customerID)
	return &ref
}

// DueOutbox returns up to limit events whose next attempt is due at now,
// in the order they were queued (limit <= 0: all of them), and leases them
// to this replica for OutboxLease. It is one statement: the events are
// chosen, locked (skipping those another replica is taking at the same
// moment) and leased together.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEvent, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	clock := s.now().UTC()
	// free: due at now and not leased to another replica. elig: the free
	// events without an earlier event of their ticket that is not free,
	// in order; locked: those of them no other replica is taking, still
	// free once locked; taken: the locked ones none of whose earlier
	// events of their ticket escaped the lock.
	rows, err := s.pool.Query(ctx, `
WITH elig AS (
    SELECT o.id, o.seq, o.ticket_id FROM outbox o
    WHERE o.due_at <= $1 AND (o.lease_until IS NULL OR o.lease_until <= $2 OR o.lease_owner = $3)
      AND NOT EXISTS (
        SELECT 1 FROM outbox e
        WHERE o.ticket_id IS NOT NULL AND e.ticket_id = o.ticket_id AND e.seq < o.seq
          AND NOT (e.due_at <= $1 AND (e.lease_until IS NULL OR e.lease_until <= $2 OR e.lease_owner = $3)))
    ORDER BY o.seq
    LIMIT $4
), locked AS (
    SELECT o.id, o.seq, o.ticket_id FROM outbox o
    WHERE o.id IN (SELECT id FROM elig)
      AND o.due_at <= $1 AND (o.lease_until IS NULL OR o.lease_until <= $2 OR o.lease_owner = $3)
    FOR UPDATE SKIP LOCKED
), taken AS (
    SELECT l.id FROM locked l
    WHERE NOT EXISTS (
        SELECT 1 FROM elig e
        WHERE e.ticket_id = l.ticket_id AND e.seq < l.seq AND NOT EXISTS (SELECT 1 FROM locked k WHERE k.id = e.id))
)
UPDATE outbox o SET lease_owner = $3, lease_until = $5
FROM taken WHERE o.id = taken.id
RETURNING o.id, o.seq, o.due_at, o.attempts, o.last_error, o.body`,
		now, clock, s.origin, lim, clock.Add(OutboxLease))
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	type seqEvent struct {
		seq int64
		ev  store.OutboxEvent
	}
	var got []seqEvent
	for rows.Next() {
		var (
			id              string
			seq             int64
			due             time.Time
			attempts        int
			lastErr, sealed []byte
		)
		if err := rows.Scan(&id, &seq, &due, &attempts, &lastErr, &sealed); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		ev, err := s.outboxEvent(id, due, attempts, lastErr, sealed)
		if err != nil {
			return nil, err
		}
		got = append(got, seqEvent{seq, ev})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	slices.SortFunc(got, func(a, b seqEvent) int { return cmp.Compare(a.seq, b.seq) })
	var out []store.OutboxEvent
	for _, g := range got {
		out = append(out, g.ev)
	}
	return out, nil
}

// outboxEvent opens an outbox row.
func (s *Store) outboxEvent(id string, due time.Time, attempts int, lastErr, sealed []byte) (store.OutboxEvent, error) {
	var b outboxBody
	if err := s.open("outbox", id, sealed, &b); err != nil {
		return store.OutboxEvent{}, err
	}
	ev := store.OutboxEvent{ID: b.ID, Body: b.Body, CreatedAt: b.CreatedAt, Attempts: attempts,
		NextAttemptAt: due.UTC(), ConversationID: b.ConversationID, CustomerID: b.CustomerID}
	if lastErr != nil {
		if err := s.open(placeLastError, id, lastErr, &ev.LastError); err != nil {
			return store.OutboxEvent{}, err
		}
	}
	return ev, nil
}

// OutboxDelivered removes a delivered event. An event already removed is
// not an error, so that two deliveries of one event do no harm.
func (s *Store) OutboxDelivered(ctx context.Context, id string) error {
	if !validKey(id) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, id); err != nil {
		return fmt.Errorf("mark outbox event %s delivered: %w", id, err)
	}
	return nil
}

// OutboxFailed records a failed attempt to deliver the event id: it counts
// the attempt, keeps why (shortened), makes the event due again at next
// and ends its lease, so that any replica may take it then. It fails with
// kefu.ENotFound when the event is not in the outbox.
func (s *Store) OutboxFailed(ctx context.Context, id string, next time.Time, why string) error {
	notFound := kefu.Errorf(kefu.ENotFound, "outbox event %q not found", id)
	if !validKey(id) {
		return notFound
	}
	lastErr, err := s.seal(placeLastError, id, store.ShortenOutboxError(why))
	if err != nil {
		return fmt.Errorf("record outbox failure: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE outbox SET attempts = attempts + 1, due_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL
WHERE id = $1`, id, next.UTC(), lastErr)
	if err != nil {
		return fmt.Errorf("record outbox failure: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}

// OutboxLen returns how many events wait in the outbox, due or not.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox events: %w", err)
	}
	return n, nil
}
