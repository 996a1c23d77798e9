package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

// checkpointing checkpoints after every every-th write, so the suite's
// searches run over the segment, or over the segment and the memory tier
// together.
type checkpointing struct {
	*Store
	t      *testing.T
	every  int
	writes int
}

func (c *checkpointing) wrote() {
	c.writes++
	if c.writes%c.every == 0 {
		if err := c.Checkpoint(context.Background()); err != nil {
			c.t.Fatalf("Checkpoint: %v", err)
		}
	}
}

func (c *checkpointing) Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error {
	defer c.wrote()
	return c.Store.Replace(ctx, doc, chunks)
}

func (c *checkpointing) Delete(ctx context.Context, docID string) error {
	defer c.wrote()
	return c.Store.Delete(ctx, docID)
}

func TestConformanceFromSegment(t *testing.T) {
	for _, every := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("checkpoint every %d writes", every), func(t *testing.T) {
			vectordbtest.Run(t, func(t *testing.T) vectordbtest.Store {
				return &checkpointing{Store: openTest(t, t.TempDir()), t: t, every: every}
			})
		})
	}
}

// TestSegmentAnswersAsARebuild writes, replaces and deletes documents over
// several checkpoints and reopens, and checks that every query gets the
// same hits, with the same scores, as a store whose indexes were rebuilt
// from the records.
func TestSegmentAnswersAsARebuild(t *testing.T) {
	ctx := context.Background()
	emb := embedding.NewLocal(vectordbtest.Dims)
	docs, chunks := synthCorpus(3000, 30, emb)
	dir := t.TempDir()
	s := openTest(t, dir)
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 4 {
		for i := range docs {
			switch {
			case round == 0:
				must(t, s.Replace(ctx, docs[i], chunks[i]))
			case r.IntN(10) == 0:
				must(t, s.Delete(ctx, docs[i].ID))
			case r.IntN(5) == 0:
				cut := chunks[i][:1+r.IntN(len(chunks[i]))]
				must(t, s.Replace(ctx, docs[i], cut))
			}
		}
		if round%2 == 0 {
			must(t, s.Checkpoint(ctx))
		}
	}
	if s.baseN() == 0 || len(s.slots) == 0 || s.deadBase == 0 {
		t.Fatalf("the test wants both tiers and deleted base slots: %d base slots (%d deleted), %d in memory", s.baseN(), s.deadBase, len(s.slots))
	}
	queries := []kefu.Query{
		{Text: "return refund kettle"},
		{Text: "退货运费", Filter: kefu.Filter{CustomerID: "C0010"}},
		{Text: "warrenty repair", Filter: kefu.Filter{Types: []string{kefu.TypePolicy}}}, // a typo
		{Text: "tracking parcel", Filter: kefu.Filter{CustomerID: "C0020", OnlyCustomer: true}},
		{Filter: kefu.Filter{CustomerID: "C0030", OnlyCustomer: true}}, // a listing
		{Text: "bluetooth noise waterproof speaker", Expand: "earbuds"},
	}
	for i := range queries {
		if queries[i].Text != "" {
			queries[i].Vector = emb.Vector(queries[i].Text)
		}
		queries[i].TopK = 20
	}
	search := func(s *Store) [][]kefu.Hit {
		var out [][]kefu.Hit
		for _, q := range queries {
			hits, err := s.Search(ctx, q)
			must(t, err)
			out = append(out, hits)
		}
		return out
	}
	// With both tiers, BM25's statistics still count the deleted slots (as
	// Lucene's do until a merge), so the scores differ a little from a
	// rebuild's; every hit must still be a chunk that is stored now.
	for i, hits := range search(s) {
		for _, h := range hits {
			stored, err := s.DocumentChunks(ctx, h.Chunk.DocID)
			must(t, err)
			if h.Chunk.Ordinal >= len(stored) || stored[h.Chunk.Ordinal].Text != h.Chunk.Text || (queries[i].Text != "" && !(h.Score > 0)) {
				t.Fatalf("hit %s (score %v) is not a stored chunk", h.Chunk.ID, h.Score)
			}
		}
	}
	must(t, s.Checkpoint(ctx))
	merged := search(s) // the segment alone, just written
	must(t, s.Close())
	reopened := openTest(t, dir) // the segment alone, mapped at open
	if len(reopened.slots) != 0 || reopened.baseN() == 0 {
		t.Fatalf("reopening rebuilt the indexes (%d slots in memory) instead of mapping them", len(reopened.slots))
	}
	fromSegment := search(reopened)
	must(t, reopened.Close())
	must(t, os.Remove(filepath.Join(dir, SegmentFileName)))
	rebuilt := openTest(t, dir)
	if rebuilt.baseN() == 0 {
		t.Fatal("a rebuilt store did not write its segment")
	}
	rebuilt.base.close()
	rebuilt.base, rebuilt.baseDead, rebuilt.deadBase, rebuilt.total = nil, nil, 0, 0
	must(t, rebuilt.load()) // the records alone, in memory
	want := search(rebuilt)
	for i, q := range queries {
		if len(want[i]) == 0 {
			t.Fatalf("query %q finds nothing: the test corpus is wrong", q.Text)
		}
		for name, got := range map[string][]kefu.Hit{"checkpointed": merged[i], "reopened": fromSegment[i]} {
			if len(got) != len(want[i]) {
				t.Errorf("%s, query %q: %d hits, a rebuild finds %d", name, q.Text, len(got), len(want[i]))
				continue
			}
			for j := range want[i] {
				g, w := got[j], want[i][j]
				if g.Chunk.ID != w.Chunk.ID || !near(g.Score, w.Score) || !near(g.Lexical, w.Lexical) || !near(g.Dense, w.Dense) || g.Chunk.Text != w.Chunk.Text {
					t.Errorf("%s, query %q, hit %d: %s %.6f/%.6f/%.6f, a rebuild has %s %.6f/%.6f/%.6f", name, q.Text, j,
						g.Chunk.ID, g.Score, g.Lexical, g.Dense, w.Chunk.ID, w.Score, w.Lexical, w.Dense)
					break
				}
			}
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-5 && b-a < 1e-5 }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaleOrDamagedSegmentIsRebuilt: a segment that does not reflect the
// file (an older generation, another store's, a damaged one) is never used;
// the store rebuilds from its records and answers with what they hold.
func TestStaleOrDamagedSegmentIsRebuilt(t *testing.T) {
	ctx := context.Background()
	seg := func(dir string) string { return filepath.Join(dir, SegmentFileName) }
	write := func(t *testing.T, dir string, docs ...string) {
		s := openTest(t, dir)
		for _, id := range docs {
			doc, chunks := vectordbtest.Doc(id, kefu.TypeFAQ, "", id+" zebra answer")
			must(t, s.Replace(ctx, doc, chunks))
		}
		must(t, s.Close())
	}
	found := func(t *testing.T, dir string) map[string]bool {
		s := openTest(t, dir)
		defer s.Close()
		hits, err := s.Search(ctx, vectordbtest.Query("zebra", kefu.Filter{}, 10))
		must(t, err)
		out := map[string]bool{}
		for _, h := range hits {
			out[h.Chunk.DocID] = true
		}
		return out
	}
	t.Run("older generation", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "a")
		old, err := os.ReadFile(seg(dir))
		must(t, err)
		write(t, dir, "b")
		must(t, os.WriteFile(seg(dir), old, 0o600)) // as after a crash before the checkpoint
		if got := found(t, dir); !got["a"] || !got["b"] {
			t.Fatalf("found %v, want a and b", got)
		}
	})
	t.Run("another store's", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		write(t, dir, "a")
		write(t, other, "x") // same generation, another store
		theirs, err := os.ReadFile(seg(other))
		must(t, err)
		must(t, os.WriteFile(seg(dir), theirs, 0o600))
		if got := found(t, dir); !got["a"] || got["x"] {
			t.Fatalf("found %v, want a only", got)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "a", "b")
		raw, err := os.ReadFile(seg(dir))
		must(t, err)
		for _, damage := range []func([]byte) []byte{
			func(b []byte) []byte { return b[:len(b)/2] },
			func(b []byte) []byte { b = append([]byte(nil), b...); b[20] ^= 0xff; return b },
			func(b []byte) []byte { return []byte("not a segment") },
		} {
			must(t, os.WriteFile(seg(dir), damage(raw), 0o600))
			if got := found(t, dir); !got["a"] || !got["b"] {
				t.Fatalf("found %v, want a and b", got)
			}
		}
	})
}

// FuzzSegment reads arbitrary bytes as a segment: parsing either refuses
// them or gives a segment whose every accessor stays in bounds.
func FuzzSegment(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir, testEmbedder)
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		doc, chunks := vectordbtest.Doc(id, kefu.TypeOrder, "C1", id+" kettle refund\n\nwarranty days")
		if err := s.Replace(context.Background(), doc, chunks); err != nil {
			f.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, SegmentFileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:segHeaderSize])
	f.Add([]byte(segMagic))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Sections are read in place as int32s and float32s: keep them
		// aligned as a mapping is.
		buf := make([]uint64, (len(raw)+7)/8)
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)*8)[:len(raw)]
		copy(b, raw)
		if len(b) >= segHeaderSize { // let a mutated header past its checksum
			binary.LittleEndian.PutUint64(b[segHeaderSize-8:], uint64(crc32.ChecksumIEEE(b[:segHeaderSize-8])))
		}
		g, err := parseSegment(b)
		if err != nil {
			return
		}
		for i := range g.nterms() {
			g.postings(g.find(g.term(i)))
		}
		g.postings(-1)
		g.postings(g.nterms() + 5)
		for slot := range int32(g.n) {
			g.filterFields(slot)
			g.key(slot)
		}
		for d := range g.dims {
			if len(g.col(d)) != g.n {
				t.Fatalf("column %d has %d values for %d slots", d, len(g.col(d)), g.n)
			}
		}
		g.docSlots("a")
		g.docSlots("")
		g.str(^uint32(0))
	})
}
