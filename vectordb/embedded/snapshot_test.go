package embedded

import (
	"context"
	"reflect"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

// TestDocumentChunksRestores reads a document back, vectors included,
// replaces it with another version, writes the copy back and finds the
// store as it was: same chunks, same document info, same ranking.
func TestDocumentChunksRestores(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	doc, chunks := vectordbtest.Doc("order-1", kefu.TypeOrder, "C1", "Order W1 shipped.\n\nTracking SF123.\n\nDelivered on 3 May.")
	for i := range chunks {
		chunks[i].Meta = map[string]string{"version": "1"}
	}
	other, otherChunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", "Return within 30 days.")
	if err := s.ReplaceMany(ctx, []kefu.Replacement{{Doc: doc, Chunks: chunks}, {Doc: other, Chunks: otherChunks}}); err != nil {
		t.Fatal(err)
	}
	q := vectordbtest.Query("when was it delivered", kefu.Filter{CustomerID: "C1"}, 5)
	wantHits, _ := s.Search(ctx, q)
	wantDocs, _ := s.Documents(ctx)

	got, err := s.DocumentChunks(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, chunks) {
		t.Fatalf("DocumentChunks = %+v\nwant %+v", got, chunks)
	}

	newer, newerChunks := vectordbtest.Doc("order-1", kefu.TypeOrder, "C1", "Order W1 was cancelled.")
	newer.Hash = "other"
	if err := s.Replace(ctx, newer, newerChunks); err != nil {
		t.Fatal(err)
	}
	if now, _ := s.DocumentChunks(ctx, "order-1"); len(now) != 1 {
		t.Fatalf("after the change DocumentChunks gave %d chunks, want 1", len(now))
	}
	if err := s.Replace(ctx, doc, got); err != nil {
		t.Fatal(err)
	}
	again, err := s.DocumentChunks(ctx, "order-1")
	if err != nil || !reflect.DeepEqual(again, chunks) {
		t.Fatalf("after restoring DocumentChunks = %+v, %v", again, err)
	}
	if docs, _ := s.Documents(ctx); !reflect.DeepEqual(docs, wantDocs) {
		t.Errorf("documents after restoring %+v, want %+v", docs, wantDocs)
	}
	// BM25's statistics count the replaced slots until a merge (as
	// Lucene's do); once merged the ranking is exactly as it was.
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.Search(ctx, q); !reflect.DeepEqual(hits, wantHits) {
		t.Errorf("search after restoring %+v\nwant %+v", hits, wantHits)
	}
	// The chunks returned are the caller's: changing them changes nothing stored.
	got[0].Vector[0] = 42
	if again, _ := s.DocumentChunks(ctx, "order-1"); again[0].Vector[0] == 42 {
		t.Error("a returned vector aliases the store's")
	}
}

func TestDocumentChunksOfMissingDocument(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	// A document whose id is a prefix of the one asked for is not it.
	doc, chunks := vectordbtest.Doc("returns-2", kefu.TypePolicy, "", "Return within 30 days.")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	got, err := s.DocumentChunks(ctx, "returns")
	if err != nil || len(got) != 0 {
		t.Fatalf("DocumentChunks of a missing document = %v, %v; want none", got, err)
	}
	if _, err := s.DocumentChunks(ctx, ""); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("DocumentChunks(\"\") = %v, want an invalid error", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DocumentChunks(cancelled, "returns-2"); err == nil {
		t.Error("DocumentChunks with a cancelled context succeeded")
	}
}
