package embedded

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// DocumentChunks returns the stored chunks of one document, in the order
// Replace was given them (ordinal order for ingest's chunks), each with its
// vector, exactly as Replace stored them: what a
// caller needs to put the document back later (ingest keeps it to take a
// change back). A document that is not stored has no chunks: the result is
// empty, not an error. The chunks are read from the file in one read
// transaction, so they are one version of the document even while another
// write replaces it; the in-memory index, which holds vectors only as
// columns, is not consulted.
func (s *Store) DocumentChunks(ctx context.Context, docID string) ([]kefu.Chunk, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if docID == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "document has no id")
	}
	var out []kefu.Chunk
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(docID), 0)
		c := tx.Bucket(bucketChunks).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			ch, err := decodeChunk(v, s.dims, true)
			if err != nil {
				return fmt.Errorf("read chunk %q: %w", k, err)
			}
			out = append(out, *ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read document %s: %w", docID, err)
	}
	return out, nil
}

var bucketFiles = []byte("files")

// FileStates returns what earlier ingests recorded of each source file, as
// the ingester encoded it (ingest.FileStateStore), so that an unchanged
// file is not parsed again.
func (s *Store) FileStates(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read file states: %w", err)
	}
	return out, nil
}

// PutFileStates stores file states by source, in one transaction.
func (s *Store) PutFileStates(ctx context.Context, states map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFiles)
		if err != nil {
			return err
		}
		for source, st := range states {
			if err := b.Put([]byte(source), st); err != nil {
				return err
			}
		}
		return nil
	})
}
