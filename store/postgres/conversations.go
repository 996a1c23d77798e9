package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// Conversations and messages. Each stored message is one statement, so
// one round trip: the conversation's row is locked and moved on (its
// sequence and UpdatedAt), the message inserted, and its client message id
// indexed, together. Message and conversation times are the columns', not
// the sealed bodies': a message's time is taken where the conversation's
// row is locked, so times never run backwards within a conversation
// whichever replica writes.

// conversationBody is what a conversation's sealed body holds; UpdatedAt
// lives in its column.
type conversationBody struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Channel    string    `json:"channel"`
	CreatedAt  time.Time `json:"created_at"`
}

// CustomerRef is the pseudonym of a customer id the tables index by: the
// same one the audit log uses (store.CustomerRef), without its prefix.
func CustomerRef(customerID string) string { return seal.Fingerprint([]byte(customerID)) }

// CreateConversation starts a conversation owned by customerID ("" for an
// anonymous shopper) on channel.
func (s *Store) CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error) {
	c := s.newConversation(customerID, channel)
	body, err := s.seal("conversations", c.ID, conversationBody{c.ID, c.CustomerID, c.Channel, c.CreatedAt})
	if err != nil {
		return store.Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	_, err = s.pool.Exec(ctx,
		`INSERT INTO conversations (id, customer_ref, created_at, updated_at, body) VALUES ($1, $2, $3, $3, $4)`,
		c.ID, CustomerRef(customerID), c.CreatedAt, body)
	if err != nil {
		return store.Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	return c, nil
}

func (s *Store) newConversation(customerID, channel string) store.Conversation {
	now := s.now().UTC().Truncate(time.Microsecond)
	return store.Conversation{ID: store.NewConversationID(), CustomerID: customerID, Channel: channel, CreatedAt: now, UpdatedAt: now}
}

// StartConversation is CreateConversation and AppendMessage of first in
// one statement: the new conversation is stored with its first message or
// not at all. first.ConversationID is set to the new conversation's.
func (s *Store) StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error) {
	c, m, _, err := s.start(ctx, customerID, channel, first, false)
	return c, m, err
}

// StartConversationOnce is StartConversation, unless customerID ("" for
// the anonymous shopper) already stored a message with
// first.ClientMessageID: then nothing is written and that message and its
// conversation are returned, with existed true. Without a client message
// id it is StartConversation.
func (s *Store) StartConversationOnce(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, bool, error) {
	return s.start(ctx, customerID, channel, first, first.ClientMessageID != "")
}

func (s *Store) start(ctx context.Context, customerID, channel string, first store.Message, once bool) (store.Conversation, store.Message, bool, error) {
	if err := store.CheckMessage(first); err != nil {
		return store.Conversation{}, store.Message{}, false, err
	}
	if err := store.CheckClientMessageID(first.ClientMessageID); err != nil {
		return store.Conversation{}, store.Message{}, false, err
	}
	c := s.newConversation(customerID, channel)
	first.ID = store.NewMessageID()
	first.ConversationID = c.ID
	first.CreatedAt = c.CreatedAt
	convBody, err := s.seal("conversations", c.ID, conversationBody{c.ID, c.CustomerID, c.Channel, c.CreatedAt})
	if err != nil {
		return store.Conversation{}, store.Message{}, false, fmt.Errorf("start conversation: %w", err)
	}
	msgBody, err := s.seal("messages", first.ID, first)
	if err != nil {
		return store.Conversation{}, store.Message{}, false, fmt.Errorf("start conversation: %w", err)
	}
	ref := CustomerRef(customerID)
	for attempt := 0; ; attempt++ {
		var earlier *string
		err = s.pool.QueryRow(ctx, `
WITH prior AS (
    SELECT message_id FROM client_message_ids WHERE $9 AND owner_ref = $2 AND client_id = $8
), c AS (
    INSERT INTO conversations (id, customer_ref, created_at, updated_at, last_seq, body)
    SELECT $1, $2, $3, $3, 1, $4 WHERE NOT EXISTS (SELECT 1 FROM prior)
    RETURNING id
), m AS (
    INSERT INTO messages (conversation_id, seq, id, role, reason, created_at, body)
    SELECT c.id, 1, $5, $6, $7, $3, $10 FROM c
    RETURNING id
), k AS (
    INSERT INTO client_message_ids (owner_ref, client_id, message_id)
    SELECT $2, $8, m.id FROM m WHERE $8 <> ''
)
SELECT (SELECT message_id FROM prior)`,
			c.ID, ref, c.CreatedAt, convBody, first.ID, first.Role, first.Reason, first.ClientMessageID, once, msgBody).Scan(&earlier)
		if err != nil && once && isUniqueViolation(err) && attempt == 0 {
			// Another attempt with the same key stored it first: the
			// second try finds it.
			continue
		}
		if err != nil {
			return store.Conversation{}, store.Message{}, false, fmt.Errorf("start conversation: %w", err)
		}
		if earlier == nil {
			return c, first, false, nil
		}
		m, err := s.Message(ctx, *earlier)
		if err != nil {
			return store.Conversation{}, store.Message{}, false, err
		}
		conv, err := s.Conversation(ctx, m.ConversationID)
		if err != nil {
			return store.Conversation{}, store.Message{}, false, err
		}
		return conv, m, true, nil
	}
}

// Conversation returns the conversation id, or a kefu.ENotFound error.
func (s *Store) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	if !validID(id) {
		return store.Conversation{}, kefu.Errorf(kefu.ENotFound, "conversation %q not found", id)
	}
	var body []byte
	var updated time.Time
	err := s.pool.QueryRow(ctx, `SELECT body, updated_at FROM conversations WHERE id = $1`, id).Scan(&body, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Conversation{}, kefu.Errorf(kefu.ENotFound, "conversation %q not found", id)
	}
	if err != nil {
		return store.Conversation{}, fmt.Errorf("read conversation: %w", err)
	}
	return s.conversation(id, body, updated)
}

func (s *Store) conversation(id string, body []byte, updated time.Time) (store.Conversation, error) {
	var b conversationBody
	if err := s.open("conversations", id, body, &b); err != nil {
		return store.Conversation{}, err
	}
	return store.Conversation{ID: b.ID, CustomerID: b.CustomerID, Channel: b.Channel, CreatedAt: b.CreatedAt, UpdatedAt: updated.UTC()}, nil
}

// validID reports whether id can name a stored record: not empty, not
// longer than store.MaxIDLen, and free of NUL, which PostgreSQL's text
// refuses.
func validID(id string) bool {
	if id == "" || len(id) > store.MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return false
		}
	}
	return true
}

// AppendMessage adds m to the end of its conversation and returns it with
// its ID and CreatedAt set (any given are replaced). It fails with
// kefu.ENotFound when the conversation does not exist and kefu.EInvalid
// when m.Role is not a known role or m.Citations is not valid JSON. The
// conversation's UpdatedAt becomes the message's time.
func (s *Store) AppendMessage(ctx context.Context, m store.Message) (store.Message, error) {
	out, _, err := s.append(ctx, m, false)
	return out, err
}

// AppendMessageOnce is AppendMessage, unless the owner of m's conversation
// already stored a message with m.ClientMessageID (in this conversation or
// another): then nothing is written and that message is returned, with
// existed true. The check and the write are one statement, so two
// attempts at once store the message once.
func (s *Store) AppendMessageOnce(ctx context.Context, m store.Message) (store.Message, bool, error) {
	return s.append(ctx, m, m.ClientMessageID != "")
}

func (s *Store) append(ctx context.Context, m store.Message, once bool) (store.Message, bool, error) {
	if err := store.CheckMessage(m); err != nil {
		return store.Message{}, false, err
	}
	if err := store.CheckClientMessageID(m.ClientMessageID); err != nil {
		return store.Message{}, false, err
	}
	if !validID(m.ConversationID) {
		return store.Message{}, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", m.ConversationID)
	}
	m.ID = store.NewMessageID()
	now := s.now().UTC().Truncate(time.Microsecond)
	m.CreatedAt = now
	body, err := s.seal("messages", m.ID, m)
	if err != nil {
		return store.Message{}, false, fmt.Errorf("append message: %w", err)
	}
	for attempt := 0; ; attempt++ {
		var (
			found   bool
			at      *time.Time
			earlier *string
		)
		err = s.pool.QueryRow(ctx, `
WITH conv AS (
    SELECT id, customer_ref FROM conversations WHERE id = $1
), prior AS (
    SELECT k.message_id FROM client_message_ids k, conv
    WHERE $8 AND k.owner_ref = conv.customer_ref AND k.client_id = $7
), c AS (
    UPDATE conversations SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, $3)
    WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING id, last_seq, updated_at, customer_ref
), ins AS (
    INSERT INTO messages (conversation_id, seq, id, role, reason, created_at, body)
    SELECT c.id, c.last_seq, $2, $4, $5, c.updated_at, $6 FROM c
    RETURNING id
), k AS (
    INSERT INTO client_message_ids (owner_ref, client_id, message_id)
    SELECT c.customer_ref, $7, $2 FROM c WHERE $7 <> ''
)
SELECT EXISTS (SELECT 1 FROM conv), (SELECT updated_at FROM c), (SELECT message_id FROM prior)`,
			m.ConversationID, m.ID, now, m.Role, m.Reason, body, m.ClientMessageID, once).Scan(&found, &at, &earlier)
		if err != nil && once && isUniqueViolation(err) && attempt == 0 {
			continue
		}
		if err != nil {
			return store.Message{}, false, fmt.Errorf("append message: %w", err)
		}
		switch {
		case !found:
			return store.Message{}, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", m.ConversationID)
		case earlier != nil:
			prior, err := s.Message(ctx, *earlier)
			return prior, err == nil, err
		case at == nil:
			// The conversation was erased between the statement's
			// reads.
			return store.Message{}, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", m.ConversationID)
		}
		m.CreatedAt = at.UTC()
		return m, false, nil
	}
}

// Message returns the message id, or a kefu.ENotFound error.
func (s *Store) Message(ctx context.Context, id string) (store.Message, error) {
	if !validID(id) {
		return store.Message{}, kefu.Errorf(kefu.ENotFound, "message %q not found", id)
	}
	var body []byte
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT body, created_at FROM messages WHERE id = $1`, id).Scan(&body, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Message{}, kefu.Errorf(kefu.ENotFound, "message %q not found", id)
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("read message: %w", err)
	}
	return s.message(id, body, at)
}

// message opens a message row.
func (s *Store) message(id string, body []byte, at time.Time) (store.Message, error) {
	var m store.Message
	if err := s.open("messages", id, body, &m); err != nil {
		return store.Message{}, err
	}
	m.CreatedAt = at.UTC()
	return m, nil
}

// Messages returns the last limit messages of a conversation, oldest
// first; limit <= 0 returns them all. It fails with kefu.ENotFound when the
// conversation does not exist.
func (s *Store) Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error) {
	if !validID(conversationID) {
		return nil, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `
SELECT m.id, m.created_at, m.body
FROM conversations c
LEFT JOIN LATERAL (
    SELECT id, created_at, body, seq FROM messages WHERE conversation_id = c.id ORDER BY seq DESC LIMIT $2
) m ON true
WHERE c.id = $1
ORDER BY m.seq`, conversationID, lim)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	seen := false
	for rows.Next() {
		seen = true
		var id *string
		var at *time.Time
		var body []byte
		if err := rows.Scan(&id, &at, &body); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		if id == nil {
			continue // the conversation has no messages
		}
		m, err := s.message(*id, body, *at)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	if !seen {
		return nil, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	return out, nil
}

// MessageByClientID returns the message customerID ("" for the anonymous
// shopper) stored with client message id clientID, or a kefu.ENotFound
// error.
func (s *Store) MessageByClientID(ctx context.Context, customerID, clientID string) (store.Message, error) {
	notFound := kefu.Errorf(kefu.ENotFound, "no message with client message id %q", clientID)
	if clientID == "" || store.CheckClientMessageID(clientID) != nil {
		return store.Message{}, notFound
	}
	var id string
	err := s.pool.QueryRow(ctx, `SELECT message_id FROM client_message_ids WHERE owner_ref = $1 AND client_id = $2`,
		CustomerRef(customerID), clientID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Message{}, notFound
	}
	if err != nil {
		return store.Message{}, fmt.Errorf("read client message id: %w", err)
	}
	return s.Message(ctx, id)
}
