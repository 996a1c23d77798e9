package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// Tickets. A ticket change is one transaction of two round trips: the
// first begins it and locks what the change reads (the conversation's row
// and its active ticket for OpenTicket, the ticket for UpdateTicket), the
// change runs in Go, and the second writes the ticket with its outbox
// event and commits. The partial unique index tickets_one_active keeps one
// active ticket per conversation whatever replicas do; OpenTicket locks
// the conversation's row, so two replicas opening a ticket on one
// conversation at once make one ticket, the second changing the first's.

func init() {
	registerSealed("tickets")
	registerSealedColumn("tickets", "id", "packet", placePacket)
	registerSealed("outbox")
	registerSealedColumn("outbox", "id", "last_error", placeLastError)
	registerSealedKey("audit_log", "seq")
}

// Places of the values sealed apart from a row's body.
const (
	placePacket    = "tickets.packet"
	placeLastError = "outbox.last_error"
)

// validKey reports whether s can be looked up or stored as a text key:
// validID, and valid UTF-8, which PostgreSQL's text requires.
func validKey(s string) bool { return validID(s) && utf8.ValidString(s) }

// validText reports whether s can be stored in a text column.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// OpenTicket changes the active ticket of a conversation, or, when it has
// none, a new open ticket (with its ID, ConversationID, CustomerID,
// CreatedAt and Status set) that it then stores; isNew tells change and the
// caller which it was. change runs inside the transaction that writes the
// ticket and its outbox event, with the conversation's row locked; it may
// run a second time, on the ticket as it then is, when another replica
// reopened a ticket of the conversation meanwhile. It fails with
// kefu.ENotFound when the conversation does not exist.
func (s *Store) OpenTicket(ctx context.Context, conversationID string,
	change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error) {
	if !validKey(conversationID) {
		return store.Ticket{}, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	for attempt := 0; ; attempt++ {
		t, isNew, err := s.openTicket(ctx, conversationID, change)
		if attempt == 0 && violated(err) == "tickets_one_active" {
			// An UpdateTicket reopened a closed ticket of the conversation
			// after this one looked: the second look finds it active.
			continue
		}
		if err != nil {
			return store.Ticket{}, false, ticketError("open ticket", err)
		}
		return t, isNew, nil
	}
}

func (s *Store) openTicket(ctx context.Context, conversationID string,
	change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (t store.Ticket, isNew bool, err error) {
	p, err := s.pipe(ctx)
	if err != nil {
		return t, false, err
	}
	defer p.close()
	var (
		convBody             []byte
		convFound, tickFound bool
		tickID               string
		tickBody, tickPacket []byte
	)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// Two statements, so that the second reads the tickets as they are
	// once the first holds the conversation's lock.
	b.Queue(`SELECT body FROM conversations WHERE id = $1 FOR NO KEY UPDATE`, conversationID)
	b.Queue(`SELECT id, body, packet FROM tickets WHERE conversation_id = $1 AND status IN ('open', 'claimed') FOR UPDATE`, conversationID)
	err = p.send(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var err error
		if convFound, err = optional(br.QueryRow().Scan(&convBody)); err != nil {
			return err
		}
		tickFound, err = optional(br.QueryRow().Scan(&tickID, &tickBody, &tickPacket))
		return err
	})
	if err != nil {
		return t, false, err
	}
	if !convFound {
		return t, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	var conv conversationBody
	if err := s.open("conversations", conversationID, convBody, &conv); err != nil {
		return t, false, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var old *store.Ticket
	if tickFound {
		cur, err := s.ticket(tickID, tickBody, tickPacket)
		if err != nil {
			return t, false, err
		}
		old, t = &cur, cur
	} else {
		isNew = true
		t = store.Ticket{ID: store.NewTicketID(), ConversationID: conv.ID, CustomerID: conv.CustomerID,
			Status: store.TicketOpen, CreatedAt: now, UpdatedAt: now}
	}
	ev, err := change(&t, isNew)
	if err != nil {
		return store.Ticket{}, false, err
	}
	if err := s.writeTicket(ctx, p, old, &t, ev, now); err != nil {
		return store.Ticket{}, false, err
	}
	return t, isNew, nil
}

// UpdateTicket applies change to the ticket id, locked, and stores it with
// the outbox event change returns, in one transaction. It fails with
// kefu.ENotFound for an unknown ticket and kefu.EConflict when the change
// makes a ticket active beside its conversation's active one.
func (s *Store) UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error) {
	if !validKey(id) {
		return store.Ticket{}, kefu.Errorf(kefu.ENotFound, "ticket %q not found", id)
	}
	t, err := s.updateTicket(ctx, id, change)
	if err != nil {
		return store.Ticket{}, ticketError("update ticket", err)
	}
	return t, nil
}

func (s *Store) updateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error) {
	p, err := s.pipe(ctx)
	if err != nil {
		return store.Ticket{}, err
	}
	defer p.close()
	var (
		found        bool
		body, packet []byte
	)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`SELECT body, packet FROM tickets WHERE id = $1 FOR UPDATE`, id)
	err = p.send(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var err error
		found, err = optional(br.QueryRow().Scan(&body, &packet))
		return err
	})
	if err != nil {
		return store.Ticket{}, err
	}
	if !found {
		return store.Ticket{}, kefu.Errorf(kefu.ENotFound, "ticket %q not found", id)
	}
	old, err := s.ticket(id, body, packet)
	if err != nil {
		return store.Ticket{}, err
	}
	t := old
	ev, err := change(&t)
	if err != nil {
		return store.Ticket{}, err
	}
	if err := s.writeTicket(ctx, p, &old, &t, ev, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return store.Ticket{}, err
	}
	return t, nil
}

// writeTicket checks t (changed from old, nil for a new ticket), then
// writes it and queues ev in p's transaction, and commits: one round trip.
func (s *Store) writeTicket(ctx context.Context, p *pipe, old, t *store.Ticket, ev *store.OutboxEvent, now time.Time) error {
	if old != nil {
		t.ID, t.ConversationID, t.CustomerID, t.CreatedAt = old.ID, old.ConversationID, old.CustomerID, old.CreatedAt
		t.UpdatedAt = now
		if t.UpdatedAt.Before(old.UpdatedAt) {
			t.UpdatedAt = old.UpdatedAt
		}
	}
	if err := store.CheckTicket(t); err != nil {
		return err
	}
	if !validText(t.Reason) || !validText(t.Team) {
		return kefu.Errorf(kefu.EInvalid, "ticket %s: reason or team is not valid UTF-8 text", t.ID)
	}
	head := *t
	head.Packet = nil
	body, err := s.seal("tickets", t.ID, head)
	if err != nil {
		return err
	}
	var packet []byte
	if len(t.Packet) > 0 {
		if packet, err = s.seal(placePacket, t.ID, t.Packet); err != nil {
			return err
		}
	}
	var (
		evID   string
		evBody []byte
	)
	if ev != nil {
		e := *ev
		e.ConversationID, e.CustomerID = t.ConversationID, t.CustomerID
		if evBody, err = s.outboxBody(e, now); err != nil {
			return err
		}
		evID = e.ID
	}
	b := &pgx.Batch{}
	b.Queue(`
WITH t AS (
    INSERT INTO tickets (id, conversation_id, customer_ref, status, reason, priority_rank, team, outcome, created_at, updated_at, body, packet, closed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $17)
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason,
        priority_rank = EXCLUDED.priority_rank, team = EXCLUDED.team, outcome = EXCLUDED.outcome,
        updated_at = EXCLUDED.updated_at, body = EXCLUDED.body, packet = EXCLUDED.packet, closed_at = EXCLUDED.closed_at
    RETURNING id
)
INSERT INTO outbox (id, ticket_id, conversation_id, customer_ref, created_at, due_at, body)
SELECT $13, t.id, $2, $16, $14, $14, $15 FROM t WHERE $13::text <> ''`,
		t.ID, t.ConversationID, CustomerRef(t.CustomerID), t.Status, t.Reason, store.PriorityRank(t.Priority),
		t.Team, t.Outcome, t.CreatedAt, t.UpdatedAt, body, packet, evID, now, evBody, customerRefOrNil(t.CustomerID), t.ClosedAt)
	b.Queue("COMMIT")
	err = p.send(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	})
	switch violated(err) {
	case "":
		return err
	case "tickets_one_active":
		return kefu.WrapError(kefu.EConflict, fmt.Sprintf("conversation %s already has an active ticket", t.ConversationID), err)
	case "outbox_pkey":
		return kefu.WrapError(kefu.EConflict, fmt.Sprintf("outbox event %s is already queued", evID), err)
	}
	return err
}

// ActiveTicket returns the open or claimed ticket of a conversation, or a
// kefu.ENotFound error when it has none.
func (s *Store) ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error) {
	notFound := kefu.Errorf(kefu.ENotFound, "conversation %q has no active ticket", conversationID)
	if !validKey(conversationID) {
		return store.Ticket{}, notFound
	}
	var id string
	var body, packet []byte
	err := s.pool.QueryRow(ctx, `SELECT id, body, packet FROM tickets WHERE conversation_id = $1 AND status IN ('open', 'claimed')`,
		conversationID).Scan(&id, &body, &packet)
	if found, err := optional(err); err != nil {
		return store.Ticket{}, fmt.Errorf("read active ticket: %w", err)
	} else if !found {
		return store.Ticket{}, notFound
	}
	return s.ticket(id, body, packet)
}

// Ticket returns the ticket id, or a kefu.ENotFound error.
func (s *Store) Ticket(ctx context.Context, id string) (store.Ticket, error) {
	notFound := kefu.Errorf(kefu.ENotFound, "ticket %q not found", id)
	if !validKey(id) {
		return store.Ticket{}, notFound
	}
	var body, packet []byte
	err := s.pool.QueryRow(ctx, `SELECT body, packet FROM tickets WHERE id = $1`, id).Scan(&body, &packet)
	if found, err := optional(err); err != nil {
		return store.Ticket{}, fmt.Errorf("read ticket: %w", err)
	} else if !found {
		return store.Ticket{}, notFound
	}
	return s.ticket(id, body, packet)
}

// ticket opens a ticket's row; packet is nil for a ticket without one.
func (s *Store) ticket(id string, body, packet []byte) (store.Ticket, error) {
	var t store.Ticket
	if err := s.open("tickets", id, body, &t); err != nil {
		return store.Ticket{}, err
	}
	if packet != nil {
		if err := s.open(placePacket, id, packet, &t.Packet); err != nil {
			return store.Ticket{}, err
		}
	}
	return t, nil
}

// Tickets returns the tickets that pass f as a queue, without their
// packets: most urgent first, then oldest first (by CreatedAt, then ID).
func (s *Store) Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error) {
	out := []store.Ticket{}
	statuses := []string{}
	for _, st := range f.Statuses {
		switch st {
		case store.TicketOpen, store.TicketClaimed, store.TicketClosed:
			statuses = append(statuses, st)
		}
	}
	switch {
	case len(f.Statuses) == 0:
		statuses = []string{store.TicketOpen, store.TicketClaimed}
	case len(statuses) == 0:
		return out, nil // no ticket has a status other than these
	}
	if !validText(f.Team) {
		return out, nil // no ticket's team is
	}
	var limit *int
	if f.Limit > 0 {
		limit = &f.Limit
	}
	rows, err := s.pool.Query(ctx, `
SELECT id, body FROM tickets
WHERE ($1 = '' OR team = $1) AND status = ANY ($2)
ORDER BY priority_rank, created_at, id COLLATE "C"
LIMIT $3`, f.Team, statuses, limit)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		t, err := s.ticket(id, body, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// TicketStats counts every conversation and ticket, in one snapshot.
func (s *Store) TicketStats(ctx context.Context) (store.TicketStats, error) {
	st := store.TicketStats{ByReason: map[string]int{}, ByStatus: map[string]int{}, ByOutcome: map[string]int{}}
	rows, err := s.pool.Query(ctx, `
SELECT true, '', '', '', count(*) FROM conversations
UNION ALL
SELECT false, reason, status, outcome, count(*) FROM tickets GROUP BY reason, status, outcome`)
	if err != nil {
		return st, fmt.Errorf("ticket stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			convs                   bool
			reason, status, outcome string
			n                       int
		)
		if err := rows.Scan(&convs, &reason, &status, &outcome, &n); err != nil {
			return st, fmt.Errorf("ticket stats: %w", err)
		}
		if convs {
			st.Conversations = n
			continue
		}
		st.Tickets += n
		st.ByReason[reason] += n
		st.ByStatus[status] += n
		if outcome != "" {
			st.ByOutcome[outcome] += n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("ticket stats: %w", err)
	}
	return st, nil
}

// ticketError keeps application errors (not found, conflict, invalid, or
// whatever a TicketChange returned) as they are and wraps the others with
// the operation.
func ticketError(op string, err error) error {
	if kefu.ErrorCode(err) != kefu.EInternal {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// outboxBody is what an outbox event's sealed body holds; the attempts,
// the next attempt's time and the last error live in their columns.
type outboxBody struct {
	ID             string          `json:"id"`
	Body           json.RawMessage `json:"body"`
	CreatedAt      time.Time       `json:"created_at"`
	ConversationID string          `json:"conversation_id,omitempty"`
	CustomerID     string          `json:"customer_id,omitempty"`
}
