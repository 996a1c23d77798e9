package postgres

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// The audit log is the embedded store's hash chain (store.AuditRecord):
// each record, sealed whole for its sequence number, holds its Seq, the
// Hash of the record before it (Prev) and its own Hash. Appends lock the
// one row of audit_head, which holds the Seq and Hash of the newest record,
// so that appends from every replica chain one after the other; the
// record's columns (its time, a pseudonym of its actor, its action) are
// what Audit filters on.

// AppendAudit adds a record to the audit log, chained to the last one; At
// defaults to now and is kept to the microsecond. It fails with
// kefu.EInvalid when Actor or Action is empty. It is two round trips: the
// head is locked and read, the record written and the head moved on.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) error {
	if r.Actor == "" || r.Action == "" {
		return kefu.Errorf(kefu.EInvalid, "an audit record needs an actor and an action")
	}
	if err := s.appendAuditPiped(ctx, r); err != nil {
		return ticketError("append audit record", err)
	}
	return nil
}

func (s *Store) appendAuditPiped(ctx context.Context, r store.AuditRecord) error {
	p, err := s.pipe(ctx)
	if err != nil {
		return err
	}
	defer p.close()
	var seq int64
	var hash string
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(auditHeadSQL)
	err = p.send(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.QueryRow().Scan(&seq, &hash)
	})
	if err != nil {
		return err
	}
	args, err := s.chainAudit(r, seq, hash)
	if err != nil {
		return err
	}
	b = &pgx.Batch{}
	b.Queue(auditInsertSQL, args...)
	b.Queue("COMMIT")
	return p.send(ctx, b, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("the audit log's head moved under its lock")
		}
		_, err = br.Exec()
		return err
	})
}

// appendAudit chains r to the log inside tx, which holds the log's head
// locked until it ends: what tx records (an erasure) and its audit record
// are written together or not at all. r is taken as AppendAudit takes it.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, r store.AuditRecord) error {
	var seq int64
	var hash string
	if err := tx.QueryRow(ctx, auditHeadSQL).Scan(&seq, &hash); err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	args, err := s.chainAudit(r, seq, hash)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, auditInsertSQL, args...)
	if err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("append audit record: the audit log's head moved under its lock")
	}
	return nil
}

// auditHeadSQL locks and reads the head: in READ COMMITTED, a lock that
// waited for another append returns the head that append left.
const auditHeadSQL = `SELECT seq, hash FROM audit_head FOR UPDATE`

// auditInsertSQL stores the record $1 and makes it the head.
const auditInsertSQL = `
WITH h AS (
    UPDATE audit_head SET seq = $1, hash = $2 WHERE seq = $1 - 1 RETURNING seq
)
INSERT INTO audit_log (seq, at, actor_ref, action, body)
SELECT h.seq, $3, $4, $5, $6 FROM h`

// chainAudit makes r the record after the head (seq, hash) and returns
// the arguments of auditInsertSQL.
func (s *Store) chainAudit(r store.AuditRecord, seq int64, hash string) ([]any, error) {
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	r = store.BoundAuditRecord(r)
	if !validText(r.Action) {
		return nil, kefu.Errorf(kefu.EInvalid, "audit action %q is not valid UTF-8 text", r.Action)
	}
	r.Seq, r.Prev = uint64(seq)+1, hash
	r.Hash = r.ChainHash()
	body, err := s.seal("audit_log", auditID(r.Seq), r)
	if err != nil {
		return nil, err
	}
	return []any{int64(r.Seq), r.Hash, r.At, actorRef(r.Actor), r.Action, body}, nil
}

// auditID is a record's id in its sealed place.
func auditID(seq uint64) string { return strconv.FormatUint(seq, 10) }

// actorRef is the pseudonym of an actor the log is filtered by.
func actorRef(actor string) string { return seal.Fingerprint([]byte(actor)) }

// AuditRecords returns the last limit audit records, oldest first (limit
// <= 0: all of them).
func (s *Store) AuditRecords(ctx context.Context, limit int) ([]store.AuditRecord, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `
SELECT seq, body FROM (SELECT seq, body FROM audit_log ORDER BY seq DESC LIMIT $1) last ORDER BY seq`, lim)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return s.auditRows(rows)
}

func (s *Store) auditRows(rows pgx.Rows) ([]store.AuditRecord, error) {
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		var r store.AuditRecord
		if err := s.open("audit_log", auditID(uint64(seq)), body, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// Audit returns a page of the audit records that q selects, oldest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) (store.AuditPage, error) {
	page := store.AuditPage{Records: []store.AuditRecord{}}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultAuditLimit
	}
	limit = min(limit, store.MaxAuditLimit)
	if q.After >= math.MaxInt64 || !validText(q.Action) {
		return page, nil // no record has such a number or action
	}
	var actor, action *string
	if q.Actor != "" {
		ref := actorRef(q.Actor)
		actor = &ref
	}
	if q.Action != "" {
		action = &q.Action
	}
	rows, err := s.pool.Query(ctx, `
SELECT seq, body FROM audit_log
WHERE seq > $1 AND ($2::text IS NULL OR actor_ref = $2) AND ($3::text IS NULL OR action = $3)
  AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)
ORDER BY seq
LIMIT $6`, int64(q.After), actor, action, microBound(q.Since), microBound(q.Until), limit+1)
	if err != nil {
		return page, fmt.Errorf("read audit log: %w", err)
	}
	recs, err := s.auditRows(rows)
	if err != nil {
		return store.AuditPage{Records: []store.AuditRecord{}}, err
	}
	if len(recs) > limit {
		recs = recs[:limit]
		page.Next = recs[limit-1].Seq
	}
	page.Records = append(page.Records, recs...)
	return page, nil
}

// microBound returns t (nil for the zero time) rounded up to the
// microsecond: records' times are whole microseconds, so a record is at or
// after t exactly when it is at or after the rounded time, and before t
// exactly when it is before it.
func microBound(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	if u.Before(t) {
		u = u.Add(time.Microsecond)
	}
	return &u
}

// VerifyAudit walks the whole audit log, in one snapshot, and reports the
// first broken link as the embedded store does: a record that does not
// open or match its hash (edited), a gap in the numbering or a Prev that
// is not the previous record's Hash (removed or reordered), records
// missing at the end (the head is ahead of the last record). It also
// reports a head that does not match the last record and, when the chain
// holds, a record whose columns (time, actor, action) do not match it,
// which would make Audit select the wrong records.
func (s *Store) VerifyAudit(ctx context.Context) (store.AuditVerification, error) {
	var v store.AuditVerification
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return v, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var (
		headSeq, anchorSeq int64
		headHash, anchor   string
	)
	err = tx.QueryRow(ctx, `SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head`).Scan(&headSeq, &headHash, &anchorSeq, &anchor)
	if err != nil {
		return v, fmt.Errorf("verify audit log: read the head: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT seq, at, actor_ref, action, body FROM audit_log ORDER BY seq`)
	if err != nil {
		return v, fmt.Errorf("verify audit log: %w", err)
	}
	defer rows.Close()
	want, prev := uint64(anchorSeq)+1, anchor
	var columnsBreak *store.AuditBreak
	breakAt := func(seq uint64, format string, args ...any) (store.AuditVerification, error) {
		v.Break = &store.AuditBreak{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return v, nil
	}
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return store.AuditVerification{}, err
		}
		var (
			seq64       int64
			at          time.Time
			ref, action string
			body        []byte
		)
		if err := rows.Scan(&seq64, &at, &ref, &action, &body); err != nil {
			return store.AuditVerification{}, fmt.Errorf("verify audit log: %w", err)
		}
		seq := uint64(seq64)
		var r store.AuditRecord
		if err := s.open("audit_log", auditID(seq), body, &r); err != nil {
			return breakAt(seq, "record %d does not open or decode (edited or moved): %v", seq, err)
		}
		if b := r.ChainBreak(seq, want, prev); b != nil {
			v.Break = b
			return v, nil
		}
		if columnsBreak == nil && (!at.Equal(r.At) || ref != actorRef(r.Actor) || action != r.Action) {
			columnsBreak = &store.AuditBreak{Seq: seq, Reason: fmt.Sprintf("record %d's time, actor or action columns do not match the record (edited)", seq)}
		}
		if v.Records == 0 {
			v.First = seq
		}
		v.Records++
		v.Last, v.Head = seq, r.Hash
		want, prev = seq+1, r.Hash
	}
	if err := rows.Err(); err != nil {
		return store.AuditVerification{}, fmt.Errorf("verify audit log: %w", err)
	}
	switch head := uint64(headSeq); {
	case head >= want:
		return breakAt(want, "records %d to %d are missing at the end (removed)", want, head)
	case head+1 == want && headHash != prev:
		return breakAt(head, "the log's head does not match record %d (edited)", head)
	case head+1 < want:
		return breakAt(want-1, "the log's head (record %d) is behind its last record %d (edited)", head, want-1)
	}
	v.Break = columnsBreak
	return v, nil
}
