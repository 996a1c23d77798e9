package bm25

import (
	"math"
	"testing"

	"github.com/kefuhq/kefu"
)

func corpus() []kefu.Chunk {
	return []kefu.Chunk{
		{ID: "a#0", DocID: "a", Text: "red apple apple"},
		{ID: "b#0", DocID: "b", Text: "green apple"},
		{ID: "c#0", DocID: "c", Text: "red car"},
	}
}

// The scores below are worked out by hand: N = 3, avgdl = 7/3, and both
// "apple" and "red" are in 2 chunks, so idf = ln(1 + 1.5/2.5) = ln 1.6.
func TestScoresByHand(t *testing.T) {
	ix := New(corpus())
	if ix.Len() != 3 {
		t.Fatalf("Len %d", ix.Len())
	}
	if got := ix.IDF("apple"); math.Abs(got-math.Log(1.6)) > 1e-12 {
		t.Errorf("idf(apple) = %v", got)
	}
	hits := ix.Search("apple", nil, 10)
	// a: tf 2, dl 3: ln1.6 * 2*2.2 / (2 + 1.2*(0.25 + 0.75*3/(7/3)))
	// b: tf 1, dl 2: ln1.6 * 2.2 / (1 + 1.2*(0.25 + 0.75*2/(7/3)))
	want := []Hit{{Chunk: kefu.Chunk{ID: "a#0"}, Score: 0.5981864372218454}, {Chunk: kefu.Chunk{ID: "b#0"}, Score: 0.49917626830236755}}
	check(t, "apple", hits, want)

	// A repeated query term counts once; "red" and "apple" add up in a,
	// b and c tie and the smaller id comes first.
	hits = ix.Search("red apple apple", nil, 10)
	want = []Hit{
		{Chunk: kefu.Chunk{ID: "a#0"}, Score: 1.0190036401511668},
		{Chunk: kefu.Chunk{ID: "b#0"}, Score: 0.49917626830236755},
		{Chunk: kefu.Chunk{ID: "c#0"}, Score: 0.49917626830236755},
	}
	check(t, "red apple apple", hits, want)

	check(t, "k=1", ix.Search("red apple", nil, 1), want[:1])
	if got := ix.Search("banana", nil, 10); len(got) != 0 {
		t.Errorf("unknown term matched %v", got)
	}
	if got := ix.Search("apple", nil, 0); len(got) != 0 {
		t.Errorf("k=0 returned %v", got)
	}
}

func TestFilterKeepsStatistics(t *testing.T) {
	ix := New(corpus())
	hits := ix.Search("apple", func(c *kefu.Chunk) bool { return c.DocID != "a" }, 10)
	// b keeps the score it has over the whole index.
	check(t, "filtered", hits, []Hit{{Chunk: kefu.Chunk{ID: "b#0"}, Score: 0.49917626830236755}})
}

func TestTitleAndHeadingAreIndexed(t *testing.T) {
	ix := New([]kefu.Chunk{
		{ID: "x#0", Title: "Returns", Heading: "Opened items", Text: "thirty days"},
		{ID: "y#0", Title: "Shipping", Text: "three days"},
	})
	hits := ix.Search("opened returns", nil, 10)
	if len(hits) != 1 || hits[0].Chunk.ID != "x#0" {
		t.Errorf("hits %v", hits)
	}
	if len(New(nil).Search("x", nil, 3)) != 0 {
		t.Error("empty index matched")
	}
}

func check(t *testing.T, name string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits %v, want %d", name, len(got), got, len(want))
	}
	for i := range want {
		if got[i].Chunk.ID != want[i].Chunk.ID || math.Abs(got[i].Score-want[i].Score) > 1e-9 {
			t.Errorf("%s: hit %d = %s %.12f, want %s %.12f", name, i, got[i].Chunk.ID, got[i].Score, want[i].Chunk.ID, want[i].Score)
		}
	}
}
