package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// Feedback ratings.
const (
	RatingUp   = "up"
	RatingDown = "down"
)

// MaxFeedbackComment is the longest feedback comment, in characters.
const MaxFeedbackComment = 1000

// Feedback is a shopper's rating of one assistant answer, with an optional
// comment. A message has at most one: a new rating replaces the old one,
// and CreatedAt is the time of the latest.
type Feedback struct {
	ConversationID string    `json:"conversation_id"`
	MessageID      string    `json:"message_id"`
	Rating         string    `json:"rating"` // RatingUp or RatingDown
	Comment        string    `json:"comment,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Exchange is an assistant answer together with the shopper's message it
// answered (the last user message before it in the conversation; zero
// when there is none) and the answer's feedback, if any.
type Exchange struct {
	Question Message
	Answer   Message
	Feedback *Feedback
}

// FeedbackStats counts the ratings given. RecentDown holds the latest
// "down" ratings with the exchanges they rate, newest first.
type FeedbackStats struct {
	Up         int
	Down       int
	RecentDown []Exchange
}

// feedbackRecord is Feedback as stored: Seq orders ratings by when they
// were given, which wall-clock times cannot do reliably.
type feedbackRecord struct {
	Feedback
	Seq uint64 `json:"seq"`
}

// bucketFeedback maps conversation id, 0x00, message id -> feedbackRecord
// JSON, so that a conversation's feedback is one prefix scan.
var bucketFeedback = []byte("feedback")

// maxLookBack bounds how far back Exchange lookups search for the
// shopper's question.
const maxLookBack = 50

// PutFeedback stores f, replacing any earlier feedback on the same message,
// and returns it with CreatedAt set. It fails with kefu.ENotFound when the
// conversation does not exist or the message is not one of its messages,
// and with kefu.EInvalid when the message is not an assistant answer, the
// rating is not RatingUp or RatingDown, or the comment is not UTF-8 or
// longer than MaxFeedbackComment characters.
func (s *Bolt) PutFeedback(ctx context.Context, f Feedback) (Feedback, error) {
	if err := ctx.Err(); err != nil {
		return Feedback{}, err
	}
	if err := validFeedback(f); err != nil {
		return Feedback{}, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := s.getConversation(tx, f.ConversationID); err != nil {
			return err
		}
		_, m, err := s.conversationMessage(tx, f.ConversationID, f.MessageID)
		if err != nil {
			return err
		}
		if m.Role != kefu.RoleAssistant {
			return kefu.Errorf(kefu.EInvalid, "message %q is not an assistant answer; only answers take feedback", f.MessageID)
		}
		b, err := tx.CreateBucketIfNotExists(bucketFeedback)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		f.CreatedAt = s.now().UTC()
		return s.putRecord(b, bucketFeedback, feedbackKey(f.ConversationID, f.MessageID), feedbackRecord{Feedback: f, Seq: seq})
	})
	if err != nil {
		if code := kefu.ErrorCode(err); code == kefu.ENotFound || code == kefu.EInvalid {
			return Feedback{}, err
		}
		return Feedback{}, fmt.Errorf("put feedback: %w", err)
	}
	return f, nil
}

func validFeedback(f Feedback) error {
	switch f.Rating {
	case RatingUp, RatingDown:
	default:
		return kefu.Errorf(kefu.EInvalid, "feedback rating %q is not one of up, down", f.Rating)
	}
	if !utf8.ValidString(f.Comment) {
		return kefu.Errorf(kefu.EInvalid, "feedback comment is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(f.Comment); n > MaxFeedbackComment {
		return kefu.Errorf(kefu.EInvalid, "feedback comment is %d characters; the limit is %d", n, MaxFeedbackComment)
	}
	return nil
}

// ConversationFeedback returns the feedback on a conversation's answers,
// in the order it was given. It fails with kefu.ENotFound when the
// conversation does not exist.
func (s *Bolt) ConversationFeedback(ctx context.Context, conversationID string) ([]Feedback, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var recs []feedbackRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := s.getConversation(tx, conversationID); err != nil {
			return err
		}
		b := tx.Bucket(bucketFeedback)
		if b == nil {
			return nil
		}
		prefix := append([]byte(conversationID), 0)
		cur := b.Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var r feedbackRecord
			if err := s.getRecord(bucketFeedback, k, v, &r); err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b feedbackRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]Feedback, len(recs))
	for i, r := range recs {
		out[i] = r.Feedback
	}
	return out, nil
}

// FeedbackStats counts every rating and returns the latest recent "down"
// ratings (all of them when recent <= 0) with their exchanges. The
// embedded store scans every rating, which is fine for one shop's.
func (s *Bolt) FeedbackStats(ctx context.Context, recent int) (FeedbackStats, error) {
	var st FeedbackStats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeedback)
		if b == nil {
			return nil
		}
		var downs []feedbackRecord
		err := b.ForEach(func(k, v []byte) error {
			var r feedbackRecord
			if err := s.getRecord(bucketFeedback, k, v, &r); err != nil {
				return err
			}
			switch r.Rating {
			case RatingUp:
				st.Up++
			case RatingDown:
				st.Down++
				downs = append(downs, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(downs, func(a, b feedbackRecord) int { return cmp.Compare(b.Seq, a.Seq) })
		if recent > 0 && len(downs) > recent {
			downs = downs[:recent]
		}
		for _, r := range downs {
			key, answer, err := s.conversationMessage(tx, r.ConversationID, r.MessageID)
			if err != nil {
				return err
			}
			q, err := s.questionBefore(tx, r.ConversationID, key)
			if err != nil {
				return err
			}
			fb := r.Feedback
			st.RecentDown = append(st.RecentDown, Exchange{Question: q, Answer: answer, Feedback: &fb})
		}
		return nil
	})
	if err != nil {
		return FeedbackStats{}, fmt.Errorf("feedback stats: %w", err)
	}
	return st, nil
}

// AnswersByReason returns the latest limit assistant answers (all of them
// when limit <= 0) stored with the reason code reason, newest first, each
// with the question it answered and its feedback. AnswersByReason(ctx,
// "no_knowledge", 20) lists the latest questions the shop's knowledge could
// not answer. It fails with kefu.EInvalid for an empty reason. The embedded
// store scans every message.
func (s *Bolt) AnswersByReason(ctx context.Context, reason string, limit int) ([]Exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "a reason code is required")
	}
	quoted, err := json.Marshal(reason)
	if err != nil {
		return nil, fmt.Errorf("answers by reason: %w", err)
	}
	// Quotes inside a message's text are escaped in its JSON, so only the
	// reason field itself holds this byte string; it spares decoding the
	// other messages (each is still opened: records are sealed).
	needle := append([]byte(`"reason":`), quoted...)
	out := []Exchange{}
	err = s.db.View(func(tx *bolt.Tx) error {
		type hit struct {
			key []byte
			seq uint64
			m   Message
		}
		var hits []hit
		err := tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			v, err := s.plain(bucketMessages, k, v)
			if err != nil {
				return err
			}
			if !bytes.Contains(v, needle) {
				return nil
			}
			var m Message
			if err := decode(v, &m); err != nil {
				return err
			}
			if m.Role == kefu.RoleAssistant && m.Reason == reason && len(k) >= 8 {
				hits = append(hits, hit{slices.Clone(k), binary.BigEndian.Uint64(k[len(k)-8:]), m})
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(b.seq, a.seq) })
		if limit > 0 && len(hits) > limit {
			hits = hits[:limit]
		}
		for _, h := range hits {
			q, err := s.questionBefore(tx, h.m.ConversationID, h.key)
			if err != nil {
				return err
			}
			ex := Exchange{Question: q, Answer: h.m}
			fk := feedbackKey(h.m.ConversationID, h.m.ID)
			if raw := bucketGet(tx, bucketFeedback, fk); raw != nil {
				var r feedbackRecord
				if err := s.getRecord(bucketFeedback, fk, raw, &r); err != nil {
					return err
				}
				ex.Feedback = &r.Feedback
			}
			out = append(out, ex)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("answers by reason: %w", err)
	}
	return out, nil
}

// conversationMessage returns the key and the message id of conversation
// conversationID, or a kefu.ENotFound error when there is no such message
// in that conversation.
func (s *Bolt) conversationMessage(tx *bolt.Tx, conversationID, id string) ([]byte, Message, error) {
	var m Message
	var key []byte
	if id != "" && len(id) <= maxIDLen {
		key = tx.Bucket(bucketMessageIDs).Get([]byte(id))
	}
	var raw []byte
	if key != nil && bytes.HasPrefix(key, append([]byte(conversationID), 0)) {
		raw = tx.Bucket(bucketMessages).Get(key)
	}
	if raw == nil {
		return nil, m, kefu.Errorf(kefu.ENotFound, "message %q not found in conversation %q", id, conversationID)
	}
	if err := s.getRecord(bucketMessages, key, raw, &m); err != nil {
		return nil, m, err
	}
	return slices.Clone(key), m, nil
}

// questionBefore returns the last user message before the message at key
// in conversation conversationID, or a zero Message when there is none
// within maxLookBack messages.
func (s *Bolt) questionBefore(tx *bolt.Tx, conversationID string, key []byte) (Message, error) {
	prefix := append([]byte(conversationID), 0)
	cur := tx.Bucket(bucketMessages).Cursor()
	if k, _ := cur.Seek(key); !bytes.Equal(k, key) {
		return Message{}, nil
	}
	for range maxLookBack {
		k, v := cur.Prev()
		if k == nil || !bytes.HasPrefix(k, prefix) {
			break
		}
		var m Message
		if err := s.getRecord(bucketMessages, k, v, &m); err != nil {
			return Message{}, err
		}
		if m.Role == kefu.RoleUser {
			return m, nil
		}
	}
	return Message{}, nil
}

func feedbackKey(conversationID, messageID string) []byte {
	k := make([]byte, 0, len(conversationID)+1+len(messageID))
	k = append(k, conversationID...)
	k = append(k, 0)
	return append(k, messageID...)
}
