package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// AuditRecord says who did what to which record, and when: one access by a
// human agent or an admin, a failed authentication, an erasure or a
// retention run. It never holds message text; Detail holds counts ("2
// conversations, 9 messages"), never what was counted.
//
// The log is a hash chain: the store numbers each record (Seq, from 1),
// stores in Prev the Hash of the record before it ("" for the first record
// ever) and in Hash the SHA-256 of the record's canonical bytes
// (AuditRecord.Canonical), which include Prev. An edited record no longer
// matches its Hash; a removed or reordered one breaks the next record's
// Prev or the numbering. Callers set At (default now), Actor, Role,
// Action, Target and Detail; the store sets Seq, Prev and Hash.
type AuditRecord struct {
	Seq    uint64    `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`            // the API key's name
	Role   string    `json:"role"`             // the API key's role
	Action string    `json:"action"`           // what was done, "ticket.claim"
	Target string    `json:"target,omitempty"` // the record it was done to, a ticket id
	Detail string    `json:"detail,omitempty"` // counts, never contents
	Prev   string    `json:"prev,omitempty"`   // hex SHA-256 of the previous record
	Hash   string    `json:"hash,omitempty"`   // hex SHA-256 of this record's canonical bytes
}

// Canonical returns the bytes a record's Hash is taken over: a JSON object
// with exactly the keys seq, at, actor, role, action, target, detail and
// prev, in that order, at in RFC 3339 with nanoseconds in UTC, strings as
// encoding/json writes them. Any store computes the same bytes.
func (r AuditRecord) Canonical() []byte {
	c := struct {
		Seq    uint64 `json:"seq"`
		At     string `json:"at"`
		Actor  string `json:"actor"`
		Role   string `json:"role"`
		Action string `json:"action"`
		Target string `json:"target"`
		Detail string `json:"detail"`
		Prev   string `json:"prev"`
	}{r.Seq, r.At.UTC().Format(time.RFC3339Nano), r.Actor, r.Role, r.Action, r.Target, r.Detail, r.Prev}
	raw, _ := json.Marshal(c) // strings and a number: never fails
	return raw
}

// ChainHash returns the hex SHA-256 of r's canonical bytes.
func (r AuditRecord) ChainHash() string {
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

// ChainBreak checks r, read from a log's position seq in a walk that
// expects record want, following a record whose Hash is prev: it returns
// the break r makes in the chain, or nil when r follows. Every store
// verifies its log with it, so that one chain is judged the same in all.
func (r AuditRecord) ChainBreak(seq, want uint64, prev string) *AuditBreak {
	at := func(seq uint64, format string, args ...any) *AuditBreak {
		return &AuditBreak{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.Seq != seq:
		return at(seq, "record %d says it is record %d (moved)", seq, r.Seq)
	case seq != want:
		return at(want, "records %d to %d are missing (removed)", want, seq-1)
	case r.Prev != prev:
		return at(seq, "record %d does not follow the record before it (a record was removed, edited or reordered)", seq)
	case r.ChainHash() != r.Hash:
		return at(seq, "record %d does not match its hash (edited)", seq)
	}
	return nil
}

// AuditQuery selects audit records. Empty fields select everything; Since
// and Until bound At (Since inclusive, Until exclusive). After is the Seq
// to continue after (the Next of the previous page). Limit defaults to
// DefaultAuditLimit and is at most MaxAuditLimit.
type AuditQuery struct {
	Actor  string
	Action string
	Since  time.Time
	Until  time.Time
	After  uint64
	Limit  int
}

// AuditPage is one page of audit records, oldest first. Next is the After
// of the next page, 0 when there is no more.
type AuditPage struct {
	Records []AuditRecord `json:"records"`
	Next    uint64        `json:"next,omitempty"`
}

// Limits of an audit query.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditVerification is what VerifyAudit found. Break is nil when every
// link holds; otherwise it names the first broken one.
type AuditVerification struct {
	Records int         `json:"records"`
	First   uint64      `json:"first,omitempty"` // Seq of the oldest record kept
	Last    uint64      `json:"last,omitempty"`  // Seq of the newest
	Head    string      `json:"head,omitempty"`  // Hash of the newest: keep it elsewhere to detect a rewritten log
	Break   *AuditBreak `json:"break,omitempty"`
}

// AuditBreak is the first broken link of the audit chain: the Seq where
// it breaks and why.
type AuditBreak struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

var (
	bucketAudit     = []byte("audit")      // 8-byte sequence -> AuditRecord, sealed
	bucketAuditMeta = []byte("audit_meta") // "anchor" -> auditAnchor, sealed
	keyAuditAnchor  = []byte("anchor")
)

// auditAnchor is the last record removed from the head of the log by
// retention: the first record kept must follow it.
type auditAnchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// maxAuditField bounds each text field of an audit record.
const maxAuditField = 200

// AppendAudit adds a record to the audit log, chained to the last one; At
// defaults to now. It fails with kefu.EInvalid when Actor or Action is
// empty.
func (s *Bolt) AppendAudit(ctx context.Context, r AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Actor == "" || r.Action == "" {
		return kefu.Errorf(kefu.EInvalid, "an audit record needs an actor and an action")
	}
	// Through the committer: records appended at once (a burst of failed
	// logins, agents busy together) share a commit, chained in the order
	// the commit runs them.
	err := s.w.update(ctx, func(tx *bolt.Tx) error { return s.appendAudit(tx, r) })
	if err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	return nil
}

// appendAudit chains r to the log inside tx.
func (s *Bolt) appendAudit(tx *bolt.Tx, r AuditRecord) error {
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC()
	r = BoundAuditRecord(r)
	b, err := tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return err
	}
	prev, err := s.auditHead(tx)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.Seq, r.Prev = seq, prev
	r.Hash = r.ChainHash()
	return s.putRecord(b, bucketAudit, auditKey(seq), r)
}

// auditHead returns the Hash of the newest record, or of the anchor when
// retention removed every record, or "".
func (s *Bolt) auditHead(tx *bolt.Tx) (string, error) {
	if b := tx.Bucket(bucketAudit); b != nil {
		if k, v := b.Cursor().Last(); k != nil {
			var last AuditRecord
			if err := s.getRecord(bucketAudit, k, v, &last); err != nil {
				return "", err
			}
			return last.Hash, nil
		}
	}
	a, err := s.auditAnchor(tx)
	return a.Hash, err
}

func (s *Bolt) auditAnchor(tx *bolt.Tx) (auditAnchor, error) {
	var a auditAnchor
	raw := bucketGet(tx, bucketAuditMeta, keyAuditAnchor)
	if raw == nil {
		return a, nil
	}
	return a, s.getRecord(bucketAuditMeta, keyAuditAnchor, raw, &a)
}

func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

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
			if err := s.getRecord(bucketAudit, k, v, &r); err != nil {
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

// Audit returns a page of the audit records that q selects, oldest first.
// The embedded store scans the log from q.After on.
func (s *Bolt) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	page := AuditPage{Records: []AuditRecord{}}
	if err := ctx.Err(); err != nil {
		return page, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.Seek(auditKey(q.After + 1)); k != nil; k, v = cur.Next() {
			var r AuditRecord
			if err := s.getRecord(bucketAudit, k, v, &r); err != nil {
				return err
			}
			if !q.matches(r) {
				continue
			}
			if len(page.Records) == limit {
				page.Next = page.Records[len(page.Records)-1].Seq
				return nil
			}
			page.Records = append(page.Records, r)
		}
		return nil
	})
	if err != nil {
		return AuditPage{Records: []AuditRecord{}}, fmt.Errorf("read audit log: %w", err)
	}
	return page, nil
}

func (q AuditQuery) matches(r AuditRecord) bool {
	return (q.Actor == "" || r.Actor == q.Actor) && (q.Action == "" || r.Action == q.Action) &&
		(q.Since.IsZero() || !r.At.Before(q.Since)) && (q.Until.IsZero() || r.At.Before(q.Until))
}

// VerifyAudit walks the whole audit log and reports the first broken link:
// a record that does not open or match its hash (edited), a gap in the
// numbering or a Prev that is not the previous record's Hash (removed or
// reordered), records missing at the end (the log's counter is ahead of
// its last record). A log rewritten whole by someone holding the
// encryption key verifies; compare Head with a copy kept elsewhere.
func (s *Bolt) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	var v AuditVerification
	if err := ctx.Err(); err != nil {
		return v, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		anchor, err := s.auditAnchor(tx)
		if err != nil {
			v.Break = &AuditBreak{Seq: 0, Reason: "the retention anchor does not open: " + err.Error()}
			return nil
		}
		want, prev := anchor.Seq+1, anchor.Hash
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		breakAt := func(seq uint64, format string, args ...any) error {
			v.Break = &AuditBreak{Seq: seq, Reason: fmt.Sprintf(format, args...)}
			return nil
		}
		cur := b.Cursor()
		for k, raw := cur.First(); k != nil; k, raw = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) != 8 {
				return breakAt(want, "a record has a key of %d bytes, not a sequence number", len(k))
			}
			seq := binary.BigEndian.Uint64(k)
			var r AuditRecord
			if err := s.getRecord(bucketAudit, k, raw, &r); err != nil {
				return breakAt(seq, "record %d does not open or decode (edited or moved): %v", seq, err)
			}
			if b := r.ChainBreak(seq, want, prev); b != nil {
				v.Break = b
				return nil
			}
			if v.Records == 0 {
				v.First = seq
			}
			v.Records++
			v.Last, v.Head = seq, r.Hash
			want, prev = seq+1, r.Hash
		}
		if counter := b.Sequence(); counter >= want {
			return breakAt(want, "records %d to %d are missing at the end (removed)", want, counter)
		}
		return nil
	})
	if err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit log: %w", err)
	}
	return v, nil
}

// chainLegacyAudit gives the records of an audit log written before the
// chain (records without a Hash) their Seq, Prev and Hash, once, when the
// store opens. The chain vouches for them from then on, not before.
func (s *Bolt) chainLegacyAudit(tx *bolt.Tx) error {
	b := tx.Bucket(bucketAudit)
	if b == nil {
		return nil
	}
	k, v := b.Cursor().Last()
	if k == nil {
		return nil
	}
	var last AuditRecord
	if err := s.getRecord(bucketAudit, k, v, &last); err != nil || last.Hash != "" {
		return err
	}
	type kv struct {
		k []byte
		r AuditRecord
	}
	var recs []kv
	err := b.ForEach(func(k, v []byte) error {
		var r AuditRecord
		if err := s.getRecord(bucketAudit, k, v, &r); err != nil {
			return err
		}
		recs = append(recs, kv{bytes.Clone(k), r})
		return nil
	})
	if err != nil {
		return err
	}
	prev := ""
	for _, e := range recs {
		if err := b.Delete(e.k); err != nil {
			return err
		}
	}
	for i, e := range recs {
		r := e.r
		r.Seq, r.Prev = uint64(i+1), prev
		r.Hash = r.ChainHash()
		if err := s.putRecord(b, bucketAudit, auditKey(r.Seq), r); err != nil {
			return err
		}
		prev = r.Hash
	}
	return b.SetSequence(uint64(len(recs)))
}
