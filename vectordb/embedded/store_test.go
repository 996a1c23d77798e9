package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

var testEmbedder = EmbedderInfo{Name: "local-hash-v1", Dims: vectordbtest.Dims}

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testEmbedder)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	vectordbtest.Run(t, func(t *testing.T) vectordbtest.Store { return openTest(t, t.TempDir()) })
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	doc, chunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", "Return within 30 days.\n\nRefund in 5 days.")
	if err := s.Replace(context.Background(), doc, chunks); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openTest(t, dir)
	hits, err := s2.Search(context.Background(), vectordbtest.Query("refund days", kefu.Filter{}, 5))
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].Chunk.ID != "returns#1" {
		t.Fatalf("after reopen got %v", hits)
	}
	if hits[0].Dense < 0.5 {
		t.Fatalf("vector lost across reopen: dense=%v", hits[0].Dense)
	}
}

func TestRefusesOtherEmbedder(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir).Close()
	_, err := Open(dir, EmbedderInfo{Name: "other", Dims: 8})
	if kefu.ErrorCode(err) != kefu.EConflict {
		t.Fatalf("Open with another embedder: %v, want a conflict error", err)
	}
}

func TestRejectsBadChunks(t *testing.T) {
	s := openTest(t, t.TempDir())
	doc, chunks := vectordbtest.Doc("d", kefu.TypePolicy, "", "text")
	chunks[0].Vector = chunks[0].Vector[:3]
	if err := s.Replace(context.Background(), doc, chunks); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Fatalf("short vector: %v", err)
	}
	doc, chunks = vectordbtest.Doc("d", kefu.TypeOrder, "C1", "order")
	chunks[0].CustomerID = ""
	if err := s.Replace(context.Background(), doc, chunks); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Fatalf("chunk without its document's owner: %v", err)
	}
	var e *kefu.Error
	if _, err := s.Search(context.Background(), kefu.Query{Text: "x", Vector: []float32{1}}); !errors.As(err, &e) {
		t.Fatalf("query vector of wrong size: %v", err)
	}
}

func TestCompactionKeepsResults(t *testing.T) {
	s := openTest(t, t.TempDir())
	s.db.NoSync = true // thousands of small commits; durability is not what this test checks
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		for i := 0; i < 700; i++ {
			doc, chunks := vectordbtest.Doc(string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('A'+i/260)), kefu.TypeFAQ, "", "kettle question number")
			if err := s.Replace(ctx, doc, chunks); err != nil {
				t.Fatal(err)
			}
		}
	}
	doc, chunks := vectordbtest.Doc("target", kefu.TypeFAQ, "", "unique zebra answer")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	hits, _ := s.Search(ctx, vectordbtest.Query("zebra", kefu.Filter{}, 1))
	if len(hits) != 1 || hits[0].Chunk.DocID != "target" {
		t.Fatalf("after compaction got %v", hits)
	}
	if live := len(s.slots) - s.dead; live != 701 {
		t.Fatalf("live slots %d, want 701", live)
	}
	if s.dead > len(s.slots)/2+1 {
		t.Fatalf("no compaction happened: %d dead of %d", s.dead, len(s.slots))
	}
}

func TestReplaceManyIsOneWrite(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	a, ac := vectordbtest.Doc("a", kefu.TypeFAQ, "", "gift wrapping costs eight yuan")
	b, bc := vectordbtest.Doc("b", kefu.TypeFAQ, "", "member points never expire")
	if err := s.ReplaceMany(ctx, []kefu.Replacement{{Doc: a, Chunks: ac}, {Doc: b, Chunks: bc}}); err != nil {
		t.Fatal(err)
	}
	docs, _ := s.Documents(ctx)
	if len(docs) != 2 {
		t.Fatalf("documents after ReplaceMany: %v", docs)
	}
	bad, badChunks := vectordbtest.Doc("c", kefu.TypeFAQ, "", "never stored")
	badChunks[0].Vector = badChunks[0].Vector[:2]
	c2, c2c := vectordbtest.Doc("d", kefu.TypeFAQ, "", "also never stored")
	if err := s.ReplaceMany(ctx, []kefu.Replacement{{Doc: c2, Chunks: c2c}, {Doc: bad, Chunks: badChunks}}); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Fatalf("a bad document in the batch: %v", err)
	}
	if docs, _ := s.Documents(ctx); len(docs) != 2 {
		t.Fatalf("a failed batch stored part of itself: %v", docs)
	}
}
