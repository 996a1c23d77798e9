package ingest

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

// productIDs runs an ingest of paths and returns each stored document's
// product id by the document id's last path element ("products.json#P1"),
// checking that every chunk carries its document's.
func productIDs(t *testing.T, opts Options, paths ...string) (map[string]string, Summary) {
	t.Helper()
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, opts).Run(context.Background(), paths...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, id := range st.ids() {
		doc, chunks, _ := st.doc(id)
		want := doc.Meta[kefu.MetaProductID]
		out[path.Base(id)] = want
		if len(chunks) == 0 {
			t.Errorf("%s has no chunks", id)
		}
		for _, c := range chunks {
			if got := c.Meta[kefu.MetaProductID]; got != want {
				t.Errorf("chunk %s has product id %q, its document %q", c.ID, got, want)
			}
		}
	}
	return out, sum
}

func wantProducts(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("documents %v, want %v", got, want)
	}
	for id, p := range want {
		if g, ok := got[id]; !ok || g != p {
			t.Errorf("%s: product id %q (stored %t), want %q", id, g, ok, p)
		}
	}
}

func TestProductIDOfGroupedRows(t *testing.T) {
	csv := "answers.csv"
	base := Options{Type: kefu.TypeProduct, GroupBy: "ASIN", TitleField: "title", Fields: []string{"title", "candidate", "source"}}

	// The README's command: each grouped product gets its ASIN.
	opts := base
	opts.ProductField = "ASIN"
	got, _ := productIDs(t, opts, nested+csv)
	wantProducts(t, got, map[string]string{csv + "#B001": "B001", csv + "#B002": "B002"})

	// Without --product-field a product record's id is its product id,
	// which for a group is the grouped value.
	got, _ = productIDs(t, base, nested+csv)
	wantProducts(t, got, map[string]string{csv + "#B001": "B001", csv + "#B002": "B002"})

	// With another id, the field still names the product.
	opts.IDField = "title"
	got, _ = productIDs(t, opts, nested+csv)
	wantProducts(t, got, map[string]string{csv + "#Crisper Drawer 240337103": "B001", csv + "#Quiet Fan": "B002"})

	// Field names match as record fields do, whatever their case.
	opts.ProductField = "asin"
	got, _ = productIDs(t, opts, nested+csv)
	wantProducts(t, got, map[string]string{csv + "#Crisper Drawer 240337103": "B001", csv + "#Quiet Fan": "B002"})
}

func TestProductIDOfRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		return p
	}
	products := write("products.json", `[{"sku": "LM-1", "name": "Kettle", "price": 199},
		{"sku": "LM-2", "name": "Tablet case", "price": 99, "model": "M-2"}]`)
	faq := write("faq.jsonl", `{"id": "f1", "question": "Does the case fit the iPad Air?", "answer": "Yes.", "sku": "LM-2"}
{"id": "f2", "question": "Do you gift wrap?", "answer": "Yes, for 5 yuan."}
`)
	page := write("kettle.md", "---\ntype: product\nproduct_id: LM-1\n---\n# Kettle\n\nBoils 1.7 L in four minutes.\n")
	policy := write("returns.md", "# Returns\n\nReturn within 30 days.\n")

	// Defaults: product records by their id, front matter as written,
	// nothing for other records and pages.
	got, sum := productIDs(t, Options{}, products, faq, page, policy)
	if len(sum.Failed) != 0 {
		t.Fatalf("failures: %v", sum.Failed)
	}
	wantProducts(t, got, map[string]string{
		"products.json#LM-1": "LM-1", "products.json#LM-2": "LM-2",
		"faq.jsonl#f1": "", "faq.jsonl#f2": "",
		"kettle.md": "LM-1", "returns.md": "",
	})

	// A named field tags any record type that has it; a product record
	// without it keeps its own id.
	got, sum = productIDs(t, Options{ProductField: "model"}, products, faq)
	wantProducts(t, got, map[string]string{
		"products.json#LM-1": "LM-1", "products.json#LM-2": "M-2",
		"faq.jsonl#f1": "", "faq.jsonl#f2": "",
	})
	got, _ = productIDs(t, Options{ProductField: "sku"}, faq)
	wantProducts(t, got, map[string]string{"faq.jsonl#f1": "LM-2", "faq.jsonl#f2": ""})
	if len(sum.Failed) != 0 {
		t.Fatalf("failures: %v", sum.Failed)
	}
}

func TestProductIDFromLevel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "qa.json")
	writeFile(t, p, `{"B07": {"q1": {"question": "Is it loud?", "answer": "25 dB."}}}`)
	got, sum := productIDs(t, Options{Type: kefu.TypeFAQ, Levels: []string{"asin"}, ProductField: "ASIN"}, p)
	if len(sum.Failed) != 0 {
		t.Fatalf("failures: %v", sum.Failed)
	}
	wantProducts(t, got, map[string]string{"qa.json#q1": "B07"})
}

func TestBadProductIDFailsTheRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "products.csv")
	writeFile(t, p, "sku,name,model\nP1,Kettle,KT 200\nP2,Fan,FN-3\n")
	got, sum := productIDs(t, Options{Type: kefu.TypeProduct, ProductField: "model"}, p)
	wantProducts(t, got, map[string]string{"products.csv#P2": "FN-3"})
	if len(sum.Failed) != 1 || sum.Failed[0].Line != 2 || !strings.Contains(sum.Failed[0].Reason, `product id from "model"`) ||
		!strings.Contains(sum.Failed[0].Reason, "KT 200") {
		t.Fatalf("failures %v, want line 2's product id refused", sum.Failed)
	}

	// A record id unfit for a product id is still ingested, without one.
	writeFile(t, p, "sku,name\nP 1,Kettle\n")
	got, sum = productIDs(t, Options{Type: kefu.TypeProduct}, p)
	if len(sum.Failed) != 0 {
		t.Fatalf("failures: %v", sum.Failed)
	}
	wantProducts(t, got, map[string]string{"products.csv#P 1": ""})
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
