package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// Feedback: one row per rated answer, keyed by the answer's message id
// and sealed for it; rating, created_at and seq (the order ratings were
// given in) are columns, so counts never open a body.

func init() { registerSealedKey("feedback", "message_id") }

// PutFeedback stores f, replacing any earlier feedback on the same message,
// and returns it with CreatedAt set. It fails with kefu.ENotFound when the
// conversation does not exist or the message is not one of its messages,
// and with kefu.EInvalid when the message is not an assistant answer, the
// rating is not store.RatingUp or store.RatingDown, or the comment is not
// UTF-8 or longer than store.MaxFeedbackComment characters. The checks and
// the write are one statement.
func (s *Store) PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error) {
	if err := ctx.Err(); err != nil {
		return store.Feedback{}, err
	}
	if err := store.CheckFeedback(f); err != nil {
		return store.Feedback{}, err
	}
	if !validID(f.ConversationID) {
		return store.Feedback{}, kefu.Errorf(kefu.ENotFound, "conversation %q not found", f.ConversationID)
	}
	msgID := f.MessageID
	if !validID(msgID) {
		msgID = "" // no message has it: the statement finds none
	}
	f.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	body, err := s.seal("feedback", f.MessageID, f)
	if err != nil {
		return store.Feedback{}, fmt.Errorf("put feedback: %w", err)
	}
	var (
		conv   bool
		role   *string
		stored bool
	)
	err = s.pool.QueryRow(ctx, `
WITH m AS (
    SELECT id, role FROM messages WHERE id = $2 AND conversation_id = $1
), f AS (
    INSERT INTO feedback (message_id, conversation_id, rating, created_at, body)
    SELECT m.id, $1, $3, $4, $5 FROM m WHERE m.role = $6
    ON CONFLICT (message_id) DO UPDATE
    SET seq = nextval('feedback_seq'), rating = EXCLUDED.rating, created_at = EXCLUDED.created_at, body = EXCLUDED.body
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1), (SELECT role FROM m), EXISTS (SELECT 1 FROM f)`,
		f.ConversationID, msgID, f.Rating, f.CreatedAt, body, kefu.RoleAssistant).Scan(&conv, &role, &stored)
	switch {
	case err != nil:
		return store.Feedback{}, fmt.Errorf("put feedback: %w", err)
	case !conv:
		return store.Feedback{}, kefu.Errorf(kefu.ENotFound, "conversation %q not found", f.ConversationID)
	case role == nil:
		return store.Feedback{}, kefu.Errorf(kefu.ENotFound, "message %q not found in conversation %q", f.MessageID, f.ConversationID)
	case !stored:
		return store.Feedback{}, kefu.Errorf(kefu.EInvalid, "message %q is not an assistant answer; only answers take feedback", f.MessageID)
	}
	return f, nil
}

// feedback opens a feedback row; its time is the column's.
func (s *Store) feedback(messageID string, at time.Time, body []byte) (store.Feedback, error) {
	var f store.Feedback
	if err := s.open("feedback", messageID, body, &f); err != nil {
		return store.Feedback{}, err
	}
	f.CreatedAt = at.UTC()
	return f, nil
}

// ConversationFeedback returns the feedback on a conversation's answers,
// in the order it was given. It fails with kefu.ENotFound when the
// conversation does not exist.
func (s *Store) ConversationFeedback(ctx context.Context, conversationID string) ([]store.Feedback, error) {
	if !validID(conversationID) {
		return nil, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	rows, err := s.pool.Query(ctx, `
SELECT f.message_id, f.created_at, f.body
FROM conversations c LEFT JOIN feedback f ON f.conversation_id = c.id
WHERE c.id = $1
ORDER BY f.seq`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("read feedback: %w", err)
	}
	defer rows.Close()
	out := []store.Feedback{}
	seen := false
	for rows.Next() {
		seen = true
		var id *string
		var at *time.Time
		var body []byte
		if err := rows.Scan(&id, &at, &body); err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
		if id == nil {
			continue // no feedback yet
		}
		f, err := s.feedback(*id, *at, body)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read feedback: %w", err)
	}
	if !seen {
		return nil, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	return out, nil
}

// exchangeColumns and exchangeJoins read, for an answer a, the shopper's
// question q (the last user message among the store.QuestionLookBack
// before it, $2 and $3 of the query) and the answer's feedback f.
const (
	exchangeColumns = `a.id, a.created_at, a.body, q.id, q.created_at, q.body, f.created_at, f.body`
	exchangeJoins   = `
LEFT JOIN LATERAL (
    SELECT p.seq FROM (
        SELECT seq, role FROM messages WHERE conversation_id = a.conversation_id AND seq < a.seq ORDER BY seq DESC LIMIT $2
    ) p WHERE p.role = $3 ORDER BY p.seq DESC LIMIT 1
) qs ON true
LEFT JOIN messages q ON q.conversation_id = a.conversation_id AND q.seq = qs.seq
LEFT JOIN feedback f ON f.message_id = a.id`
)

// exchanges reads rows of exchangeColumns.
func (s *Store) exchanges(rows pgx.Rows) ([]store.Exchange, error) {
	defer rows.Close()
	var out []store.Exchange
	for rows.Next() {
		var (
			aID, qID    *string
			aAt, qAt    *time.Time
			fAt         *time.Time
			aBody, qBdy []byte
			fBody       []byte
		)
		if err := rows.Scan(&aID, &aAt, &aBody, &qID, &qAt, &qBdy, &fAt, &fBody); err != nil {
			return nil, err
		}
		var ex store.Exchange
		var err error
		if ex.Answer, err = s.message(*aID, aBody, *aAt); err != nil {
			return nil, err
		}
		if qID != nil {
			if ex.Question, err = s.message(*qID, qBdy, *qAt); err != nil {
				return nil, err
			}
		}
		if fAt != nil {
			f, err := s.feedback(*aID, *fAt, fBody)
			if err != nil {
				return nil, err
			}
			ex.Feedback = &f
		}
		out = append(out, ex)
	}
	return out, rows.Err()
}

// snapshot runs fn in a read-only transaction that sees one snapshot of
// the database, as the embedded store's reads do.
func (s *Store) snapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// FeedbackStats counts every rating and returns the latest recent "down"
// ratings (all of them when recent <= 0) with their exchanges, newest
// first. The counts read the rating column only.
func (s *Store) FeedbackStats(ctx context.Context, recent int) (store.FeedbackStats, error) {
	var st store.FeedbackStats
	var lim *int
	if recent > 0 {
		lim = &recent
	}
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE rating = $1), count(*) FILTER (WHERE rating = $2) FROM feedback`,
			store.RatingUp, store.RatingDown).Scan(&st.Up, &st.Down)
		if err != nil || st.Down == 0 {
			return err
		}
		rows, err := tx.Query(ctx, `
SELECT `+exchangeColumns+`
FROM feedback d
JOIN messages a ON a.id = d.message_id`+exchangeJoins+`
WHERE d.rating = $4
ORDER BY d.seq DESC
LIMIT $1`, lim, store.QuestionLookBack, kefu.RoleUser, store.RatingDown)
		if err != nil {
			return err
		}
		st.RecentDown, err = s.exchanges(rows)
		return err
	})
	if err != nil {
		return store.FeedbackStats{}, fmt.Errorf("feedback stats: %w", err)
	}
	return st, nil
}

// AnswersByReason returns the latest limit assistant answers (all of them
// when limit <= 0) stored with the reason code reason, newest first, each
// with the question it answered and its feedback. It fails with
// kefu.EInvalid for an empty reason. It reads the messages' reason index,
// opening only the bodies it returns.
func (s *Store) AnswersByReason(ctx context.Context, reason string, limit int) ([]store.Exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "a reason code is required")
	}
	if !validText(reason) {
		return []store.Exchange{}, nil // PostgreSQL's text holds no NUL: no message has this reason
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `
SELECT `+exchangeColumns+`
FROM messages a`+exchangeJoins+`
WHERE a.reason = $4 AND a.reason <> '' AND a.role = $5
ORDER BY a.created_at DESC, a.conversation_id DESC, a.seq DESC
LIMIT $1`, lim, store.QuestionLookBack, kefu.RoleUser, reason, kefu.RoleAssistant)
	if err != nil {
		return nil, fmt.Errorf("answers by reason: %w", err)
	}
	out, err := s.exchanges(rows)
	if err != nil {
		return nil, fmt.Errorf("answers by reason: %w", err)
	}
	if out == nil {
		out = []store.Exchange{}
	}
	return out, nil
}
