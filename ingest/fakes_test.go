package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/kefuhq/kefu"
)

// memStore is an in-memory Store that counts writes. ReplaceFn, when set,
// runs before each Replace and can fail it.
type memStore struct {
	mu        sync.Mutex
	docs      map[string]kefu.Document
	chunks    map[string][]kefu.Chunk
	replaces  int
	deletes   int
	ReplaceFn func(doc kefu.Document, chunks []kefu.Chunk) error
}

func newMemStore() *memStore {
	return &memStore{docs: map[string]kefu.Document{}, chunks: map[string][]kefu.Chunk{}}
}

var _ Store = (*memStore)(nil)

func (s *memStore) Documents(ctx context.Context) ([]kefu.DocumentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kefu.DocumentInfo
	for id, d := range s.docs {
		out = append(out, kefu.DocumentInfo{ID: id, Type: d.Type, Source: d.Source, Hash: d.Hash, Chunks: len(s.chunks[id])})
	}
	slices.SortFunc(out, func(a, b kefu.DocumentInfo) int { return cmpString(a.ID, b.ID) })
	return out, nil
}

func (s *memStore) Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.ReplaceFn != nil {
		if err := s.ReplaceFn(doc, chunks); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaces++
	s.docs[doc.ID] = doc
	s.chunks[doc.ID] = chunks
	return nil
}

func (s *memStore) Delete(ctx context.Context, docID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes++
	delete(s.docs, docID)
	delete(s.chunks, docID)
	return nil
}

// doc returns a stored document by id.
func (s *memStore) doc(id string) (kefu.Document, []kefu.Chunk, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	return d, s.chunks[id], ok
}

func (s *memStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hashEmbedder is a deterministic Embedder: each text becomes a small
// vector derived from its hash. It records the batch sizes it saw.
type hashEmbedder struct {
	mu      sync.Mutex
	batches []int
	texts   []string
}

func (e *hashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.batches = append(e.batches, len(texts))
	e.texts = append(e.texts, texts...)
	e.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		sum := sha256.Sum256([]byte(t))
		v := make([]float32, 4)
		for j := range v {
			v[j] = float32(binary.LittleEndian.Uint32(sum[j*4:])) / float32(1<<32)
		}
		out[i] = v
	}
	return out, nil
}

// failEmbedder fails every call.
var failEmbedder = EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
	return nil, fmt.Errorf("embedding service unavailable")
})
