package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

// maxCustomerIDLen bounds the customer ids erased or exported.
const maxCustomerIDLen = 256

// Audit actions the store records itself, in the same transaction as what
// they record.
const (
	ActionCustomerErase = "customer.erase"
	ActionRetention     = "retention.run"
)

// Erasure counts what EraseCustomer removed.
type Erasure struct {
	Conversations int `json:"conversations"`
	Messages      int `json:"messages"`
	Tickets       int `json:"tickets"`
	Feedback      int `json:"feedback"`
	OutboxEvents  int `json:"outbox_events"`
}

func (e Erasure) String() string {
	return fmt.Sprintf("%d conversations, %d messages, %d tickets, %d feedback, %d outbox events",
		e.Conversations, e.Messages, e.Tickets, e.Feedback, e.OutboxEvents)
}

// CustomerRef names a shopper in the audit log without keeping their id:
// "customer:" and the SHA-256 of the id cut to 16 bytes. Whoever knows
// the id can find its entries; the log alone does not tell whose they are.
// Customer ids are often guessable, so this is a pseudonym, not anonymity.
func CustomerRef(customerID string) string {
	return "customer:" + seal.Fingerprint([]byte(customerID))
}

func checkCustomerID(id string) error {
	if id == "" {
		return kefu.Errorf(kefu.EInvalid, "a customer id is required (anonymous conversations are removed by retention only)")
	}
	if len(id) > maxCustomerIDLen {
		return kefu.Errorf(kefu.EInvalid, "customer id is %d bytes; the limit is %d", len(id), maxCustomerIDLen)
	}
	return nil
}

// EraseCustomer removes everything the store holds about a shopper: their
// conversations with every message and feedback, the tickets of those
// conversations (open ones too) and the outbox events about them. The
// audit log keeps that it happened: a record with by's Actor and Role,
// action ActionCustomerErase, the shopper as CustomerRef and the counts,
// written in the same transaction. A shopper with nothing stored is no
// error (the erasure is recorded with zero counts). It fails with
// kefu.EInvalid for an empty or too long id.
func (s *Bolt) EraseCustomer(ctx context.Context, customerID string, by AuditRecord) (Erasure, error) {
	var e Erasure
	if err := ctx.Err(); err != nil {
		return e, err
	}
	if err := checkCustomerID(customerID); err != nil {
		return e, err
	}
	if by.Actor == "" {
		return e, kefu.Errorf(kefu.EInvalid, "an erasure needs an actor for the audit log")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		e = Erasure{}
		held, err := s.customerHoldings(tx, customerID)
		if err != nil {
			return err
		}
		for _, c := range held.convs {
			n, err := s.deleteConversation(tx, c.ID)
			if err != nil {
				return err
			}
			e.Conversations++
			e.Messages += n.messages
			e.Feedback += n.feedback
		}
		for _, t := range held.tickets {
			if err := deleteTicket(tx, t); err != nil {
				return err
			}
			e.Tickets++
		}
		for _, ev := range held.events {
			if err := deleteOutbox(tx, ev.key, ev.ev.ID); err != nil {
				return err
			}
			e.OutboxEvents++
		}
		rec := AuditRecord{At: by.At, Actor: by.Actor, Role: by.Role, Action: ActionCustomerErase,
			Target: CustomerRef(customerID), Detail: "erased " + e.String()}
		return s.appendAudit(tx, rec)
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase customer: %w", err)
	}
	return e, nil
}

// holdings is what the store holds about one shopper.
type holdings struct {
	convs   []Conversation
	tickets []Ticket
	events  []keyedEvent
}

type keyedEvent struct {
	key []byte
	ev  OutboxEvent
}

// customerHoldings finds a shopper's conversations, the tickets of those
// conversations (or carrying the shopper's id) and the outbox events about
// them: an event carries its conversation and customer, and one queued
// before events did is matched by a ticket or conversation id in its body.
// The embedded store scans each bucket.
func (s *Bolt) customerHoldings(tx *bolt.Tx, customerID string) (holdings, error) {
	var h holdings
	convIDs := map[string]bool{}
	err := tx.Bucket(bucketConversations).ForEach(func(k, v []byte) error {
		var c Conversation
		if err := s.getRecord(bucketConversations, k, v, &c); err != nil {
			return err
		}
		if c.CustomerID == customerID {
			h.convs = append(h.convs, c)
			convIDs[c.ID] = true
		}
		return nil
	})
	if err != nil {
		return h, err
	}
	var ids [][]byte // conversation and ticket ids, to match old events' bodies
	for id := range convIDs {
		ids = append(ids, []byte(`"`+id+`"`))
	}
	if b := tx.Bucket(bucketTickets); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			var t Ticket
			if err := s.getRecord(bucketTickets, k, v, &t); err != nil {
				return err
			}
			if t.CustomerID == customerID || convIDs[t.ConversationID] {
				h.tickets = append(h.tickets, t)
				ids = append(ids, []byte(`"`+t.ID+`"`))
			}
			return nil
		})
		if err != nil {
			return h, err
		}
	}
	if b := tx.Bucket(bucketOutbox); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			var ev OutboxEvent
			if err := s.getRecord(bucketOutbox, k, v, &ev); err != nil {
				return err
			}
			mine := ev.CustomerID == customerID || convIDs[ev.ConversationID]
			if !mine && ev.ConversationID == "" && ev.CustomerID == "" {
				mine = slices.ContainsFunc(ids, func(id []byte) bool { return bytes.Contains(ev.Body, id) })
			}
			if mine {
				h.events = append(h.events, keyedEvent{bytes.Clone(k), ev})
			}
			return nil
		})
		if err != nil {
			return h, err
		}
	}
	slices.SortFunc(h.convs, func(a, b Conversation) int { return a.CreatedAt.Compare(b.CreatedAt) })
	slices.SortFunc(h.tickets, func(a, b Ticket) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return h, nil
}

type removed struct{ messages, feedback int }

// deleteConversation removes a conversation, its messages and their ids,
// its feedback and its active-ticket entry (not its tickets).
func (s *Bolt) deleteConversation(tx *bolt.Tx, id string) (removed, error) {
	var n removed
	prefix := append([]byte(id), 0)
	msgs := tx.Bucket(bucketMessages)
	conv, err := s.getConversation(tx, id)
	if err != nil && kefu.ErrorCode(err) != kefu.ENotFound {
		return n, err
	}
	var keys, clientKeys [][]byte
	var msgIDs []string
	cur := msgs.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var m Message
		if err := s.getRecord(bucketMessages, k, v, &m); err != nil {
			return n, err
		}
		keys = append(keys, bytes.Clone(k))
		msgIDs = append(msgIDs, m.ID)
		if m.ClientMessageID != "" {
			clientKeys = append(clientKeys, clientKey(conv.CustomerID, m.ClientMessageID))
		}
	}
	for _, k := range clientKeys {
		if err := tx.Bucket(bucketClientIDs).Delete(k); err != nil {
			return n, err
		}
	}
	for _, k := range keys {
		if err := msgs.Delete(k); err != nil {
			return n, err
		}
	}
	ids := tx.Bucket(bucketMessageIDs)
	for _, mid := range msgIDs {
		if err := ids.Delete([]byte(mid)); err != nil {
			return n, err
		}
	}
	n.messages = len(keys)
	if fb := tx.Bucket(bucketFeedback); fb != nil {
		var fkeys [][]byte
		c := fb.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			fkeys = append(fkeys, bytes.Clone(k))
		}
		for _, k := range fkeys {
			if err := fb.Delete(k); err != nil {
				return n, err
			}
		}
		n.feedback = len(fkeys)
	}
	if b := tx.Bucket(bucketActiveTicket); b != nil {
		if err := b.Delete([]byte(id)); err != nil {
			return n, err
		}
	}
	if err := deleteProposal(tx, id); err != nil {
		return n, err
	}
	return n, tx.Bucket(bucketConversations).Delete([]byte(id))
}

// deleteTicket removes a ticket and, when it is its conversation's active
// one, that entry.
func deleteTicket(tx *bolt.Tx, t Ticket) error {
	if b := tx.Bucket(bucketActiveTicket); b != nil && string(b.Get([]byte(t.ConversationID))) == t.ID {
		if err := b.Delete([]byte(t.ConversationID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketTickets).Delete([]byte(t.ID))
}

func deleteOutbox(tx *bolt.Tx, key []byte, id string) error {
	if err := tx.Bucket(bucketOutbox).Delete(key); err != nil {
		return err
	}
	if b := tx.Bucket(bucketOutboxIDs); b != nil && id != "" && len(id) <= maxIDLen {
		return b.Delete([]byte(id))
	}
	return nil
}

// CustomerExport is everything the store holds about one shopper, as
// ExportCustomer returns it.
type CustomerExport struct {
	CustomerID    string               `json:"customer_id"`
	ExportedAt    time.Time            `json:"exported_at"`
	Conversations []ConversationExport `json:"conversations"`
	Tickets       []Ticket             `json:"tickets"`       // with their handoff packets
	OutboxEvents  []OutboxEvent        `json:"outbox_events"` // notifications not yet delivered
}

// ConversationExport is one conversation with every message, oldest
// first, and every feedback on its answers.
type ConversationExport struct {
	Conversation
	Messages []Message  `json:"messages"`
	Feedback []Feedback `json:"feedback"`
	// PendingAction is the after-sales action awaiting the shopper's yes,
	// if any.
	PendingAction *Proposal `json:"pending_action,omitempty"`
}

// ExportCustomer returns everything the store holds about a shopper, from
// one consistent read: their conversations (oldest first) with every
// message and feedback, the tickets of those conversations with their
// packets, and the outbox events about them. It fails with kefu.EInvalid
// for an empty or too long id; a shopper with nothing stored gets empty
// lists.
func (s *Bolt) ExportCustomer(ctx context.Context, customerID string) (CustomerExport, error) {
	out := CustomerExport{CustomerID: customerID, Conversations: []ConversationExport{}, Tickets: []Ticket{}, OutboxEvents: []OutboxEvent{}}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if err := checkCustomerID(customerID); err != nil {
		return out, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		held, err := s.customerHoldings(tx, customerID)
		if err != nil {
			return err
		}
		for _, c := range held.convs {
			ce := ConversationExport{Conversation: c, Messages: []Message{}, Feedback: []Feedback{}}
			prefix := append([]byte(c.ID), 0)
			cur := tx.Bucket(bucketMessages).Cursor()
			for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
				var m Message
				if err := s.getRecord(bucketMessages, k, v, &m); err != nil {
					return err
				}
				ce.Messages = append(ce.Messages, m)
			}
			if fb := tx.Bucket(bucketFeedback); fb != nil {
				var recs []feedbackRecord
				cur := fb.Cursor()
				for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
					var r feedbackRecord
					if err := s.getRecord(bucketFeedback, k, v, &r); err != nil {
						return err
					}
					recs = append(recs, r)
				}
				slices.SortFunc(recs, func(a, b feedbackRecord) int { return cmp.Compare(a.Seq, b.Seq) })
				for _, r := range recs {
					ce.Feedback = append(ce.Feedback, r.Feedback)
				}
			}
			if pb := tx.Bucket(bucketProposals); pb != nil {
				if raw := pb.Get([]byte(c.ID)); raw != nil {
					var p Proposal
					if err := s.getRecord(bucketProposals, []byte(c.ID), raw, &p); err != nil {
						return err
					}
					ce.PendingAction = &p
				}
			}
			out.Conversations = append(out.Conversations, ce)
		}
		out.Tickets = append(out.Tickets, held.tickets...)
		for _, ev := range held.events {
			out.OutboxEvents = append(out.OutboxEvents, ev.ev)
		}
		return nil
	})
	if err != nil {
		return CustomerExport{}, fmt.Errorf("export customer: %w", err)
	}
	out.ExportedAt = s.now().UTC()
	return out, nil
}
