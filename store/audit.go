package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// AuditRecord says who did what to which record, and when: one access by a
// human agent or an admin. It never holds message text.
type AuditRecord struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`            // the API key's name
	Role   string    `json:"role"`             // the API key's role
	Action string    `json:"action"`           // what was done, "ticket.claim"
	Target string    `json:"target,omitempty"` // the record it was done to, a ticket id
}

var bucketAudit = []byte("audit") // 8-byte sequence -> AuditRecord JSON

// maxAuditField bounds each text field of an audit record.
const maxAuditField = 200

// AppendAudit adds a record to the audit log; At defaults to now. It fails
// with kefu.EInvalid when Actor or Action is empty.
func (s *Bolt) AppendAudit(ctx context.Context, r AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Actor == "" || r.Action == "" {
		return kefu.Errorf(kefu.EInvalid, "an audit record needs an actor and an action")
	}
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC()
	r.Actor, r.Role = shorten(r.Actor, maxAuditField), shorten(r.Role, maxAuditField)
	r.Action, r.Target = shorten(r.Action, maxAuditField), shorten(r.Target, maxAuditField)
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), raw)
	})
	if err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	return nil
}

// AuditRecords returns the last limit audit records, oldest first (limit
// <= 0: all of them).
func (s *Bolt) AuditRecords(ctx context.Context, limit int) ([]AuditRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []AuditRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.Last(); k != nil; k, v = cur.Prev() {
			if limit > 0 && len(out) == limit {
				break
			}
			var r AuditRecord
			if err := decode(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
