package qdrant

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

// TestDocumentChunksRestores reads a document back over gRPC, vectors
// included, replaces it with another version, writes the copy back and
// finds the collection as it was: same chunks, document info and ranking.
func TestDocumentChunksRestores(t *testing.T) {
	s, srv := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("order-1", kefu.TypeOrder, "C1", "Order W1 shipped.\n\nTracking SF123.\n\nDelivered on 3 May.")
	for i := range chunks {
		chunks[i].Meta = map[string]string{"version": "1"}
		chunks[i].Heading = "Order W1"
	}
	other, otherChunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", "Return within 30 days.")
	if err := s.ReplaceMany(ctx, []Replacement{{Doc: doc, Chunks: chunks}, {Doc: other, Chunks: otherChunks}}); err != nil {
		t.Fatal(err)
	}
	q := vectordbtest.Query("when was it delivered", kefu.Filter{CustomerID: "C1"}, 5)
	wantHits, err := s.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantDocs, _ := s.Documents(ctx)

	got, err := s.DocumentChunks(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	sameChunks(t, got, chunks)

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
	if err != nil {
		t.Fatal(err)
	}
	sameChunks(t, again, chunks)
	if docs, _ := s.Documents(ctx); !reflect.DeepEqual(docs, wantDocs) {
		t.Errorf("documents after restoring %+v, want %+v", docs, wantDocs)
	}
	hits, err := s.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != len(wantHits) {
		t.Fatalf("search after restoring found %d hits, want %d", len(hits), len(wantHits))
	}
	for i := range hits {
		if hits[i].Chunk.ID != wantHits[i].Chunk.ID || math.Abs(hits[i].Score-wantHits[i].Score) > 1e-6 {
			t.Errorf("hit %d after restoring: %s %.6f, want %s %.6f", i, hits[i].Chunk.ID, hits[i].Score, wantHits[i].Chunk.ID, wantHits[i].Score)
		}
	}

	if got, err := s.DocumentChunks(ctx, "missing"); err != nil || len(got) != 0 {
		t.Errorf("DocumentChunks of a missing document = %v, %v; want none", got, err)
	}
	if _, err := s.DocumentChunks(ctx, ""); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("DocumentChunks(\"\") = %v, want an invalid error", err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("the fake saw violations: %v", v)
	}
}

// sameChunks compares chunks field by field, vectors up to the rounding of
// Qdrant's normalisation.
func sameChunks(t *testing.T, got, want []kefu.Chunk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		gv, wv := g.Vector, w.Vector
		g.Vector, w.Vector = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("chunk %d = %+v, want %+v", i, g, w)
		}
		if len(gv) != len(wv) {
			t.Fatalf("chunk %d has a %d-dim vector, want %d", i, len(gv), len(wv))
		}
		for d := range gv {
			if math.Abs(float64(gv[d]-wv[d])) > 1e-6 {
				t.Fatalf("chunk %d vector[%d] = %v, want %v", i, d, gv[d], wv[d])
			}
		}
	}
}
