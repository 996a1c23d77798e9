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
