package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kefuhq/kefu"
)

// shopCopy copies the fixture shop to a temporary folder and returns its
// path, which is absolute: sources then start with "shop/".
func shopCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	copyDir(t, filepath.Join("testdata", "shop"), dir)
	return dir
}

func failures(s Summary) []string {
	var out []string
	for _, f := range s.Failed {
		out = append(out, f.String())
	}
	return out
}

func TestRunShop(t *testing.T) {
	st := newMemStore()
	emb := &hashEmbedder{}
	sum, err := New(st, emb, Options{}).Run(context.Background(), "testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	// Walked: catalog.json, faq.jsonl, help.html, orders.json, orders.jsonl,
	// policies/returns.en.md, policies/shipping.md, products.csv,
	// store-hours.txt. Skipped: README.md, golden.jsonl, .drafts/, logo.xyz.
	if sum.Files != 9 {
		t.Errorf("Files = %d, want 9", sum.Files)
	}
	wantFailed := []string{
		filepath.Join("testdata", "shop", "faq.jsonl") + ":2: invalid JSON: unexpected end of line",
		filepath.Join("testdata", "shop", "orders.jsonl") + ":2: order W240401-2002: no customer id",
	}
	got := failures(sum)
	if len(got) != len(wantFailed) {
		t.Fatalf("failures = %q", got)
	}
	for i := range got {
		if !strings.HasPrefix(got[i], wantFailed[i]) {
			t.Errorf("failure %d = %q, want %q...", i, got[i], wantFailed[i])
		}
	}
	wantIDs := []string{
		"testdata/shop/catalog.json#LM-PC-001",
		"testdata/shop/catalog.json#LM-PC-002",
		"testdata/shop/faq.jsonl#faq-01",
		"testdata/shop/faq.jsonl#faq-03",
		"testdata/shop/faq.jsonl#faq-04",
		"testdata/shop/help.html",
		"testdata/shop/orders.json#W240315-1001",
		"testdata/shop/orders.json#W240316-1002",
		"testdata/shop/orders.jsonl#W240401-2001",
		"testdata/shop/orders.jsonl#W240402-2003",
		"testdata/shop/policies/returns.en.md",
		"testdata/shop/policies/shipping.md",
		"testdata/shop/products.csv#LM-HP-001",
		"testdata/shop/products.csv#LM-KA-003",
		"testdata/shop/products.csv#LM-SP-001",
		"testdata/shop/store-hours.txt",
	}
	if ids := st.ids(); strings.Join(ids, "\n") != strings.Join(wantIDs, "\n") {
		t.Errorf("stored ids:\n%s\nwant:\n%s", strings.Join(ids, "\n"), strings.Join(wantIDs, "\n"))
	}
	if sum.Documents != len(wantIDs) || sum.Unchanged != 0 || st.replaces != len(wantIDs) {
		t.Errorf("Documents %d, Unchanged %d, replaces %d; want %d, 0, %d", sum.Documents, sum.Unchanged, st.replaces, len(wantIDs), len(wantIDs))
	}
	chunks := 0
	for _, id := range st.ids() {
		d, cs, _ := st.doc(id)
		chunks += len(cs)
		if d.Hash == "" || len(d.Hash) != 64 {
			t.Errorf("%s: hash %q", id, d.Hash)
		}
		if (d.Type == kefu.TypeOrder) != (d.CustomerID != "") {
			t.Errorf("%s: type %s with customer %q", id, d.Type, d.CustomerID)
		}
		for i, c := range cs {
			if len(c.Vector) == 0 {
				t.Errorf("%s: chunk %d has no vector", id, i)
			}
			if c.CustomerID != d.CustomerID || c.DocID != d.ID || c.Ordinal != i {
				t.Errorf("%s: chunk %d = %+v", id, i, c)
			}
		}
	}
	if sum.Chunks != chunks {
		t.Errorf("Chunks = %d, stored %d", sum.Chunks, chunks)
	}
	// Titles are embedded with the text so that they are searchable.
	found := false
	for _, text := range emb.texts {
		if strings.HasPrefix(text, "Returns and refunds\nReturns policy > Opened items\n\n## Opened items") {
			found = true
		}
	}
	if !found {
		t.Errorf("no embedded text starts with the title and heading path: %q", emb.texts)
	}
	if s := sum.String(); !strings.Contains(s, "failed:    2") || !strings.Contains(s, got[0]) || !strings.Contains(s, "16 written") {
		t.Errorf("String() =\n%s", s)
	}
}

func TestRunIncremental(t *testing.T) {
	dir := shopCopy(t)
	st := newMemStore()
	ctx := context.Background()
	in := New(st, &hashEmbedder{}, Options{Prune: true})
	first, err := in.Run(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := st.doc("shop/policies/returns.en.md"); !ok {
		t.Fatalf("absolute paths should give sources under the folder's name; have %q", st.ids())
	}

	// Same files again: nothing is written.
	st.replaces = 0
	second, err := in.Run(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if second.Documents != 0 || second.Chunks != 0 || second.Unchanged != first.Documents || st.replaces != 0 || second.Pruned != 0 {
		t.Fatalf("second run: %+v, %d replaces; first wrote %d", second, st.replaces, first.Documents)
	}

	// A changed policy is replaced; one changed line of a JSONL file
	// replaces that record only.
	edit(t, filepath.Join(dir, "policies", "returns.en.md"), "30 days of delivery", "45 days of delivery")
	edit(t, filepath.Join(dir, "faq.jsonl"), "to 30 countries", "to 40 countries")
	third, err := in.Run(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if third.Documents != 2 || st.replaces != 2 || third.Unchanged != first.Documents-2 {
		t.Fatalf("third run: %+v, %d replaces", third, st.replaces)
	}
	if _, cs, _ := st.doc("shop/policies/returns.en.md"); !strings.Contains(cs[1].Text, "45 days") {
		t.Errorf("changed policy not stored: %q", cs[1].Text)
	}

	// Prune: a removed file and a removed record go; the failing lines of
	// faq.jsonl and orders.jsonl keep their files from being pruned.
	if err := os.Remove(filepath.Join(dir, "store-hours.txt")); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(dir, "products.csv"), "LM-SP-001,Lumi Pebble Portable Speaker,249.00,0,blue\n", "")
	edit(t, filepath.Join(dir, "orders.json"), `"customerId": "C1002"`, `"customerId": "C1003"`)
	fourth, err := in.Run(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Pruned != 2 || fourth.Documents != 1 {
		t.Fatalf("fourth run: %+v", fourth)
	}
	for _, id := range []string{"shop/store-hours.txt", "shop/products.csv#LM-SP-001"} {
		if _, _, ok := st.doc(id); ok {
			t.Errorf("%s was not pruned", id)
		}
	}
	if d, _, _ := st.doc("shop/orders.json#W240316-1002"); d.CustomerID != "C1003" {
		t.Errorf("order owner not updated: %+v", d)
	}

	// Without Prune, documents of other roots are left alone; with it, only
	// those under the walked roots go.
	other := newMemStore()
	other.docs["elsewhere/kept.md"] = kefu.Document{ID: "elsewhere/kept.md", Source: "elsewhere/kept.md", Hash: "x"}
	other.chunks["elsewhere/kept.md"] = []kefu.Chunk{{ID: "elsewhere/kept.md#0"}}
	if _, err := New(other, &hashEmbedder{}, Options{Prune: true}).Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := other.doc("elsewhere/kept.md"); !ok {
		t.Error("pruned a document outside the walked folders")
	}
}

// edit replaces old with new in a file, which must contain old.
func edit(t *testing.T, p, old, new string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", p, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunChunkSizeChangeRechunks(t *testing.T) {
	st := newMemStore()
	ctx := context.Background()
	if _, err := New(st, &hashEmbedder{}, Options{}).Run(ctx, "testdata/shop/store-hours.txt"); err != nil {
		t.Fatal(err)
	}
	sum, err := New(st, &hashEmbedder{}, Options{MaxChunkTokens: 40}).Run(ctx, "testdata/shop/store-hours.txt")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != 1 {
		t.Errorf("a new chunk size should re-chunk: %+v", sum)
	}
}

func TestRunPathFailures(t *testing.T) {
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{}).Run(context.Background(),
		"testdata/loose/data.xyz", // named directly: unknown formats fail
		"testdata/missing.md",
		"testdata/loose/empty.md",
		"testdata/shop/store-hours.txt",
		"testdata/shop/store-hours.txt", // repeated: read once
		"testdata/shop/README.md",       // named directly: read
		"testdata/loose/mixed.json",     // a non-object and a repeated id
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join("testdata", "loose", "data.xyz") + ": unsupported format .xyz",
		filepath.Join("testdata", "missing.md") + ": no such file or folder",
		filepath.Join("testdata", "loose", "empty.md") + ": no text",
		filepath.Join("testdata", "loose", "mixed.json") + ":1 (record 2): record is a string, not an object",
		filepath.Join("testdata", "loose", "mixed.json") + `:1 (record 3): duplicate document id "testdata/loose/mixed.json#A-1" (first at ` +
			filepath.Join("testdata", "loose", "mixed.json") + ":1)",
	}
	if got := failures(sum); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d, _, _ := st.doc("testdata/loose/mixed.json#A-1"); d.Title != "ok" {
		t.Errorf("the first of two records with one id should win: %+v", d)
	}
	if sum.Files != 4 || sum.Documents != 3 {
		t.Errorf("summary %+v", sum)
	}
}

func TestRunFatal(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("disk full")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		in   *Ingester
		want string
		is   error
	}{
		{"store fails", ctx, New(&memStore{docs: map[string]kefu.Document{}, chunks: map[string][]kefu.Chunk{}, ReplaceFn: func(kefu.Document, []kefu.Chunk) error { return boom }}, &hashEmbedder{}, Options{}), "ingest: replace", boom},
		{"embedder fails", ctx, New(newMemStore(), failEmbedder, Options{}), "ingest: embed", nil},
		{"wrong number of vectors", ctx, New(newMemStore(), EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) { return nil, nil }), Options{}), "ingest: embed 21 chunks of testdata/shop/catalog.json#LM-PC-001: embedder returned 0 vectors for 21 texts", nil},
		{"cancelled", cancelled, New(newMemStore(), &hashEmbedder{}, Options{}), "ingest: context canceled", context.Canceled},
		{"bad type", ctx, New(newMemStore(), &hashEmbedder{}, Options{Type: "recipe"}), `invalid: unknown document type "recipe"`, nil},
		{"tiny chunks", ctx, New(newMemStore(), &hashEmbedder{}, Options{MaxChunkTokens: 5}), "invalid: chunk size 5 is too small", nil},
		{"no store", ctx, New(nil, &hashEmbedder{}, Options{}), "invalid: ingest needs a store", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Run(tt.ctx, "testdata/shop")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
	if _, err := New(newMemStore(), &hashEmbedder{}, Options{}).Run(ctx); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("no paths: err = %v", err)
	}
}

func TestRunCancelledMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inner := &hashEmbedder{}
	emb := EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		v, err := inner.Embed(ctx, texts)
		cancel() // the shopper pressed Ctrl-C during the first call
		return v, err
	})
	st := newMemStore()
	sum, err := New(st, emb, Options{BatchSize: 2}).Run(ctx, "testdata/shop")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// The calls already made when the shopper cancels end; no more start.
	if len(inner.batches) > DefaultConcurrency || sum.Documents != len(st.ids()) || sum.Documents > 2 {
		t.Errorf("after cancel: %d embed calls, summary %+v, stored %q", len(inner.batches), sum, st.ids())
	}
}

func TestRunBatches(t *testing.T) {
	emb := &hashEmbedder{}
	sum, err := New(newMemStore(), emb, Options{BatchSize: 4, MaxChunkTokens: 64}).Run(context.Background(), "testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	// Batches are embedded concurrently, so the short last one may
	// arrive before full ones.
	total, short := 0, 0
	for i, n := range emb.batches {
		total += n
		if n > 4 {
			t.Errorf("batch %d has %d texts, want at most 4", i, n)
		}
		if n < 4 {
			short++
		}
	}
	if short > 1 {
		t.Errorf("%d batches are short of 4 texts (%v), want at most the last", short, emb.batches)
	}
	if total != sum.Chunks || total < 20 {
		t.Errorf("embedded %d texts for %d chunks", total, sum.Chunks)
	}
}

func TestRunFS(t *testing.T) {
	fsys := fstest.MapFS{
		"policies/returns.en.md": {Data: []byte("# Returns\n\n30 days.")},
		"policies/.hidden.md":    {Data: []byte("# Hidden")},
		"faq.jsonl":              {Data: []byte(`{"id": "f1", "question": "Q?", "answer": "A."}` + "\n")},
		"golden.jsonl":           {Data: []byte(`{"question": "eval"}` + "\n")},
	}
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{}).RunFS(context.Background(), fsys, ".", "nope.md", "../escape.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.ids(), " "); got != "faq.jsonl#f1 policies/returns.en.md" {
		t.Errorf("ids = %s", got)
	}
	if got := failures(sum); len(got) != 2 || got[0] != "nope.md: no such file or folder" || got[1] != "../escape.md: invalid path" {
		t.Errorf("failures = %q", got)
	}
}

func TestSourceOf(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("testdata", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"examples/demo-shop", "examples/demo-shop"},
		{"./examples/demo-shop/", "examples/demo-shop"},
		{"faq.jsonl", "faq.jsonl"},
		{".", "."},
		{abs, "shop"},
		{filepath.Join(abs, "faq.jsonl"), "faq.jsonl"},
		{"../ingest/testdata", "testdata"},
		{"..", "kefu-parent"}, // replaced below: the working folder's name
	}
	wd, _ := os.Getwd()
	tests[len(tests)-1].want = filepath.Base(filepath.Dir(wd))
	for _, tt := range tests {
		if got := sourceOf(tt.in); got != tt.want {
			t.Errorf("sourceOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnderRoots(t *testing.T) {
	roots := []root{{source: "shop", dir: true}, {source: "extra/faq.jsonl"}}
	tests := []struct {
		source string
		want   bool
	}{
		{"shop/faq.jsonl", true},
		{"shop/policies/returns.md", true},
		{"shopping/x.md", false},
		{"extra/faq.jsonl", true},
		{"extra/other.jsonl", false},
	}
	for _, tt := range tests {
		if got := underRoots(tt.source, roots); got != tt.want {
			t.Errorf("underRoots(%q) = %v, want %v", tt.source, got, tt.want)
		}
	}
	if !underRoots("a/b.md", []root{{source: ".", dir: true}}) || underRoots("../a.md", []root{{source: ".", dir: true}}) {
		t.Error("root . should own every relative source")
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Files: 3, Documents: 2, Chunks: 5, Unchanged: 1, Pruned: 1, Failed: []FileError{
		{File: "faq.jsonl", Line: 2, Reason: "invalid JSON"},
		{File: "catalog.json", Line: 7, Record: 3, Reason: "record is a string, not an object"},
		{File: "scan.pdf", Reason: "no text layer (scanned PDF?)"},
	}}
	want := `files:     3
documents: 2 written (5 chunks), 1 unchanged
pruned:    1
elapsed:   0s
failed:    3
  faq.jsonl:2: invalid JSON
  catalog.json:7 (record 3): record is a string, not an object
  scan.pdf: no text layer (scanned PDF?)
`
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestDemoShop(t *testing.T) {
	dir := filepath.Join("..", "examples", "demo-shop")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no demo shop in this tree")
	}
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{}).RunFS(context.Background(), os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) > 0 {
		t.Errorf("demo shop failures:\n%s", sum)
	}
	types := map[string]int{}
	for _, id := range st.ids() {
		d, cs, _ := st.doc(id)
		types[d.Type]++
		if d.Type == kefu.TypeOrder && d.CustomerID == "" {
			t.Errorf("%s: order without customer", id)
		}
		if strings.HasPrefix(d.Source, "golden") || strings.EqualFold(d.Source, "README.md") {
			t.Errorf("%s should not be ingested", id)
		}
		for _, c := range cs {
			if c.Tokens > DefaultMaxChunkTokens {
				t.Errorf("%s: %d tokens", c.ID, c.Tokens)
			}
		}
	}
	for _, typ := range kefu.DocTypes {
		if types[typ] == 0 {
			t.Errorf("no %s documents in the demo shop: %v", typ, types)
		}
	}
}

func TestIngestFS(t *testing.T) {
	st := newMemStore()
	in := New(st, &hashEmbedder{}, Options{Prune: true, Type: kefu.TypeFAQ})
	fsys := fstest.MapFS{
		"README.md":    {Data: []byte("# Read me\n\nNamed files are read whatever their name.")},
		"catalog.csv":  {Data: []byte("ref,name,price\nK-1,Kettle,99\n")},
		"unnamed.json": {Data: []byte(`[{"sku": "X"}]`)},
	}
	sum, err := in.IngestFS(context.Background(), fsys, Options{IDField: "ref", Type: kefu.TypeProduct}, "README.md", "catalog.csv")
	if err != nil || len(sum.Failed) > 0 {
		t.Fatalf("%v\n%s", err, sum)
	}
	if ids := st.ids(); strings.Join(ids, " ") != "README.md catalog.csv#K-1" {
		t.Errorf("ids = %q", ids)
	}
	if d, _, _ := st.doc("catalog.csv#K-1"); d.Type != kefu.TypeProduct {
		t.Errorf("type = %q: the upload's options were not used", d.Type)
	}
	// Nothing is pruned, whatever the Ingester's own options say.
	if _, err := in.IngestFS(context.Background(), fstest.MapFS{"other.txt": {Data: []byte("x")}}, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := len(st.ids()); n != 3 {
		t.Errorf("%d documents after a second upload, want 3", n)
	}

	if err := in.DeleteDocument(context.Background(), "catalog.csv#K-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := st.doc("catalog.csv#K-1"); ok {
		t.Error("document still stored")
	}
	if err := in.DeleteDocument(context.Background(), "catalog.csv#K-1"); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("deleting it again: %v", err)
	}
}
