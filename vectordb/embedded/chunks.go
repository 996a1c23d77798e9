package embedded

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// chunksBatch is how many records Chunks reads per read transaction.
const chunksBatch = 512

// Chunks calls fn with every stored chunk, ordered by document id and then
// ordinal, for tools that read the whole store (an evaluation's baseline
// ranker). Each chunk is its own copy, with no Vector. The records are read
// from the file a batch at a time and fn runs between the batches' read
// transactions, so it may call the store; chunks written or deleted
// meanwhile may or may not be seen. Chunks stops at the first error fn
// returns, or when ctx ends, and returns that error.
func (s *Store) Chunks(ctx context.Context, fn func(kefu.Chunk) error) error {
	var after []byte
	for {
		var batch []*kefu.Chunk
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketChunks).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < chunksBatch; k, v = c.Next() {
				ch, err := decodeChunk(v, s.dims, false)
				if err != nil {
					return fmt.Errorf("read chunk %q: %w", k, err)
				}
				batch = append(batch, ch)
				after = append(after[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(*c); err != nil {
				return err
			}
		}
		if len(batch) < chunksBatch {
			return nil
		}
	}
}
