package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// Idempotent shopper messages. A client that sends a message with a key
// (Message.ClientMessageID) and retries it after a timeout or a crash must
// get the turn it started, not a second one; the key is unique per
// conversation owner (a signed-in customer, or the anonymous shopper), so a
// retried first message finds its conversation even though the client never
// learned its id.

// bucketClientIDs maps a conversation owner and a client message id to the
// message's id: SHA-256 of the customer id, client message id -> message
// id. The owner is hashed so that no customer id sits in the clear.
var bucketClientIDs = []byte("client_message_ids")

// MaxClientMessageIDLen bounds a client message id.
const MaxClientMessageIDLen = 128

// CheckClientMessageID reports why id cannot be a client message id: it is
// longer than MaxClientMessageIDLen or holds a control character
// (kefu.EInvalid). The empty id (none) passes.
func CheckClientMessageID(id string) error {
	if len(id) > MaxClientMessageIDLen {
		return kefu.Errorf(kefu.EInvalid, "client message id is %d bytes; the limit is %d", len(id), MaxClientMessageIDLen)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return kefu.Errorf(kefu.EInvalid, "client message id holds a control character")
	}
	return nil
}

func clientKey(customerID, clientID string) []byte {
	owner := sha256.Sum256([]byte(customerID))
	k := make([]byte, 0, len(owner)+len(clientID))
	k = append(k, owner[:]...)
	return append(k, clientID...)
}

// putClientID indexes m by its client message id under c's owner, when it
// has one; it runs in the transaction that stores m.
func putClientID(tx *bolt.Tx, c *Conversation, m *Message) error {
	if m.ClientMessageID == "" {
		return nil
	}
	return tx.Bucket(bucketClientIDs).Put(clientKey(c.CustomerID, m.ClientMessageID), []byte(m.ID))
}

// storedClientID is the id of the message customerID stored with clientID,
// or "" when there is none (or it has since been deleted).
func storedClientID(tx *bolt.Tx, customerID, clientID string) string {
	id := tx.Bucket(bucketClientIDs).Get(clientKey(customerID, clientID))
	if id == nil || tx.Bucket(bucketMessageIDs).Get(id) == nil {
		return ""
	}
	return string(id)
}

// MessageByClientID returns the message customerID ("" for the anonymous
// shopper) stored with client message id clientID, or a kefu.ENotFound
// error.
func (s *Bolt) MessageByClientID(ctx context.Context, customerID, clientID string) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	var id string
	if clientID != "" && CheckClientMessageID(clientID) == nil {
		_ = s.db.View(func(tx *bolt.Tx) error {
			id = storedClientID(tx, customerID, clientID)
			return nil
		})
	}
	if id == "" {
		return Message{}, kefu.Errorf(kefu.ENotFound, "no message with client message id %q", clientID)
	}
	return s.Message(ctx, id)
}

// AppendMessageOnce is AppendMessage, unless the owner of m's conversation
// already stored a message with m.ClientMessageID (in this conversation or
// another): then nothing is written and that message is returned, with
// existed true. The check and the write are one transaction, so two
// attempts at once store the message once. Without a client message id it
// is AppendMessage.
func (s *Bolt) AppendMessageOnce(ctx context.Context, m Message) (Message, bool, error) {
	if m.ClientMessageID == "" {
		out, err := s.AppendMessage(ctx, m)
		return out, false, err
	}
	if err := ctx.Err(); err != nil {
		return Message{}, false, err
	}
	if err := CheckMessage(m); err != nil {
		return Message{}, false, err
	}
	if err := CheckClientMessageID(m.ClientMessageID); err != nil {
		return Message{}, false, err
	}
	m.ID = newID(messagePrefix)
	var earlier string
	err := s.w.update(ctx, func(tx *bolt.Tx) error {
		c, err := s.getConversation(tx, m.ConversationID)
		if err != nil {
			return err
		}
		if earlier = storedClientID(tx, c.CustomerID, m.ClientMessageID); earlier != "" {
			return nil
		}
		return s.putMessage(tx, &c, &m)
	})
	if err != nil {
		if kefu.ErrorCode(err) == kefu.ENotFound {
			return Message{}, false, err
		}
		return Message{}, false, fmt.Errorf("append message: %w", err)
	}
	if earlier != "" {
		found, err := s.Message(ctx, earlier)
		return found, err == nil, err
	}
	return m, false, nil
}

// StartConversationOnce is StartConversation, unless customerID ("" for
// the anonymous shopper) already stored a message with
// first.ClientMessageID: then nothing is written and that message and its
// conversation are returned, with existed true. Without a client message
// id it is StartConversation.
func (s *Bolt) StartConversationOnce(ctx context.Context, customerID, channel string, first Message) (Conversation, Message, bool, error) {
	if first.ClientMessageID == "" {
		c, m, err := s.StartConversation(ctx, customerID, channel, first)
		return c, m, false, err
	}
	if err := ctx.Err(); err != nil {
		return Conversation{}, Message{}, false, err
	}
	if err := CheckMessage(first); err != nil {
		return Conversation{}, Message{}, false, err
	}
	if err := CheckClientMessageID(first.ClientMessageID); err != nil {
		return Conversation{}, Message{}, false, err
	}
	c := s.newConversation(customerID, channel)
	first.ID = newID(messagePrefix)
	first.ConversationID = c.ID
	var conv Conversation
	var earlier string
	err := s.w.update(ctx, func(tx *bolt.Tx) error {
		if earlier = storedClientID(tx, customerID, first.ClientMessageID); earlier != "" {
			return nil
		}
		conv = c
		return s.putMessage(tx, &conv, &first)
	})
	if err != nil {
		return Conversation{}, Message{}, false, fmt.Errorf("start conversation: %w", err)
	}
	if earlier == "" {
		return conv, first, false, nil
	}
	m, err := s.Message(ctx, earlier)
	if err != nil {
		return Conversation{}, Message{}, false, err
	}
	conv, err = s.Conversation(ctx, m.ConversationID)
	if err != nil {
		return Conversation{}, Message{}, false, err
	}
	return conv, m, true, nil
}
