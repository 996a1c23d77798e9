package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// Ticket statuses. A conversation has at most one active (open or claimed)
// ticket at a time; a closed ticket stays for the record.
const (
	TicketOpen    = "open"    // waiting in its team's queue
	TicketClaimed = "claimed" // a human agent owns the conversation
	TicketClosed  = "closed"  // finished; Outcome says how
)

// Ticket outcomes, set when a ticket closes.
const (
	OutcomeHuman     = "human"     // resolved by a human agent
	OutcomeBot       = "bot"       // the assistant answered after all; no human was needed
	OutcomeAbandoned = "abandoned" // closed without a resolution (the shopper left, spam, duplicate)
)

// Ticket priorities, most urgent first.
const (
	PriorityUrgent = "urgent"
	PriorityHigh   = "high"
	PriorityNormal = "normal"
)

// PriorityRank orders priorities: 0 for urgent, 1 for high, 2 for normal,
// 3 for anything else.
func PriorityRank(p string) int {
	switch p {
	case PriorityUrgent:
		return 0
	case PriorityHigh:
		return 1
	case PriorityNormal:
		return 2
	}
	return 3
}

// Ticket is a conversation handed to human agents. The store keeps the
// fields it sorts and filters on as fields and the handoff packet as an
// opaque JSON object, written and read by package escalate. CustomerID is
// copied from the conversation when the ticket is opened.
type Ticket struct {
	ID             string          `json:"id"`
	ConversationID string          `json:"conversation_id"`
	CustomerID     string          `json:"customer_id,omitempty"`
	Status         string          `json:"status"`
	Reason         string          `json:"reason"`
	Priority       string          `json:"priority"`
	Team           string          `json:"team"`
	Intent         string          `json:"intent,omitempty"`
	Locale         string          `json:"locale,omitempty"`
	Assignee       string          `json:"assignee,omitempty"` // the agent (API key name) who claimed it
	Outcome        string          `json:"outcome,omitempty"`  // set when closed
	Summary        string          `json:"summary,omitempty"`  // a line or two for the queue
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	ClaimedAt      *time.Time      `json:"claimed_at,omitempty"`
	ClosedAt       *time.Time      `json:"closed_at,omitempty"`
	Packet         json.RawMessage `json:"packet,omitempty"`
}

// Active reports whether the ticket is open or claimed.
func (t Ticket) Active() bool { return t.Status == TicketOpen || t.Status == TicketClaimed }

// TicketFilter selects tickets for a queue.
type TicketFilter struct {
	Team     string   // "" for every team
	Statuses []string // empty: open and claimed
	Limit    int      // at most this many; <= 0 for all
}

// TicketStats counts conversations and tickets for analytics.
type TicketStats struct {
	Conversations int            `json:"conversations"`
	Tickets       int            `json:"tickets"`
	ByReason      map[string]int `json:"by_reason"`  // tickets by reason code
	ByStatus      map[string]int `json:"by_status"`  // tickets by status
	ByOutcome     map[string]int `json:"by_outcome"` // closed tickets by outcome
}

// TicketChange changes a ticket inside the store's write transaction and
// returns the outbox event to queue with the change, or nil for none. An
// error aborts the change: nothing is written and the error is returned
// as is. The store keeps ID, ConversationID, CustomerID and CreatedAt as
// they were and sets UpdatedAt.
type TicketChange func(t *Ticket) (*OutboxEvent, error)

const ticketPrefix = "t_"

var (
	bucketTickets      = []byte("tickets")       // ticket id -> Ticket JSON
	bucketActiveTicket = []byte("ticket_active") // conversation id -> id of its open or claimed ticket
)

// OpenTicket changes the active ticket of a conversation, or, when it has
// none, a new open ticket (with its ID, ConversationID, CustomerID,
// CreatedAt and Status set) that it then stores; isNew tells change and the
// caller which it was. The ticket and its outbox event are written in one
// transaction, so there is never more than one active ticket per
// conversation. It fails with kefu.ENotFound when the conversation does not
// exist.
func (s *Bolt) OpenTicket(ctx context.Context, conversationID string,
	change func(t *Ticket, isNew bool) (*OutboxEvent, error)) (t Ticket, isNew bool, err error) {
	if err := ctx.Err(); err != nil {
		return Ticket{}, false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		conv, err := s.getConversation(tx, conversationID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		var old *Ticket
		if id := bucketGet(tx, bucketActiveTicket, []byte(conversationID)); id != nil {
			cur, err := s.getTicket(tx, string(id))
			if err != nil {
				return err
			}
			old = &cur
		}
		if old == nil {
			isNew = true
			t = Ticket{ID: newID(ticketPrefix), ConversationID: conv.ID, CustomerID: conv.CustomerID,
				Status: TicketOpen, CreatedAt: now, UpdatedAt: now}
		} else {
			t = *old
		}
		ev, err := change(&t, isNew)
		if err != nil {
			return err
		}
		return s.putTicket(tx, old, &t, ev, now)
	})
	if err != nil {
		return Ticket{}, false, ticketError("open ticket", err)
	}
	return t, isNew, nil
}

// UpdateTicket applies change to the ticket id and stores it, with the
// outbox event change returns, in one transaction. It fails with
// kefu.ENotFound for an unknown ticket.
func (s *Bolt) UpdateTicket(ctx context.Context, id string, change TicketChange) (Ticket, error) {
	if err := ctx.Err(); err != nil {
		return Ticket{}, err
	}
	var t Ticket
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := s.getTicket(tx, id)
		if err != nil {
			return err
		}
		t = old
		ev, err := change(&t)
		if err != nil {
			return err
		}
		return s.putTicket(tx, &old, &t, ev, s.now().UTC())
	})
	if err != nil {
		return Ticket{}, ticketError("update ticket", err)
	}
	return t, nil
}

// putTicket validates t (changed from old, nil for a new ticket), stores it,
// keeps the active index right and queues ev.
func (s *Bolt) putTicket(tx *bolt.Tx, old, t *Ticket, ev *OutboxEvent, now time.Time) error {
	if old != nil {
		t.ID, t.ConversationID, t.CustomerID, t.CreatedAt = old.ID, old.ConversationID, old.CustomerID, old.CreatedAt
		t.UpdatedAt = now
		if t.UpdatedAt.Before(old.UpdatedAt) {
			t.UpdatedAt = old.UpdatedAt
		}
	}
	if err := validTicket(t); err != nil {
		return err
	}
	active, err := tx.CreateBucketIfNotExists(bucketActiveTicket)
	if err != nil {
		return err
	}
	current := active.Get([]byte(t.ConversationID))
	switch {
	case t.Active() && current != nil && string(current) != t.ID:
		return kefu.Errorf(kefu.EConflict, "conversation %s already has an active ticket", t.ConversationID)
	case t.Active():
		if err := active.Put([]byte(t.ConversationID), []byte(t.ID)); err != nil {
			return err
		}
	case string(current) == t.ID:
		if err := active.Delete([]byte(t.ConversationID)); err != nil {
			return err
		}
	}
	tickets, err := tx.CreateBucketIfNotExists(bucketTickets)
	if err != nil {
		return err
	}
	if err := s.putRecord(tickets, bucketTickets, []byte(t.ID), t); err != nil {
		return err
	}
	if ev != nil {
		e := *ev
		e.ConversationID, e.CustomerID = t.ConversationID, t.CustomerID
		return s.enqueue(tx, e, now)
	}
	return nil
}

func validTicket(t *Ticket) error {
	switch t.Status {
	case TicketOpen, TicketClaimed:
		if t.Outcome != "" {
			return kefu.Errorf(kefu.EInvalid, "ticket %s is %s but has outcome %q", t.ID, t.Status, t.Outcome)
		}
	case TicketClosed:
		switch t.Outcome {
		case OutcomeHuman, OutcomeBot, OutcomeAbandoned:
		default:
			return kefu.Errorf(kefu.EInvalid, "closed ticket %s has outcome %q, not one of human, bot, abandoned", t.ID, t.Outcome)
		}
	default:
		return kefu.Errorf(kefu.EInvalid, "ticket status %q is not one of open, claimed, closed", t.Status)
	}
	if PriorityRank(t.Priority) > 2 {
		return kefu.Errorf(kefu.EInvalid, "ticket priority %q is not one of urgent, high, normal", t.Priority)
	}
	if t.Reason == "" {
		return kefu.Errorf(kefu.EInvalid, "ticket %s has no reason", t.ID)
	}
	if len(t.Packet) > 0 && !json.Valid(t.Packet) {
		return kefu.Errorf(kefu.EInvalid, "ticket %s: packet is not valid JSON", t.ID)
	}
	return nil
}

// ActiveTicket returns the open or claimed ticket of a conversation, or a
// kefu.ENotFound error when it has none.
func (s *Bolt) ActiveTicket(ctx context.Context, conversationID string) (Ticket, error) {
	if err := ctx.Err(); err != nil {
		return Ticket{}, err
	}
	var t Ticket
	err := s.db.View(func(tx *bolt.Tx) error {
		var id []byte
		if len(conversationID) <= maxIDLen {
			id = bucketGet(tx, bucketActiveTicket, []byte(conversationID))
		}
		if id == nil {
			return kefu.Errorf(kefu.ENotFound, "conversation %q has no active ticket", conversationID)
		}
		var err error
		t, err = s.getTicket(tx, string(id))
		return err
	})
	return t, err
}

// Ticket returns the ticket id, or a kefu.ENotFound error.
func (s *Bolt) Ticket(ctx context.Context, id string) (Ticket, error) {
	if err := ctx.Err(); err != nil {
		return Ticket{}, err
	}
	var t Ticket
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = s.getTicket(tx, id)
		return err
	})
	return t, err
}

// Tickets returns the tickets that pass f as a queue: most urgent first,
// then oldest first (by CreatedAt, then ID). The embedded store scans every
// ticket, which is fine for the tickets of one shop.
func (s *Bolt) Tickets(ctx context.Context, f TicketFilter) ([]Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []string{TicketOpen, TicketClaimed}
	}
	out := []Ticket{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTickets)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, raw []byte) error {
			var t Ticket
			if err := s.getRecord(bucketTickets, k, raw, &t); err != nil {
				return err
			}
			if (f.Team == "" || t.Team == f.Team) && slices.Contains(statuses, t.Status) {
				t.Packet = nil
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	sortQueue(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// sortQueue orders tickets as a queue: by priority, most urgent first,
// then by age, oldest first, then by ID.
func sortQueue(ts []Ticket) {
	slices.SortStableFunc(ts, func(a, b Ticket) int {
		if d := PriorityRank(a.Priority) - PriorityRank(b.Priority); d != 0 {
			return d
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// TicketStats counts every conversation and ticket.
func (s *Bolt) TicketStats(ctx context.Context) (TicketStats, error) {
	st := TicketStats{ByReason: map[string]int{}, ByStatus: map[string]int{}, ByOutcome: map[string]int{}}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Conversations = tx.Bucket(bucketConversations).Stats().KeyN
		b := tx.Bucket(bucketTickets)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, raw []byte) error {
			var t Ticket
			if err := s.getRecord(bucketTickets, k, raw, &t); err != nil {
				return err
			}
			st.Tickets++
			st.ByReason[t.Reason]++
			st.ByStatus[t.Status]++
			if t.Outcome != "" {
				st.ByOutcome[t.Outcome]++
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("ticket stats: %w", err)
	}
	return st, nil
}

func (s *Bolt) getTicket(tx *bolt.Tx, id string) (Ticket, error) {
	var t Ticket
	var raw []byte
	if id != "" && len(id) <= maxIDLen {
		raw = bucketGet(tx, bucketTickets, []byte(id))
	}
	if raw == nil {
		return t, kefu.Errorf(kefu.ENotFound, "ticket %q not found", id)
	}
	return t, s.getRecord(bucketTickets, []byte(id), raw, &t)
}

// bucketGet reads key from a bucket that may not exist yet (buckets added
// after the first release are created by the first write that needs them).
func bucketGet(tx *bolt.Tx, bucket, key []byte) []byte {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.Get(key)
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
