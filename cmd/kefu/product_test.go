package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

// The README's grouped export: with --product-field ASIN each grouped
// product carries its ASIN, the store filters on it, and `kefu ask
// --product` asks from that product's page.
func TestIngestProductFieldAndAskProduct(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(t.TempDir(), "qa.csv")
	err := os.WriteFile(csv, []byte(`qid,question,ASIN,title,candidate,source
1,does it fit the iPad Air?,B001,Lumi Tablet Case,fits the iPad Air 11 inch and the iPad Air 13 inch,cqa
2,is it magnetic?,B001,Lumi Tablet Case,a magnetic cover that wakes the iPad,bullet
3,does it fit the iPad Air?,B002,Lumi Phone Case,it fits the iPhone 15; with the stand it holds an iPad Air upright,cqa
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := run(t, nil, "ingest", "--data-dir", dir, "--type", "product", "--group-by", "ASIN", "--title-field", "title",
		"--fields", "title,candidate,source", "--product-field", "ASIN", csv)
	if err != nil {
		t.Fatalf("ingest: %v\n%s\n%s", err, out, stderr)
	}
	cfg, err := LoadConfig("", func(k string) string { return map[string]string{"KEFU_DATA_DIR": dir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(cfg, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	for _, product := range []string{"B001", "B002"} {
		hits, err := a.store.Search(context.Background(), kefu.Query{Text: "does it fit the iPad Air", Filter: kefu.Filter{ProductID: product}, TopK: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Errorf("no chunks of %s", product)
		}
		for _, h := range hits {
			if h.Chunk.Meta[kefu.MetaProductID] != product || !strings.HasSuffix(h.Chunk.DocID, "#"+product) {
				t.Errorf("filter %s returned %s (product %q)", product, h.Chunk.ID, h.Chunk.Meta[kefu.MetaProductID])
			}
		}
	}
	a.Close()

	// Shop-wide the tablet case answers best; from the phone case's page,
	// the phone case's own chunk leads.
	for product, want := range map[string]string{"": "#B001#", "B002": "#B002#"} {
		out, stderr, err = run(t, nil, "ask", "--data-dir", dir, "--product", product, "--explain", "does it fit the iPad Air?")
		if err != nil {
			t.Fatalf("ask: %v\n%s", err, stderr)
		}
		_, first, _ := strings.Cut(stderr, " 1. ")
		if first, _, _ = strings.Cut(first, " "); !strings.Contains(first, want) {
			t.Errorf("asked from product %q, the first chunk is %q, want one of %s:\n%s\n%s", product, first, want, out, stderr)
		}
	}
	if _, _, err := run(t, nil, "ask", "--data-dir", dir, "--product", "B002; rm", "hi"); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("ask --product with a bad id: %v, want an invalid error", err)
	}
}
