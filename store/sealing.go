package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

// KeyFileName is the file in the data directory that holds the generated
// encryption keys when no key is configured.
const KeyFileName = "encryption.key"

// Option configures Open.
type Option func(*options)

type options struct {
	ring *seal.Keyring
}

// WithKeyring seals records with r instead of the keys of the data
// directory's KeyFileName (generated on first use).
func WithKeyring(r *seal.Keyring) Option { return func(o *options) { o.ring = r } }

// DefaultKeyring returns the keyring of the key file in dir, creating the
// file with a new key when there is none.
func DefaultKeyring(dir string) (*seal.Keyring, error) {
	keys, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		return nil, err
	}
	return seal.NewKeyring(keys...)
}

// Every value of these buckets is a record sealed with the keyring; the
// index buckets (message_ids, outbox_ids, ticket_active, audit_meta) hold
// only ids and keys and are not sealed.
var sealedBuckets = [][]byte{bucketConversations, bucketMessages, bucketTickets, bucketFeedback, bucketOutbox, bucketAudit, bucketProposals}

// place is the additional data a record is sealed with: its bucket and
// key, so that a sealed value copied elsewhere in the file does not open.
func place(bucket, key []byte) []byte {
	p := make([]byte, 0, len(bucket)+1+len(key))
	p = append(p, bucket...)
	p = append(p, 0)
	return append(p, key...)
}

// sealRecord returns v as JSON sealed for its place.
func (s *Bolt) sealRecord(bucket, key []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.ring.Seal(nil, raw, place(bucket, key)), nil
}

// putRecord stores v, sealed, under key in bucket b (named bucket).
func (s *Bolt) putRecord(b *bolt.Bucket, bucket, key []byte, v any) error {
	raw, err := s.sealRecord(bucket, key, v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// plain returns the JSON of the stored value raw at key in bucket: opened
// when sealed, as is when it is a plaintext record written before
// encryption was introduced.
func (s *Bolt) plain(bucket, key, raw []byte) ([]byte, error) {
	if !seal.IsSealed(raw) {
		return raw, nil
	}
	out, err := s.ring.Open(nil, raw, place(bucket, key))
	if err != nil {
		if errors.Is(err, seal.ErrUnknownKey) {
			return nil, kefu.WrapError(kefu.EUnavailable,
				"a stored record is sealed with an encryption key that is not configured", err)
		}
		return nil, fmt.Errorf("conversation store: record %s/%x: %w", bucket, key, err)
	}
	return out, nil
}

// getRecord decodes the stored value raw at key in bucket into v.
func (s *Bolt) getRecord(bucket, key, raw []byte, v any) error {
	p, err := s.plain(bucket, key, raw)
	if err != nil {
		return err
	}
	return decode(p, v)
}

// checkKeys fails, when the store opens, if the newest record of a sealed
// bucket was sealed with a key the keyring lacks: a store opened with the
// wrong key says so at once rather than on the first read.
func (s *Bolt) checkKeys(tx *bolt.Tx) error {
	for _, name := range sealedBuckets {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		_, v := b.Cursor().Last()
		if id, ok := seal.SealedKeyID(v); ok && !slices.Contains(s.ring.IDs(), id) {
			return kefu.Errorf(kefu.EUnavailable,
				"stored records are sealed with encryption key %s, which is not configured (KEFU_ENCRYPTION_KEY, store.encryption_key_file, or the data dir's %s)",
				seal.FormatID(id), KeyFileName)
		}
	}
	return nil
}
