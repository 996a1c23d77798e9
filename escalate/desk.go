package escalate

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// Conversations is what the desk reads and writes of conversations.
type Conversations interface {
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
}

// Tickets is the ticket store as the desk uses it. Each change runs inside
// the store's write transaction, with the outbox event it returns.
type Tickets interface {
	OpenTicket(ctx context.Context, conversationID string, change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error)
	UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error)
	ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error)
}

var (
	_ Conversations = (*store.Bolt)(nil)
	_ Tickets       = (*store.Bolt)(nil)
)

// Changes of a ticket, named in webhook events.
const (
	ChangeOpened      = "opened"          // a new ticket
	ChangeEscalated   = "escalated"       // another escalation in a conversation with an active ticket
	ChangeMessage     = "message"         // new messages in the conversation
	ChangeClaimed     = "claimed"         // an agent took it
	ChangeReplied     = "replied"         // an agent answered the shopper
	ChangeResolved    = "resolved"        // an agent closed it
	ChangeBotResolved = "resolved_by_bot" // the assistant answered after all and the offer lapsed
	ChangeNoted       = "noted"           // an agent added an internal note
)

// DecisionHuman is the decision stored with the reply a shopper gets while
// a person owns the conversation (the assistant stays silent).
const DecisionHuman = "human"

// Outcomes an agent gives when closing a ticket.
const (
	OutcomeResolved  = "resolved"
	OutcomeAbandoned = "abandoned"
)

// Desk keeps each conversation's ticket through its life: opened or raised
// by escalations, kept up to date with the conversation, claimed, answered
// and resolved by agents. With a webhook, every change queues an event in
// the same transaction. A Desk is safe for concurrent use.
type Desk struct {
	policy  *Policy
	convs   Conversations
	tickets Tickets
	webhook bool
	notify  func()
	now     func() time.Time
}

// DeskOption tunes a Desk.
type DeskOption func(*Desk)

// WithWebhook makes every ticket change queue a webhook event, and calls
// notify (which must not block) after each, to wake the delivering Worker.
func WithWebhook(notify func()) DeskOption {
	return func(d *Desk) { d.webhook, d.notify = true, notify }
}

// NewDesk returns a desk over the conversation and ticket stores, with the
// policy of cfg; it fails with cfg's first problem.
func NewDesk(convs Conversations, tickets Tickets, cfg Config, opts ...DeskOption) (*Desk, error) {
	p, err := NewPolicy(cfg)
	if err != nil {
		return nil, err
	}
	d := &Desk{policy: p, convs: convs, tickets: tickets, notify: func() {}, now: time.Now}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Assess applies the policy to a finished turn; see Policy.Assess.
func (d *Desk) Assess(t Turn) (Decision, bool) { return d.policy.Assess(t) }

// ActiveTicket returns the conversation's open or claimed ticket, or a
// kefu.ENotFound error.
func (d *Desk) ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error) {
	return d.tickets.ActiveTicket(ctx, conversationID)
}

// errUnchanged aborts a change that found nothing to do.
var errUnchanged = errors.New("nothing to change")

// Sync brings the conversation's ticket up to date after a turn (the
// answer stored). With a decision it opens a ticket, or raises the active
// one when the new reason outranks its reason (the team changes only while
// nobody has claimed it). Without one it refreshes the active ticket's
// packet, and closes an unclaimed ticket that was only an offer (the
// assistant did not know) when the assistant has now answered. It returns
// the ticket and the change made; a conversation without an active ticket
// and no decision gives the zero Ticket and "".
func (d *Desk) Sync(ctx context.Context, conversationID string, dec *Decision) (store.Ticket, string, error) {
	if dec == nil {
		return d.refresh(ctx, conversationID)
	}
	msgs, err := d.convs.Messages(ctx, conversationID, 0)
	if err != nil {
		return store.Ticket{}, "", fmt.Errorf("read the conversation: %w", err)
	}
	var change string
	t, _, err := d.tickets.OpenTicket(ctx, conversationID, func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error) {
		var reasons []string
		if isNew {
			change = ChangeOpened
			t.Reason, t.Priority, t.Team, t.Intent, t.Locale = dec.Reason, dec.Priority, dec.Team, dec.Intent, dec.Locale
		} else {
			change = ChangeEscalated
			old, err := DecodePacket(*t)
			if err != nil {
				return nil, err
			}
			reasons = old.Reasons
			if precedes(dec.Reason, t.Reason) {
				t.Reason, t.Priority = dec.Reason, dec.Priority
				if t.Status == store.TicketOpen {
					t.Team = dec.Team
				}
			}
			if specific(dec.Intent) {
				t.Intent = dec.Intent
			}
		}
		if !slices.Contains(reasons, dec.Reason) {
			reasons = append(reasons, dec.Reason)
		}
		p := d.repack(t, reasons, msgs)
		return d.event(t, p, change, isNew)
	})
	if err != nil {
		return store.Ticket{}, "", fmt.Errorf("open a ticket: %w", err)
	}
	d.notify()
	return t, change, nil
}

// refresh updates the active ticket of a conversation, if it has one; most
// conversations have none, and cost one lookup.
func (d *Desk) refresh(ctx context.Context, conversationID string) (store.Ticket, string, error) {
	t, err := d.tickets.ActiveTicket(ctx, conversationID)
	if kefu.ErrorCode(err) == kefu.ENotFound {
		return store.Ticket{}, "", nil
	}
	if err != nil {
		return store.Ticket{}, "", fmt.Errorf("find the conversation's ticket: %w", err)
	}
	msgs, err := d.convs.Messages(ctx, conversationID, 0)
	if err != nil {
		return store.Ticket{}, "", fmt.Errorf("read the conversation: %w", err)
	}
	change := ChangeMessage
	t, err = d.tickets.UpdateTicket(ctx, t.ID, func(t *store.Ticket) (*store.OutboxEvent, error) {
		if !t.Active() { // closed since it was read
			return nil, errUnchanged
		}
		old, err := DecodePacket(*t)
		if err != nil {
			return nil, err
		}
		if t.Status == store.TicketOpen && offerOnly(old.Reasons) && botAnswered(msgs) {
			change = ChangeBotResolved
			now := d.now().UTC()
			t.Status, t.Outcome, t.ClosedAt = store.TicketClosed, store.OutcomeBot, &now
		}
		p := d.repack(t, old.Reasons, msgs)
		return d.event(t, p, change, false)
	})
	if errors.Is(err, errUnchanged) {
		return store.Ticket{}, "", nil
	}
	if err != nil {
		return store.Ticket{}, "", fmt.Errorf("update ticket: %w", err)
	}
	d.notify()
	return t, change, nil
}

// botAnswered reports whether the conversation's last message is an answer
// of the assistant's own that handed nothing over.
func botAnswered(msgs []store.Message) bool {
	if len(msgs) == 0 {
		return false
	}
	m := msgs[len(msgs)-1]
	return m.Role == kefu.RoleAssistant && m.Decision == rag.DecideAnswer && !m.Escalated && !m.Partial
}

// Claim gives an open ticket to agent (an API key's name), which puts a
// person in charge of the conversation: the assistant stops answering it.
// Claiming one's own ticket again changes nothing; a ticket claimed by
// someone else or closed is a kefu.EConflict.
func (d *Desk) Claim(ctx context.Context, id, agent string) (store.Ticket, error) {
	if agent == "" {
		return store.Ticket{}, kefu.Errorf(kefu.EInvalid, "an agent name is needed to claim a ticket")
	}
	claimed := false
	t, err := d.tickets.UpdateTicket(ctx, id, func(t *store.Ticket) (*store.OutboxEvent, error) {
		switch {
		case t.Status == store.TicketClosed:
			return nil, kefu.Errorf(kefu.EConflict, "ticket %s is closed", t.ID)
		case t.Status == store.TicketClaimed && t.Assignee != agent:
			return nil, kefu.Errorf(kefu.EConflict, "ticket %s is already claimed by %s", t.ID, t.Assignee)
		case t.Status == store.TicketClaimed:
			return nil, nil // already the agent's
		}
		claimed = true
		now := d.now().UTC()
		t.Status, t.Assignee, t.ClaimedAt = store.TicketClaimed, agent, &now
		p, err := DecodePacket(*t)
		if err != nil {
			return nil, err
		}
		return d.event(t, p, ChangeClaimed, false)
	})
	if err != nil {
		return store.Ticket{}, err
	}
	if claimed {
		d.notify()
	}
	return t, nil
}

// Reply appends an agent's message to the ticket's conversation (role
// "agent"), claiming the ticket first when it is open, and returns the
// ticket and the stored message. A ticket claimed by someone else or
// closed is a kefu.EConflict and nothing is sent.
func (d *Desk) Reply(ctx context.Context, id, agent, text string) (store.Ticket, store.Message, error) {
	if strings.TrimSpace(text) == "" {
		return store.Ticket{}, store.Message{}, kefu.Errorf(kefu.EInvalid, "message is empty")
	}
	t, err := d.Claim(ctx, id, agent)
	if err != nil {
		return store.Ticket{}, store.Message{}, err
	}
	msg, err := d.convs.AppendMessage(ctx, store.Message{ConversationID: t.ConversationID, Role: kefu.RoleAgent, Content: text})
	if err != nil {
		return store.Ticket{}, store.Message{}, fmt.Errorf("store the agent's reply: %w", err)
	}
	msgs, err := d.convs.Messages(ctx, t.ConversationID, 0)
	if err != nil {
		return t, msg, fmt.Errorf("read the conversation: %w", err)
	}
	t, err = d.tickets.UpdateTicket(ctx, id, func(t *store.Ticket) (*store.OutboxEvent, error) {
		old, err := DecodePacket(*t)
		if err != nil {
			return nil, err
		}
		p := d.repack(t, old.Reasons, msgs)
		return d.event(t, p, ChangeReplied, false)
	})
	if err != nil {
		return t, msg, fmt.Errorf("update ticket: %w", err)
	}
	d.notify()
	return t, msg, nil
}

// Resolve closes a ticket with an outcome: OutcomeResolved (a person
// resolved it) or OutcomeAbandoned. Any agent may close any active ticket;
// an unclaimed one is recorded as the closer's. The assistant answers the
// conversation again from then on. A closed ticket is a kefu.EConflict.
func (d *Desk) Resolve(ctx context.Context, id, agent, outcome string) (store.Ticket, error) {
	var o string
	switch outcome {
	case OutcomeResolved:
		o = store.OutcomeHuman
	case OutcomeAbandoned:
		o = store.OutcomeAbandoned
	default:
		return store.Ticket{}, kefu.Errorf(kefu.EInvalid, "outcome %q is not %q or %q", clip(outcome), OutcomeResolved, OutcomeAbandoned)
	}
	// The packet is current: every message since it was built came with a
	// Sync or a Reply.
	t, err := d.tickets.UpdateTicket(ctx, id, func(t *store.Ticket) (*store.OutboxEvent, error) {
		if t.Status == store.TicketClosed {
			return nil, kefu.Errorf(kefu.EConflict, "ticket %s is already closed", t.ID)
		}
		now := d.now().UTC()
		t.Status, t.Outcome, t.ClosedAt = store.TicketClosed, o, &now
		if t.Assignee == "" {
			t.Assignee = agent
		}
		p, err := DecodePacket(*t)
		if err != nil {
			return nil, err
		}
		return d.event(t, p, ChangeResolved, false)
	})
	if err != nil {
		return store.Ticket{}, err
	}
	d.notify()
	return t, nil
}

// MaxNotes bounds the internal notes of a ticket.
const MaxNotes = 200

// Note adds an agent's internal note to a ticket, open, claimed or closed:
// it is kept in the packet and never reaches the shopper or the assistant.
// An empty note is kefu.EInvalid; a ticket with MaxNotes notes is a
// kefu.EConflict.
func (d *Desk) Note(ctx context.Context, id, agent, text string) (store.Ticket, error) {
	if strings.TrimSpace(text) == "" {
		return store.Ticket{}, kefu.Errorf(kefu.EInvalid, "note is empty")
	}
	if agent == "" {
		return store.Ticket{}, kefu.Errorf(kefu.EInvalid, "an agent name is needed to add a note")
	}
	t, err := d.tickets.UpdateTicket(ctx, id, func(t *store.Ticket) (*store.OutboxEvent, error) {
		p, err := DecodePacket(*t)
		if err != nil {
			return nil, err
		}
		if len(p.Notes) >= MaxNotes {
			return nil, kefu.Errorf(kefu.EConflict, "ticket %s has %d notes, the most it may hold", t.ID, MaxNotes)
		}
		p.Notes = append(p.Notes, Note{Agent: agent, Text: text, At: d.now().UTC()})
		raw, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode the packet: %w", err)
		}
		t.Packet = raw
		return d.event(t, p, ChangeNoted, false)
	})
	if err != nil {
		return store.Ticket{}, err
	}
	d.notify()
	return t, nil
}

// repack rebuilds the ticket's packet and summary from the conversation,
// keeping the agents' notes.
func (d *Desk) repack(t *store.Ticket, reasons []string, msgs []store.Message) Packet {
	p := buildPacket(*t, reasons, msgs)
	if prev, err := DecodePacket(*t); err == nil {
		p.Notes = prev.Notes
	}
	raw, err := json.Marshal(p)
	if err == nil { // a Packet always encodes
		t.Packet = raw
	}
	t.Summary = p.Summary
	return p
}

// event is the webhook event of a change, nil without a webhook. Its body
// carries the ticket with a redacted copy of the packet.
func (d *Desk) event(t *store.Ticket, p Packet, change string, created bool) (*store.OutboxEvent, error) {
	if !d.webhook {
		return nil, nil
	}
	now := d.now().UTC()
	t.UpdatedAt = now
	out := *t
	red := p.Redact()
	out.Summary = red.Summary
	raw, err := json.Marshal(red)
	if err != nil {
		return nil, fmt.Errorf("encode the webhook packet: %w", err)
	}
	out.Packet = raw
	ev := Event{ID: "ev_" + rand.Text(), Type: EventTicketUpdated, Change: change, OccurredAt: now, Ticket: out}
	if created {
		ev.Type = EventTicketCreated
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode the webhook event: %w", err)
	}
	return &store.OutboxEvent{ID: ev.ID, Body: body}, nil
}

func clip(s string) string { return shorten(s, 32) }
