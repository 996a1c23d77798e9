package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention is how long each class of data is kept; a zero or negative
// window keeps that class for ever.
//   - Chats: a conversation, with its messages and feedback, is removed
//     once its last message is older than Chats, unless it has an open or
//     claimed ticket (an agent is on it).
//   - Feedback: a rating is removed once it is older than Feedback, even
//     when its conversation stays.
//   - Tickets: a closed ticket, with its handoff packet, is removed once
//     it has been closed for Tickets. Open and claimed tickets stay.
//   - Outbox: an event still undelivered after Outbox is dropped.
//   - Audit: audit records older than Audit are removed from the start of
//     the log; the chain then starts from an anchor naming the last one
//     removed, so VerifyAudit still checks every record kept.
type Retention struct {
	Chats    time.Duration
	Tickets  time.Duration
	Audit    time.Duration
	Feedback time.Duration
	Outbox   time.Duration
}

// RetentionReport counts what ApplyRetention removed.
type RetentionReport struct {
	Conversations int `json:"conversations"`
	Messages      int `json:"messages"`
	Feedback      int `json:"feedback"`
	Tickets       int `json:"tickets"`
	OutboxEvents  int `json:"outbox_events"`
	AuditRecords  int `json:"audit_records"`
}

// Total is the number of records removed.
func (r RetentionReport) Total() int {
	return r.Conversations + r.Messages + r.Feedback + r.Tickets + r.OutboxEvents + r.AuditRecords
}

func (r RetentionReport) String() string {
	return fmt.Sprintf("%d conversations, %d messages, %d feedback, %d tickets, %d outbox events, %d audit records",
		r.Conversations, r.Messages, r.Feedback, r.Tickets, r.OutboxEvents, r.AuditRecords)
}

// retentionBatch bounds the records removed in one transaction, so that a
// first run over years of data does not hold the write lock for long.
const retentionBatch = 500

// ApplyRetention removes what has outlived its window at now and, when it
// removed anything, records so in the audit log (actor "kefu", role
// "system", action ActionRetention, the counts). It works in batches, each
// its own transaction: a run stopped half-way has removed part of what it
// would have, and the next run removes the rest.
func (s *Bolt) ApplyRetention(ctx context.Context, r Retention, now time.Time) (RetentionReport, error) {
	return r.Run(ctx, now, RetentionSteps{
		Chats: s.expireChats, Feedback: s.expireFeedback, Tickets: s.expireTickets,
		Outbox: s.expireOutbox, Audit: s.expireAudit,
	}, s.AppendAudit)
}

// RetentionStep removes what a store holds of one kind from before cutoff,
// adding what it removed to rep.
type RetentionStep func(ctx context.Context, cutoff time.Time, rep *RetentionReport) error

// RetentionSteps are a store's removals, one per window of a Retention.
type RetentionSteps struct {
	Chats, Feedback, Tickets, Outbox, Audit RetentionStep
}

// Run runs each step whose window r sets (chats, feedback, tickets, the
// outbox, then the audit log), with the cutoff now less the window, and,
// when they removed anything, appends the audit record of the run (actor
// "kefu", role "system", action ActionRetention, the counts) with
// appendAudit. Every store's ApplyRetention is this, on its own steps.
func (r Retention) Run(ctx context.Context, now time.Time, steps RetentionSteps,
	appendAudit func(context.Context, AuditRecord) error) (RetentionReport, error) {
	var rep RetentionReport
	for _, st := range []struct {
		window time.Duration
		run    RetentionStep
	}{
		{r.Chats, steps.Chats},
		{r.Feedback, steps.Feedback},
		{r.Tickets, steps.Tickets},
		{r.Outbox, steps.Outbox},
		{r.Audit, steps.Audit},
	} {
		if st.window <= 0 {
			continue
		}
		if err := st.run(ctx, now.Add(-st.window).UTC(), &rep); err != nil {
			return rep, fmt.Errorf("apply retention: %w", err)
		}
	}
	if rep.Total() > 0 {
		rec := AuditRecord{At: now, Actor: "kefu", Role: "system", Action: ActionRetention, Detail: "removed " + rep.String()}
		if err := appendAudit(ctx, rec); err != nil {
			return rep, fmt.Errorf("apply retention: %w", err)
		}
	}
	return rep, nil
}

// batches calls find in a read transaction for up to retentionBatch
// candidate keys, then del for them in a write transaction, until find
// returns fewer than a batch. del re-checks each candidate: it may have
// changed in between.
func (s *Bolt) batches(ctx context.Context, find func(tx *bolt.Tx, after []byte) ([][]byte, error), del func(tx *bolt.Tx, keys [][]byte) error) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys [][]byte
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			keys, err = find(tx, after)
			return err
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := s.db.Update(func(tx *bolt.Tx) error { return del(tx, keys) }); err != nil {
			return err
		}
		if len(keys) < retentionBatch {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// scanFrom visits the entries of bucket after key after (from the first
// when nil) until visit has collected a batch.
func scanFrom(tx *bolt.Tx, bucket, after []byte, visit func(k, v []byte) (bool, error)) ([][]byte, error) {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil, nil
	}
	var keys [][]byte
	cur := b.Cursor()
	k, v := cur.First()
	if after != nil {
		k, v = cur.Seek(after)
		if bytes.Equal(k, after) {
			k, v = cur.Next()
		}
	}
	for ; k != nil && len(keys) < retentionBatch; k, v = cur.Next() {
		take, err := visit(k, v)
		if err != nil {
			return nil, err
		}
		if take {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys, nil
}

func (s *Bolt) expireChats(ctx context.Context, cutoff time.Time, rep *RetentionReport) error {
	expired := func(tx *bolt.Tx, k, v []byte) (bool, error) {
		var c Conversation
		if err := s.getRecord(bucketConversations, k, v, &c); err != nil {
			return false, err
		}
		return c.UpdatedAt.Before(cutoff) && bucketGet(tx, bucketActiveTicket, k) == nil, nil
	}
	return s.batches(ctx, func(tx *bolt.Tx, after []byte) ([][]byte, error) {
		return scanFrom(tx, bucketConversations, after, func(k, v []byte) (bool, error) { return expired(tx, k, v) })
	}, func(tx *bolt.Tx, keys [][]byte) error {
		for _, k := range keys {
			v := tx.Bucket(bucketConversations).Get(k)
			if v == nil {
				continue
			}
			if ok, err := expired(tx, k, v); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			n, err := s.deleteConversation(tx, string(k))
			if err != nil {
				return err
			}
			rep.Conversations++
			rep.Messages += n.messages
			rep.Feedback += n.feedback
		}
		return nil
	})
}

func (s *Bolt) expireFeedback(ctx context.Context, cutoff time.Time, rep *RetentionReport) error {
	expired := func(k, v []byte) (bool, error) {
		var r feedbackRecord
		if err := s.getRecord(bucketFeedback, k, v, &r); err != nil {
			return false, err
		}
		return r.CreatedAt.Before(cutoff), nil
	}
	return s.batches(ctx, func(tx *bolt.Tx, after []byte) ([][]byte, error) {
		return scanFrom(tx, bucketFeedback, after, expired)
	}, func(tx *bolt.Tx, keys [][]byte) error {
		b := tx.Bucket(bucketFeedback)
		for _, k := range keys {
			if v := b.Get(k); v != nil {
				if ok, err := expired(k, v); err != nil {
					return err
				} else if ok {
					if err := b.Delete(k); err != nil {
						return err
					}
					rep.Feedback++
				}
			}
		}
		return nil
	})
}

func (s *Bolt) expireTickets(ctx context.Context, cutoff time.Time, rep *RetentionReport) error {
	expired := func(k, v []byte) (Ticket, bool, error) {
		var t Ticket
		if err := s.getRecord(bucketTickets, k, v, &t); err != nil {
			return t, false, err
		}
		closed := t.UpdatedAt
		if t.ClosedAt != nil {
			closed = *t.ClosedAt
		}
		return t, !t.Active() && closed.Before(cutoff), nil
	}
	return s.batches(ctx, func(tx *bolt.Tx, after []byte) ([][]byte, error) {
		return scanFrom(tx, bucketTickets, after, func(k, v []byte) (bool, error) {
			_, ok, err := expired(k, v)
			return ok, err
		})
	}, func(tx *bolt.Tx, keys [][]byte) error {
		for _, k := range keys {
			v := tx.Bucket(bucketTickets).Get(k)
			if v == nil {
				continue
			}
			t, ok, err := expired(k, v)
			if err != nil {
				return err
			}
			if ok {
				if err := deleteTicket(tx, t); err != nil {
					return err
				}
				rep.Tickets++
			}
		}
		return nil
	})
}

func (s *Bolt) expireOutbox(ctx context.Context, cutoff time.Time, rep *RetentionReport) error {
	expired := func(k, v []byte) (OutboxEvent, bool, error) {
		var ev OutboxEvent
		if err := s.getRecord(bucketOutbox, k, v, &ev); err != nil {
			return ev, false, err
		}
		return ev, ev.CreatedAt.Before(cutoff), nil
	}
	return s.batches(ctx, func(tx *bolt.Tx, after []byte) ([][]byte, error) {
		return scanFrom(tx, bucketOutbox, after, func(k, v []byte) (bool, error) {
			_, ok, err := expired(k, v)
			return ok, err
		})
	}, func(tx *bolt.Tx, keys [][]byte) error {
		for _, k := range keys {
			v := tx.Bucket(bucketOutbox).Get(k)
			if v == nil {
				continue
			}
			ev, ok, err := expired(k, v)
			if err != nil {
				return err
			}
			if ok {
				if err := deleteOutbox(tx, k, ev.ID); err != nil {
					return err
				}
				rep.OutboxEvents++
			}
		}
		return nil
	})
}

// expireAudit removes the oldest audit records while they are older than
// cutoff, and moves the anchor to the last one removed. It stops at the
// first record kept, so the log stays one unbroken chain.
func (s *Bolt) expireAudit(ctx context.Context, cutoff time.Time, rep *RetentionReport) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketAudit)
			if b == nil {
				return nil
			}
			var last *AuditRecord
			var keys [][]byte
			cur := b.Cursor()
			for k, v := cur.First(); k != nil && len(keys) < retentionBatch; k, v = cur.Next() {
				var r AuditRecord
				if err := s.getRecord(bucketAudit, k, v, &r); err != nil {
					return err
				}
				if !r.At.Before(cutoff) || len(k) != 8 {
					break
				}
				keys = append(keys, bytes.Clone(k))
				last = &r
			}
			if last == nil {
				return nil
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			meta, err := tx.CreateBucketIfNotExists(bucketAuditMeta)
			if err != nil {
				return err
			}
			n = len(keys)
			return s.putRecord(meta, bucketAuditMeta, keyAuditAnchor, auditAnchor{Seq: binary.BigEndian.Uint64(keys[len(keys)-1]), Hash: last.Hash})
		})
		if err != nil {
			return err
		}
		rep.AuditRecords += n
		if n < retentionBatch {
			return nil
		}
	}
}
