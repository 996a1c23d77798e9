package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

// sealedAll lists every bucket whose values are sealed records.
var sealedAll = append(append([][]byte{}, sealedBuckets...), bucketAuditMeta)

// SealStatus counts the store's records by the key that sealed them
// (FormatID of the key id), "plaintext" for records written before
// encryption.
func (s *Bolt) SealStatus(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range sealedAll {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			err := b.ForEach(func(_, v []byte) error {
				if id, ok := seal.SealedKeyID(v); ok {
					out[seal.FormatID(id)]++
				} else {
					out["plaintext"]++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ResealBatch is how many records Reseal rewrites per transaction.
const ResealBatch = 500

// Reseal rewrites every record that is not sealed under the keyring's
// current key (a plaintext record of an older store, or one sealed with a
// retired key) sealed under it, ResealBatch records per transaction, and
// returns how many it rewrote. progress, when not nil, is called after each
// batch with the running count. A run stopped half-way (ctx, a crash)
// keeps what it did; running it again finishes the rest. Writes of the
// running server go on between batches.
func (s *Bolt) Reseal(ctx context.Context, progress func(done int)) (int, error) {
	current := binary.BigEndian.AppendUint32(nil, s.ring.Current())
	var sealed bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSealMeta); b != nil {
			sealed = bytes.Equal(b.Get(keyResealedUnder), current)
		}
		return nil
	})
	if sealed { // every write since the last whole pass sealed under the same key
		return 0, nil
	}
	done := 0
	for _, name := range sealedAll {
		var after []byte
		for {
			if err := ctx.Err(); err != nil {
				return done, err
			}
			// Find the next batch in a read transaction, so that a store
			// already under the current key costs no write.
			var todo [][]byte
			var last []byte
			err := s.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				if b == nil {
					return nil
				}
				cur := b.Cursor()
				k, v := cur.First()
				if after != nil {
					k, v = cur.Seek(after)
					if bytes.Equal(k, after) {
						k, v = cur.Next()
					}
				}
				for ; k != nil && len(todo) < ResealBatch; k, v = cur.Next() {
					last = bytes.Clone(k)
					if s.ring.NeedsReseal(v) {
						todo = append(todo, bytes.Clone(k))
					}
				}
				return nil
			})
			if err == nil && len(todo) > 0 {
				err = s.db.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket(name)
					for _, k := range todo {
						v := b.Get(k)
						if v == nil || !s.ring.NeedsReseal(v) {
							continue
						}
						p, err := s.plain(name, k, v)
						if err != nil {
							return err
						}
						if err := b.Put(k, s.ring.Seal(nil, p, place(name, k))); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err != nil {
				return done, fmt.Errorf("re-encrypt records: %w", err)
			}
			done += len(todo)
			if len(todo) > 0 && progress != nil {
				progress(done)
			}
			if last == nil {
				break
			}
			after = last
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSealMeta)
		if err != nil {
			return err
		}
		return b.Put(keyResealedUnder, current)
	})
	if err != nil {
		return done, fmt.Errorf("re-encrypt records: %w", err)
	}
	return done, nil
}

// bucketSealMeta remembers, under keyResealedUnder, the id of the key a
// whole Reseal pass ended under. Every record written since is sealed
// under the current key, so while that key stays current a pass has
// nothing to do, and a start of kefu serve skips reading every record.
var (
	bucketSealMeta   = []byte("seal_meta")
	keyResealedUnder = []byte("resealed_under")
)

// Compact rewrites the store file in dir into a fresh file holding only
// the live records, and puts it in the old one's place. bbolt reuses freed
// pages but never wipes them, so records deleted or re-encrypted leave
// their old bytes in the file until a page is reused; after Compact they
// are gone from it (not from backups, nor necessarily from the disk's
// blocks). The store must not be open, in this process or another (a
// kefu.EUnavailable error then). It returns the file's size before and
// after.
func Compact(dir string) (before, after int64, err error) {
	path := filepath.Join(dir, FileName)
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	before = fi.Size()
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return 0, 0, kefu.WrapError(kefu.EUnavailable, "the conversation store is in use by another kefu process", err)
		}
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	fi, err = os.Stat(path)
	if err != nil {
		return before, 0, fmt.Errorf("compact conversation store: %w", err)
	}
	return before, fi.Size(), nil
}
