package ingest

import (
	"context"
	"io/fs"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

// TestReadingOptions keeps readingOptions in step with Options: every
// option either shapes what a file yields (and is in the digest) or is
// named here as one that does not.
func TestReadingOptions(t *testing.T) {
	notReading := []string{"Prune", "BatchSize", "Concurrency", "MaxAttempts", "RetryDelay", "Gate", "GateTimeout", "Progress"}
	reading := reflect.TypeFor[readingOptions]()
	for f := range reflect.TypeFor[Options]().Fields() {
		_, inDigest := reading.FieldByName(f.Name)
		if f.Name == "MaxChunkTokens" {
			inDigest = true // in the chunker's version
		}
		if !inDigest && !slices.Contains(notReading, f.Name) {
			t.Errorf("Options.%s is neither in readingOptions nor named as not shaping what a file yields", f.Name)
		}
	}
}

// countingFS counts the opens of each file.
type countingFS struct {
	fs.FS
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.FS.Open(name)
}

func TestUnchangedFileIsNotParsed(t *testing.T) {
	ctx := context.Background()
	emb := embedding.NewLocal(64)
	st, err := embedded.Open(t.TempDir(), embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files := fstest.MapFS{
		"shop/faq.jsonl":    {Data: []byte(`{"id":"q1","question":"Gift wrap?","answer":"Eight yuan."}` + "\n" + `not json` + "\n" + `{"id":"q2","question":"Points?","answer":"Never expire."}` + "\n")},
		"shop/returns.md":   {Data: []byte("# Returns\n\nWithin 30 days.\n")},
		"shop/shipping.md":  {Data: []byte("# Shipping\n\nFree over 99 yuan.\n")},
		"other/warranty.md": {Data: []byte("# Warranty\n\nOne year.\n")},
	}
	cfs := &countingFS{FS: files, opens: map[string]int{}}
	run := func(t *testing.T, opts Options, paths ...string) Summary {
		t.Helper()
		clear(cfs.opens)
		sum, err := New(st, EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
			out := make([][]float32, len(texts))
			for i, s := range texts {
				out[i] = emb.Vector(s)
			}
			return out, nil
		}), opts).RunFS(ctx, cfs, paths...)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	first := run(t, Options{Prune: true}, "shop")
	if first.Documents != 4 || len(first.Failed) != 1 {
		t.Fatalf("first run: %+v", first)
	}

	again := run(t, Options{Prune: true}, "shop")
	if again.Documents != 0 || again.Unchanged != 4 || again.Pruned != 0 {
		t.Fatalf("unchanged re-run: %+v", again)
	}
	if !reflect.DeepEqual(again.Failed, first.Failed) {
		t.Errorf("the bad record is reported as %v, first as %v", again.Failed, first.Failed)
	}
	for name := range files {
		if n := cfs.opens[name]; n != 1 && name != "other/warranty.md" {
			t.Errorf("%s opened %d times in an unchanged run: it was parsed, not only fingerprinted", name, n)
		}
	}

	// Changed bytes: parsed, and the change stored.
	files["shop/returns.md"] = &fstest.MapFile{Data: []byte("# Returns\n\nWithin 14 days.\n")}
	changed := run(t, Options{Prune: true}, "shop")
	if changed.Documents != 1 || changed.Unchanged != 3 {
		t.Fatalf("after changing one file: %+v", changed)
	}
	if cfs.opens["shop/returns.md"] < 2 || cfs.opens["shop/shipping.md"] != 1 {
		t.Errorf("opens after changing returns.md: %v", cfs.opens)
	}

	// Options that shape reading: every file is read again.
	typed := run(t, Options{Prune: true, Type: "faq"}, "shop")
	if cfs.opens["shop/shipping.md"] < 2 || typed.Documents == 0 {
		t.Errorf("a new --type did not make the files be read again: %+v, opens %v", typed, cfs.opens)
	}
	run(t, Options{Prune: true}, "shop") // back as it was

	// A document removed behind the ingester's back is restored.
	docs, _ := st.Documents(ctx)
	victim := ""
	for _, d := range docs {
		if d.Source == "shop/shipping.md" {
			victim = d.ID
		}
	}
	if victim == "" {
		t.Fatalf("no document from shipping.md in %v", docs)
	}
	if err := st.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	restored := run(t, Options{Prune: true}, "shop")
	if restored.Documents != 1 {
		t.Fatalf("after deleting %s behind the ingester's back: %+v", victim, restored)
	}

	// Another root in the same store: each file keeps its own state.
	run(t, Options{}, "other")
	if again := run(t, Options{Prune: true}, "shop"); again.Unchanged != 4 || again.Pruned != 0 {
		t.Fatalf("shop after ingesting another root: %+v", again)
	}
}
