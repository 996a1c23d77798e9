package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// OutboxEvent is a message waiting to leave the process (a webhook call).
// It is written in the same transaction as the change it reports, so a
// change is never stored without its event nor the other way round, and it
// stays in the outbox until a worker reports it delivered: an event
// survives restarts and is delivered at least once. ID is the caller's,
// unique, and should be in Body so that a receiver can drop a repeat.
type OutboxEvent struct {
	ID            string          `json:"id"`
	Body          json.RawMessage `json:"body"` // a JSON document
	CreatedAt     time.Time       `json:"created_at"`
	Attempts      int             `json:"attempts"` // failed attempts so far
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
	// ConversationID and CustomerID say whose data the event carries, so
	// that erasing a shopper erases their events too. The store sets them
	// from the ticket for an event queued with a ticket change.
	ConversationID string `json:"conversation_id,omitempty"`
	CustomerID     string `json:"customer_id,omitempty"`
}

var (
	bucketOutbox    = []byte("outbox")     // 8-byte sequence -> OutboxEvent JSON
	bucketOutboxIDs = []byte("outbox_ids") // event id -> key in bucketOutbox
)

// maxOutboxError bounds the LastError kept with an event.
const maxOutboxError = 500

// Enqueue adds an event to the outbox, due now. It fails with
// kefu.EInvalid when the id is empty or too long or the body is not JSON,
// and kefu.EConflict when an event with the id is already waiting.
func (s *Bolt) Enqueue(ctx context.Context, ev OutboxEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return s.enqueue(tx, ev, s.now().UTC()) })
	if err != nil {
		return ticketError("enqueue outbox event", err)
	}
	return nil
}

func validOutboxEvent(ev OutboxEvent) error {
	if ev.ID == "" || len(ev.ID) > maxIDLen {
		return kefu.Errorf(kefu.EInvalid, "outbox event id %q is empty or longer than %d bytes", ev.ID, maxIDLen)
	}
	if !json.Valid(ev.Body) {
		return kefu.Errorf(kefu.EInvalid, "outbox event %s: body is not valid JSON", ev.ID)
	}
	return nil
}

func (s *Bolt) enqueue(tx *bolt.Tx, ev OutboxEvent, now time.Time) error {
	if err := validOutboxEvent(ev); err != nil {
		return err
	}
	ev.CreatedAt, ev.NextAttemptAt, ev.Attempts, ev.LastError = now, now, 0, ""
	box, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return err
	}
	ids, err := tx.CreateBucketIfNotExists(bucketOutboxIDs)
	if err != nil {
		return err
	}
	if ids.Get([]byte(ev.ID)) != nil {
		return kefu.Errorf(kefu.EConflict, "outbox event %s is already queued", ev.ID)
	}
	seq, err := box.NextSequence()
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(nil, seq)
	if err := s.putRecord(box, bucketOutbox, key, ev); err != nil {
		return err
	}
	return ids.Put([]byte(ev.ID), key)
}

// DueOutbox returns up to limit events whose next attempt is due at now,
// in the order they were queued (limit <= 0: all of them).
func (s *Bolt) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []OutboxEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			var ev OutboxEvent
			if err := s.getRecord(bucketOutbox, k, v, &ev); err != nil {
				return err
			}
			if ev.NextAttemptAt.After(now) {
				continue
			}
			out = append(out, ev)
			if limit > 0 && len(out) == limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// OutboxDelivered removes a delivered event. An event already removed is
// not an error, so that two deliveries of one event do no harm.
func (s *Bolt) OutboxDelivered(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketOutboxIDs)
		if ids == nil || len(id) > maxIDLen || id == "" {
			return nil
		}
		key := ids.Get([]byte(id))
		if key == nil {
			return nil
		}
		if err := tx.Bucket(bucketOutbox).Delete(key); err != nil {
			return err
		}
		return ids.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("mark outbox event %s delivered: %w", id, err)
	}
	return nil
}

// OutboxFailed records a failed attempt to deliver the event id: it counts
// the attempt, keeps why (shortened) and makes the event due again at next.
// It fails with kefu.ENotFound when the event is not in the outbox.
func (s *Bolt) OutboxFailed(ctx context.Context, id string, next time.Time, why string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var key []byte
		if len(id) <= maxIDLen && id != "" {
			key = bucketGet(tx, bucketOutboxIDs, []byte(id))
		}
		if key == nil {
			return kefu.Errorf(kefu.ENotFound, "outbox event %q not found", id)
		}
		box := tx.Bucket(bucketOutbox)
		var ev OutboxEvent
		if err := s.getRecord(bucketOutbox, key, box.Get(key), &ev); err != nil {
			return err
		}
		ev.Attempts++
		ev.NextAttemptAt = next.UTC()
		ev.LastError = shorten(why, maxOutboxError)
		return s.putRecord(box, bucketOutbox, key, ev)
	})
	if err != nil {
		return ticketError("record outbox failure", err)
	}
	return nil
}

// OutboxLen returns how many events wait in the outbox, due or not.
func (s *Bolt) OutboxLen(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketOutboxIDs); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// shorten cuts s to at most n bytes at a character boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
