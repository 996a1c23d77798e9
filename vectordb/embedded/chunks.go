package embedded

import (
	"context"
	"maps"
	"sort"

	"github.com/kefuhq/kefu"
)

// Chunks calls fn with every stored chunk, ordered by document id and then
// ordinal, for tools that read the whole store (an evaluation's baseline
// ranker). Each chunk is a copy with its own Meta map and no Vector. fn runs
// after the store's lock is released, so it may call the store; chunks
// written or deleted meanwhile may or may not be seen. Chunks stops at the
// first error fn returns, or when ctx ends, and returns that error.
func (s *Store) Chunks(ctx context.Context, fn func(kefu.Chunk) error) error {
	s.mu.RLock()
	live := make([]*kefu.Chunk, 0, len(s.slots)-s.dead)
	for _, c := range s.slots {
		if c != nil {
			live = append(live, c)
		}
	}
	s.mu.RUnlock()
	sort.Slice(live, func(i, j int) bool {
		if live[i].DocID != live[j].DocID {
			return live[i].DocID < live[j].DocID
		}
		return live[i].Ordinal < live[j].Ordinal
	})
	for _, c := range live {
		if err := ctx.Err(); err != nil {
			return err
		}
		cp := *c
		cp.Meta = maps.Clone(c.Meta)
		cp.Vector = nil
		if err := fn(cp); err != nil {
			return err
		}
	}
	return nil
}
