package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

func TestChunksListsLiveChunksInOrder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	for _, d := range []struct{ id, text string }{
		{"b", "Second doc.\n\nIts second part."},
		{"a", "First doc."},
		{"gone", "Deleted doc."},
	} {
		doc, chunks := vectordbtest.Doc(d.id, kefu.TypePolicy, "", d.text)
		for i := range chunks {
			chunks[i].Meta = map[string]string{kefu.MetaProductID: d.id}
		}
		if err := s.Replace(ctx, doc, chunks); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	err := s.Chunks(ctx, func(c kefu.Chunk) error {
		if c.Vector != nil {
			t.Errorf("chunk %s carries a vector", c.ID)
		}
		if c.Meta[kefu.MetaProductID] != c.DocID {
			t.Errorf("chunk %s meta %v", c.ID, c.Meta)
		}
		c.Meta["x"] = "changed" // a copy: must not reach the store
		ids = append(ids, c.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a#0", "b#0", "b#1"}
	if len(ids) != len(want) {
		t.Fatalf("chunks %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("chunks %v, want %v", ids, want)
		}
	}
	s.Chunks(ctx, func(c kefu.Chunk) error {
		if c.Meta["x"] != "" {
			t.Errorf("a change to a listed chunk's meta reached the store")
		}
		return nil
	})

	stop := errors.New("stop")
	n := 0
	if err := s.Chunks(ctx, func(kefu.Chunk) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: got %v after %d calls", err, n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Chunks(cancelled, func(kefu.Chunk) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
}
