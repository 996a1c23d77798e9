package use

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// modelDir is where the tests look for the model: $KEFU_EMBEDDING_MODEL_DIR,
// else models/use at the repository's root (where scripts/fetch-use.sh
// puts it by default).
func modelDir() string {
	if d := os.Getenv("KEFU_EMBEDDING_MODEL_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "models", "use")
}

var (
	loadOnce sync.Once
	loaded   *Encoder
	loadErr  error
)

// testEncoder loads the model once, skipping the test when it is absent.
func testEncoder(tb testing.TB) *Encoder {
	tb.Helper()
	dir := modelDir()
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		tb.Skipf("no model in %s (bash scripts/fetch-use.sh fetches it)", dir)
	}
	loadOnce.Do(func() { loaded, loadErr = Load(dir) })
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
	return loaded
}

// reference is one sentence of testdata/reference.json: its pieces and its
// vector as TensorFlow.js computes them with the JavaScript tokeniser the
// model ships with (vector rounded to 4 decimals; null for no pieces).
type reference struct {
	Text   string    `json:"text"`
	IDs    []int32   `json:"ids"`
	Vector []float64 `json:"vector"`
}

func readReference(t *testing.T) []reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []reference
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	if len(refs) < 24 {
		t.Fatalf("reference has %d sentences", len(refs))
	}
	return refs
}

func TestTokenizerMatchesReference(t *testing.T) {
	e := testEncoder(t)
	for _, r := range readReference(t) {
		if got := e.Tokenizer().Encode(r.Text); !slices.Equal(got, r.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", r.Text, got, r.IDs)
		}
	}
}

func TestVectorMatchesReference(t *testing.T) {
	e := testEncoder(t)
	worst := 1.0
	for _, r := range readReference(t) {
		got := e.Vector(r.Text)
		if len(got) != Dims {
			t.Fatalf("Vector(%q) has %d dims", r.Text, len(got))
		}
		if r.Vector == nil {
			continue
		}
		var dot, ng, nr float64
		for k, v := range got {
			dot += float64(v) * r.Vector[k]
			ng += float64(v) * float64(v)
			nr += r.Vector[k] * r.Vector[k]
		}
		cos := dot / math.Sqrt(ng*nr)
		worst = min(worst, cos)
		if cos < 0.999 || math.IsNaN(cos) {
			t.Errorf("Vector(%q): cosine %.5f with the reference", r.Text, cos)
		}
		if math.Abs(ng-1) > 1e-4 {
			t.Errorf("Vector(%q): norm² %.6f, want 1", r.Text, ng)
		}
	}
	t.Logf("lowest cosine with the reference: %.6f", worst)
}

func BenchmarkVector(b *testing.B) {
	e := testEncoder(b)
	q := "Does the stainless steel water bottle keep drinks cold for 24 hours?"
	b.Logf("%d pieces", len(e.Tokenizer().Encode(q)))
	for b.Loop() {
		e.Vector(q)
	}
}

// BenchmarkVectorChunk embeds a text of MaxPieces pieces, the most one
// window holds: the cost of a chunk at ingest.
func BenchmarkVectorChunk(b *testing.B) {
	e := testEncoder(b)
	ids := e.Tokenizer().Encode(strings.Repeat("the parcel arrived late and the box was damaged. ", 20))[:MaxPieces]
	for b.Loop() {
		e.vector(ids)
	}
}
