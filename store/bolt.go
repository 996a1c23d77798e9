package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

// FileName is the embedded database's file inside the data directory.
const FileName = "conversations.db"

// lockTimeout is how long Open waits for another process to release the
// file before giving up.
const lockTimeout = 2 * time.Second

// maxIDLen bounds the ids looked up, so a hostile id never becomes a
// database key scan; real ids are 28 bytes.
const maxIDLen = 64

var (
	bucketConversations = []byte("conversations") // conversation id -> Conversation JSON
	bucketMessages      = []byte("messages")      // conversation id, 0x00, 8-byte sequence -> Message JSON
	bucketMessageIDs    = []byte("message_ids")   // message id -> key in bucketMessages
)

// Bolt is the embedded conversation store. It is safe for concurrent use:
// conversations and messages written at the same time share a commit (see
// committer); other writes are serialised by bbolt.
type Bolt struct {
	db   *bolt.DB
	w    *committer
	now  func() time.Time
	ring *seal.Keyring
}

// Open opens, creating if needed, the conversation store in dir (created
// with mode 0700; the file with 0600). When another process holds the file
// it waits two seconds and then fails with a kefu.EUnavailable error.
//
// Records are sealed (package seal) with the keyring given by WithKeyring,
// or else with the keys of dir's KeyFileName, which is generated when it
// does not exist: the store is encrypted at rest without configuration.
// Plaintext records of a store written before encryption still read.
func Open(dir string, opts ...Option) (*Bolt, error) { return open(dir, lockTimeout, opts...) }

func open(dir string, timeout time.Duration, opts ...Option) (*Bolt, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open conversation store: %w", err)
	}
	if o.ring == nil {
		ring, err := DefaultKeyring(dir)
		if err != nil {
			return nil, fmt.Errorf("open conversation store: %w", err)
		}
		o.ring = ring
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, kefu.WrapError(kefu.EUnavailable,
				"the conversation store is in use by another kefu process", err)
		}
		return nil, fmt.Errorf("open conversation store %s: %w", FileName, err)
	}
	s := &Bolt{db: db, now: time.Now, ring: o.ring}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketConversations, bucketMessages, bucketMessageIDs, bucketClientIDs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := s.checkKeys(tx); err != nil {
			return err
		}
		return s.chainLegacyAudit(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open conversation store %s: %w", FileName, err)
	}
	s.w = newCommitter(db)
	return s, nil
}

// Close releases the file. Calls after Close fail.
func (s *Bolt) Close() error {
	s.w.close()
	return s.db.Close()
}

// Ping reports whether the store is usable.
func (s *Bolt) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return kefu.WrapError(kefu.EUnavailable, "the conversation store is closed", err)
	}
	return nil
}

// CreateConversation starts a conversation owned by customerID ("" for an
// anonymous shopper) on channel.
func (s *Bolt) CreateConversation(ctx context.Context, customerID, channel string) (Conversation, error) {
	if err := ctx.Err(); err != nil {
		return Conversation{}, err
	}
	c := s.newConversation(customerID, channel)
	raw, err := s.sealRecord(bucketConversations, []byte(c.ID), c)
	if err != nil {
		return Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	err = s.w.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConversations).Put([]byte(c.ID), raw)
	})
	if err != nil {
		return Conversation{}, fmt.Errorf("create conversation: %w", err)
	}
	return c, nil
}

// StartConversation is CreateConversation and AppendMessage of first in
// one transaction: the new conversation is stored with its first message
// or not at all. first.ConversationID is set to the new conversation's.
func (s *Bolt) StartConversation(ctx context.Context, customerID, channel string, first Message) (Conversation, Message, error) {
	if err := ctx.Err(); err != nil {
		return Conversation{}, Message{}, err
	}
	if err := CheckMessage(first); err != nil {
		return Conversation{}, Message{}, err
	}
	c := s.newConversation(customerID, channel)
	first.ID = newID(messagePrefix)
	first.ConversationID = c.ID
	var conv Conversation
	err := s.w.update(ctx, func(tx *bolt.Tx) error {
		conv = c
		return s.putMessage(tx, &conv, &first)
	})
	if err != nil {
		return Conversation{}, Message{}, fmt.Errorf("start conversation: %w", err)
	}
	return conv, first, nil
}

func (s *Bolt) newConversation(customerID, channel string) Conversation {
	now := s.now().UTC()
	return Conversation{ID: newID(conversationPrefix), CustomerID: customerID, Channel: channel, CreatedAt: now, UpdatedAt: now}
}

// Conversation returns the conversation id, or a kefu.ENotFound error.
func (s *Bolt) Conversation(ctx context.Context, id string) (Conversation, error) {
	if err := ctx.Err(); err != nil {
		return Conversation{}, err
	}
	var c Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = s.getConversation(tx, id)
		return err
	})
	return c, err
}

// AppendMessage adds m to the end of its conversation and returns it with
// its ID and CreatedAt set (any given are replaced). It fails with
// kefu.ENotFound when the conversation does not exist and kefu.EInvalid when
// m.Role is not a known role or m.Citations is not valid JSON. The
// conversation's UpdatedAt becomes the message's time.
func (s *Bolt) AppendMessage(ctx context.Context, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	if err := CheckMessage(m); err != nil {
		return Message{}, err
	}
	m.ID = newID(messagePrefix)
	err := s.w.update(ctx, func(tx *bolt.Tx) error {
		c, err := s.getConversation(tx, m.ConversationID)
		if err != nil {
			return err
		}
		return s.putMessage(tx, &c, &m)
	})
	if err != nil {
		if kefu.ErrorCode(err) == kefu.ENotFound {
			return Message{}, err
		}
		return Message{}, fmt.Errorf("append message: %w", err)
	}
	return m, nil
}

// CheckMessage reports why no conversation store accepts m: a role that
// is not one of kefu's, or citations that are not JSON (kefu.EInvalid).
func CheckMessage(m Message) error {
	switch m.Role {
	case kefu.RoleUser, kefu.RoleAssistant, kefu.RoleAgent, kefu.RoleSystem:
	default:
		return kefu.Errorf(kefu.EInvalid, "message role %q is not one of user, assistant, agent, system", m.Role)
	}
	if len(m.Citations) > 0 && !json.Valid(m.Citations) {
		return kefu.Errorf(kefu.EInvalid, "message citations are not valid JSON")
	}
	return nil
}

// putMessage stores m, with its ID set, as the last message of c, and c
// with its UpdatedAt moved to m's time, which it sets.
func (s *Bolt) putMessage(tx *bolt.Tx, c *Conversation, m *Message) error {
	// The time is taken inside the write transaction, and write
	// transactions run one at a time, so times never run backwards
	// within a conversation.
	m.CreatedAt = s.now().UTC()
	if m.CreatedAt.Before(c.UpdatedAt) {
		m.CreatedAt = c.UpdatedAt
	}
	c.UpdatedAt = m.CreatedAt
	msgs := tx.Bucket(bucketMessages)
	seq, err := msgs.NextSequence()
	if err != nil {
		return err
	}
	key := messageKey(m.ConversationID, seq)
	rawMsg, err := s.sealRecord(bucketMessages, key, m)
	if err != nil {
		return err
	}
	rawConv, err := s.sealRecord(bucketConversations, []byte(c.ID), c)
	if err != nil {
		return err
	}
	if err := msgs.Put(key, rawMsg); err != nil {
		return err
	}
	if err := tx.Bucket(bucketMessageIDs).Put([]byte(m.ID), key); err != nil {
		return err
	}
	if err := putClientID(tx, c, m); err != nil {
		return err
	}
	return tx.Bucket(bucketConversations).Put([]byte(c.ID), rawConv)
}

// Message returns the message id, or a kefu.ENotFound error.
func (s *Bolt) Message(ctx context.Context, id string) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	var m Message
	err := s.db.View(func(tx *bolt.Tx) error {
		var key []byte
		if len(id) <= maxIDLen {
			key = tx.Bucket(bucketMessageIDs).Get([]byte(id))
		}
		raw := tx.Bucket(bucketMessages).Get(key)
		if key == nil || raw == nil {
			return kefu.Errorf(kefu.ENotFound, "message %q not found", id)
		}
		return s.getRecord(bucketMessages, key, raw, &m)
	})
	return m, err
}

// Messages returns the last limit messages of a conversation, oldest first;
// limit <= 0 returns them all. It fails with kefu.ENotFound when the
// conversation does not exist.
func (s *Bolt) Messages(ctx context.Context, conversationID string, limit int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Message
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := s.getConversation(tx, conversationID); err != nil {
			return err
		}
		prefix := append([]byte(conversationID), 0)
		cur := tx.Bucket(bucketMessages).Cursor()
		// Walk backwards from the conversation's last key, so a long
		// conversation costs only the messages asked for.
		k, v := cur.Seek(append([]byte(conversationID), 1))
		if k == nil {
			k, v = cur.Last()
		} else {
			k, v = cur.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Prev() {
			if limit > 0 && len(out) == limit {
				break
			}
			var m Message
			if err := s.getRecord(bucketMessages, k, v, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (s *Bolt) getConversation(tx *bolt.Tx, id string) (Conversation, error) {
	var c Conversation
	var raw []byte
	if id != "" && len(id) <= maxIDLen {
		raw = tx.Bucket(bucketConversations).Get([]byte(id))
	}
	if raw == nil {
		return c, kefu.Errorf(kefu.ENotFound, "conversation %q not found", id)
	}
	return c, s.getRecord(bucketConversations, []byte(id), raw, &c)
}

// messageKey orders a conversation's messages by append sequence under a
// prefix of the conversation id, so listing them is one prefix scan. Ids
// never contain 0x00, so one conversation's prefix never covers another's.
func messageKey(conversationID string, seq uint64) []byte {
	k := make([]byte, 0, len(conversationID)+9)
	k = append(k, conversationID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("conversation store: corrupt record: %w", err)
	}
	return nil
}
