package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// bucketProposals holds each conversation's pending after-sales action:
// conversation id -> Proposal JSON, sealed.
var bucketProposals = []byte("proposals")

// Proposal is an after-sales action kefu has described to the shopper
// and asked them to confirm: it runs only when the shopper's next message
// in the same conversation is an explicit yes. A conversation holds at
// most one; a new one replaces it, and taking it (whatever the next
// message says) removes it.
type Proposal struct {
	ID             string            `json:"id"` // the action's id, its idempotency key at the order system
	ConversationID string            `json:"conversation_id"`
	CustomerID     string            `json:"customer_id"`
	Kind           string            `json:"kind"`
	OrderID        string            `json:"order_id"`
	Details        map[string]string `json:"details,omitempty"`
	Summary        string            `json:"summary"` // what the shopper was shown would happen
	Locale         string            `json:"locale,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	// TakenBy is the shopper message that took it (see TakeProposal).
	TakenBy string `json:"taken_by,omitempty"`
}

// Bounds on a proposal.
const (
	maxProposalDetails   = 8
	maxProposalFieldLen  = 2048
	maxProposalSummary   = 8000
	maxProposalOrderID   = 64
	maxProposalKindLen   = 32
	proposalPrefix       = "a_"
	DefaultProposalTTL   = 10 * time.Minute
	maxProposalTTL       = 24 * time.Hour
	proposalClockSkewTTL = time.Second
)

// NewActionID returns a fresh action id ("a_" and 128 random bits).
func NewActionID() string { return newID(proposalPrefix) }

func validProposal(p *Proposal) error {
	switch {
	case p.ConversationID == "" || len(p.ConversationID) > maxIDLen:
		return kefu.Errorf(kefu.EInvalid, "proposal: conversation id is missing or too long")
	case p.CustomerID == "":
		return kefu.Errorf(kefu.EInvalid, "proposal: only a signed-in shopper's action can be proposed")
	case p.Kind == "" || len(p.Kind) > maxProposalKindLen:
		return kefu.Errorf(kefu.EInvalid, "proposal: kind is missing or longer than %d bytes", maxProposalKindLen)
	case p.OrderID == "" || len(p.OrderID) > maxProposalOrderID:
		return kefu.Errorf(kefu.EInvalid, "proposal: order id is missing or longer than %d bytes", maxProposalOrderID)
	case len(p.Summary) > maxProposalSummary || !utf8.ValidString(p.Summary):
		return kefu.Errorf(kefu.EInvalid, "proposal: summary is longer than %d bytes or not UTF-8", maxProposalSummary)
	case len(p.Details) > maxProposalDetails:
		return kefu.Errorf(kefu.EInvalid, "proposal: more than %d details", maxProposalDetails)
	}
	for k, v := range p.Details {
		if k == "" || len(k) > maxProposalKindLen || len(v) > maxProposalFieldLen || !utf8.ValidString(v) || strings.ContainsRune(k, 0) {
			return kefu.Errorf(kefu.EInvalid, "proposal: detail %q is empty, too long or not UTF-8", clipKey(k))
		}
	}
	return nil
}

func clipKey(k string) string {
	if len(k) > maxProposalKindLen {
		return k[:maxProposalKindLen]
	}
	return k
}

// PutProposal stores p as its conversation's pending action, replacing
// any other. ID, CreatedAt and ExpiresAt default to a new action id, now
// and now plus DefaultProposalTTL (a TTL is capped at a day). The
// conversation must exist and belong to p.CustomerID.
func (s *Bolt) PutProposal(ctx context.Context, p Proposal) (Proposal, error) {
	if err := ctx.Err(); err != nil {
		return Proposal{}, err
	}
	p, err := PrepareProposal(p, s.now())
	if err != nil {
		return Proposal{}, err
	}
	err = s.w.update(ctx, func(tx *bolt.Tx) error {
		c, err := s.getConversation(tx, p.ConversationID)
		if err != nil {
			return err
		}
		if c.CustomerID != p.CustomerID {
			return kefu.Errorf(kefu.ENotFound, "conversation not found")
		}
		b, err := tx.CreateBucketIfNotExists(bucketProposals)
		if err != nil {
			return err
		}
		return s.putRecord(b, bucketProposals, []byte(p.ConversationID), &p)
	})
	if err != nil {
		return Proposal{}, fmt.Errorf("store the proposed action: %w", err)
	}
	return p, nil
}

// TakeProposal hands the conversation's pending action to the shopper's
// message messageID, which settles it: the first take for a message gets
// it (and marks it taken by that message), a take again for the same
// message (a retried turn) gets the same proposal, and a take for any
// other message removes it and finds nothing, as does an expired one.
// With an empty messageID the proposal is removed as it is handed out.
// Two messages never both get the same proposal.
func (s *Bolt) TakeProposal(ctx context.Context, conversationID, messageID string) (Proposal, bool, error) {
	if err := ctx.Err(); err != nil {
		return Proposal{}, false, err
	}
	if conversationID == "" || len(conversationID) > maxIDLen || len(messageID) > maxIDLen {
		return Proposal{}, false, nil
	}
	var p Proposal
	var found bool
	err := s.w.update(ctx, func(tx *bolt.Tx) error {
		found = false
		b := tx.Bucket(bucketProposals)
		if b == nil {
			return nil
		}
		key := []byte(conversationID)
		raw := b.Get(key)
		if raw == nil {
			return nil
		}
		p = Proposal{}
		if err := s.getRecord(bucketProposals, key, raw, &p); err != nil {
			return err
		}
		switch DecideTake(p, messageID, s.now()) {
		case TakeRemove:
			return b.Delete(key)
		case TakeHandOut:
			found = true
			return b.Delete(key)
		case TakeAgain:
			found = true
			return nil
		}
		found = true
		p.TakenBy = messageID
		return s.putRecord(b, bucketProposals, key, &p)
	})
	if err != nil {
		return Proposal{}, false, fmt.Errorf("take the proposed action: %w", err)
	}
	if !found {
		return Proposal{}, false, nil
	}
	return p, true, nil
}

// PrepareProposal checks p as every store does before storing it (a
// kefu.EInvalid error says why it is refused) and returns it with its
// defaults set: ID a new action id, CreatedAt now, ExpiresAt CreatedAt
// plus DefaultProposalTTL, and a TTL over a day cut to a day.
func PrepareProposal(p Proposal, now time.Time) (Proposal, error) {
	if err := validProposal(&p); err != nil {
		return Proposal{}, err
	}
	if p.ID == "" {
		p.ID = NewActionID()
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	if p.ExpiresAt.IsZero() {
		p.ExpiresAt = p.CreatedAt.Add(DefaultProposalTTL)
	}
	if p.ExpiresAt.Sub(p.CreatedAt) > maxProposalTTL {
		p.ExpiresAt = p.CreatedAt.Add(maxProposalTTL)
	}
	return p, nil
}

// ProposalTake is what a take (see Bolt.TakeProposal) does to the
// pending proposal it finds.
type ProposalTake int

// What a take does.
const (
	TakeRemove  ProposalTake = iota // remove it and hand out nothing: expired, or taken by another message
	TakeHandOut                     // remove it and hand it out: a take with no message id
	TakeAgain                       // hand it out unchanged: the message that took it retried
	TakeMark                        // mark it taken by the message (TakenBy) and hand it out
)

// DecideTake says what a take of p by the shopper's message messageID
// ("" for none) at now does, as every store decides it.
func DecideTake(p Proposal, messageID string, now time.Time) ProposalTake {
	live := now.Before(p.ExpiresAt.Add(proposalClockSkewTTL))
	switch {
	case !live || (p.TakenBy != "" && p.TakenBy != messageID):
		return TakeRemove
	case messageID == "":
		return TakeHandOut
	case p.TakenBy == messageID:
		return TakeAgain
	}
	return TakeMark
}

// deleteProposal removes a conversation's pending action, if any.
func deleteProposal(tx *bolt.Tx, conversationID string) error {
	if b := tx.Bucket(bucketProposals); b != nil {
		return b.Delete([]byte(conversationID))
	}
	return nil
}
