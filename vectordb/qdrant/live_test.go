package qdrant

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

// Against a real Qdrant: set KEFU_TEST_QDRANT_ADDR (host:port of its gRPC
// listener, e.g. localhost:6334) and, if it needs one,
// KEFU_TEST_QDRANT_API_KEY. Each test uses its own collection and drops it
// afterwards.
//
//	docker run --rm -p 6334:6334 qdrant/qdrant:v1.17.0
//	KEFU_TEST_QDRANT_ADDR=localhost:6334 go test ./vectordb/qdrant/ -run Live -v
func openLive(t *testing.T) *Store {
	t.Helper()
	addr := os.Getenv("KEFU_TEST_QDRANT_ADDR")
	if addr == "" {
		t.Skip("KEFU_TEST_QDRANT_ADDR is not set: no live Qdrant")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{
		Addr:       addr,
		APIKey:     os.Getenv("KEFU_TEST_QDRANT_API_KEY"),
		Collection: fmt.Sprintf("kefu_test_%d", time.Now().UnixNano()),
	}
	s, err := Open(ctx, cfg, testEmbedder)
	if err != nil {
		t.Fatalf("Open %s: %v", addr, err)
	}
	t.Cleanup(func() {
		if err := s.client.DeleteCollection(context.Background(), s.collection); err != nil {
			t.Errorf("drop %s: %v", s.collection, err)
		}
		s.Close()
	})
	return s
}

func TestLiveConformance(t *testing.T) {
	if os.Getenv("KEFU_TEST_QDRANT_ADDR") == "" {
		t.Skip("KEFU_TEST_QDRANT_ADDR is not set: no live Qdrant")
	}
	vectordbtest.Run(t, func(t *testing.T) vectordbtest.Store { return openLive(t) })
}

func TestLiveReopenAndRefuse(t *testing.T) {
	s := openLive(t)
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", "Return within 30 days.\n\nRefund in 5 days.")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: os.Getenv("KEFU_TEST_QDRANT_ADDR"), APIKey: os.Getenv("KEFU_TEST_QDRANT_API_KEY"), Collection: s.collection}
	again, err := Open(ctx, cfg, testEmbedder)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	hits, err := again.Search(ctx, vectordbtest.Query("refund days", kefu.Filter{}, 5))
	if err != nil || len(hits) != 2 || hits[0].Chunk.ID != "returns#1" {
		t.Fatalf("after reopen: %v %v", ids(hits), err)
	}
	if _, err := Open(ctx, cfg, EmbedderInfo{Name: "other", Dims: 8}); kefu.ErrorCode(err) != kefu.EConflict {
		t.Fatalf("another embedder: %v, want a conflict", err)
	}
	docs, err := again.Documents(ctx)
	if err != nil || len(docs) != 1 || docs[0].Chunks != 2 {
		t.Fatalf("Documents: %+v %v", docs, err)
	}
}
