package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

// realDataDir returns the folder of public corpora kept beside the
// repository (see its README), or skips the test when it is absent.
func realDataDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		tb.Skipf("public corpora not found at %s", dir)
	}
	return dir
}

// realCorpus is one public corpus and how it is ingested: paths relative
// to the corpora folder, and the options a content team would pass (each
// one flag of kefu ingest).
type realCorpus struct {
	name  string
	opts  Options
	paths []string

	docs    int            // documents written
	types   map[string]int // documents by type
	skipped int            // collections or files left out as personal data
	failed  int
	// facts are phrases some chunk must hold, each from the document whose
	// id ends with the key.
	facts map[string]string
	// private are strings (other people's contact details) that no
	// public chunk may hold.
	private []string
}

// realCorpora are the public corpora with their expected shapes.
var realCorpora = []realCorpus{
	{
		name:  "tau2-retail",
		paths: []string{"tau2-retail/policy.md", "tau2-retail/db.json"},
		docs:  1 + 50 + 1000, types: map[string]int{kefu.TypePolicy: 1, kefu.TypeProduct: 50, kefu.TypeOrder: 1000},
		skipped: 1, // users
		facts: map[string]string{
			"db.json##W2611340":  "Tracking id: 357962501027",
			"db.json#9523456873": "Item id: 9612497925, Options: (Color: blue, Size: M, Material: cotton, Style: crew neck), Available: yes, Price: 50.88",
			"policy.md":          "An order can only be exchanged if its status is 'delivered'",
		},
		private: []string{"noah.brown7922@example.com", "paypal_5727330"},
	},
	{
		name:  "ecom-bench-zh",
		opts:  Options{Levels: []string{"platform", "shop", "customer_id"}},
		paths: []string{"ecom-bench-zh/agent_policy_wiki.md", "ecom-bench-zh/products.json", "ecom-bench-zh/discount.json", "ecom-bench-zh/orders.json", "ecom-bench-zh/logistics.json", "ecom-bench-zh/service.json", "ecom-bench-zh/users_info.json"},
		docs:  1 + 52 + 1 + 41 + 39 + 1, types: map[string]int{kefu.TypePolicy: 2, kefu.TypeProduct: 52, kefu.TypeOrder: 81},
		skipped: 1, // users_info.json
		facts: map[string]string{
			"products.json#100112573665":             "整机包修8年",
			"logistics.json#313021098954":            "JD1234567890",
			"discount.json#5de650c946e7c3001814990f": "购买一级能效家电享20%补贴",
		},
		private: []string{"15540534614", "宋敬明"},
	},
	{
		name:  "cn-consumer-law",
		opts:  Options{Type: kefu.TypePolicy}, // product-quality-law-2018.md is no product
		paths: []string{"cn-consumer-law"},
		docs:  7, types: map[string]int{kefu.TypePolicy: 7},
		facts: map[string]string{
			"consumer-rights-protection-law-2013.md": "消费者有权自收到商品之日起七日内退货，且无需说明理由",
		},
	},
	{
		name:  "tau2-banking-knowledge",
		paths: []string{"tau2-banking-knowledge/documents.jsonl"},
		docs:  698, types: map[string]int{kefu.TypePolicy: 698},
		facts: map[string]string{
			"documents.jsonl#doc_bank_accounts_bank_accounts_(general)_001": "The customer does not exceed 4 personal checking accounts.",
		},
	},
	{
		name:  "abcd",
		paths: []string{"abcd/guidelines.json"},
		docs:  10, types: map[string]int{kefu.TypePolicy: 10},
		facts: map[string]string{
			"guidelines.json#Product Defect": "If the customer does not know, the default amount is $50",
		},
	},
	{
		name:  "amazon-epqa",
		opts:  Options{Type: kefu.TypeProduct, GroupBy: "ASIN", TitleField: "title", Fields: []string{"title", "candidate", "source"}},
		paths: []string{"amazon-epqa/epqa-dev.csv"},
		docs:  888, types: map[string]int{kefu.TypeProduct: 888},
		facts: map[string]string{
			"epqa-dev.csv#B00545ATZW": "crisper drawer 240337103 stores fruits and vegetables",
		},
		// The shopper questions and the written answers are the
		// benchmark's, not the shop's knowledge.
		private: []string{"my frigidaire model # is frs20qrb", "I'm not sure but it will fit if you order the correct #."},
	},
}

// TestRealData ingests each public corpus as a content team would and
// checks what it becomes: document counts and types, owners of orders,
// personal data left out, chunk sizes, and facts retrievable as text.
func TestRealData(t *testing.T) {
	dir := realDataDir(t)
	c := newTestChunker(t, DefaultMaxChunkTokens)
	for _, rc := range realCorpora {
		t.Run(rc.name, func(t *testing.T) {
			if testing.Short() && rc.docs > 500 {
				t.Skip("large corpus: skipped in short mode")
			}
			paths := make([]string, len(rc.paths))
			for i, p := range rc.paths {
				paths[i] = filepath.Join(dir, filepath.FromSlash(p))
			}
			st := newMemStore()
			sum, err := New(st, &hashEmbedder{}, rc.opts).Run(context.Background(), paths...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d files, %d documents, %d chunks, %d skipped, %d failed in %s",
				rc.name, sum.Files, sum.Documents, sum.Chunks, len(sum.Skipped), len(sum.Failed), sum.Elapsed)
			if len(sum.Failed) != rc.failed {
				t.Errorf("failed = %d, want %d: %s", len(sum.Failed), rc.failed, sum)
			}
			if len(sum.Skipped) != rc.skipped {
				t.Errorf("skipped = %d, want %d: %s", len(sum.Skipped), rc.skipped, sum)
			}
			if sum.Documents != rc.docs {
				t.Errorf("documents = %d, want %d", sum.Documents, rc.docs)
			}
			types := map[string]int{}
			chunks := 0
			for _, id := range st.ids() {
				doc, cs, _ := st.doc(id)
				types[doc.Type]++
				chunks += len(cs)
				if doc.Type == kefu.TypeOrder && doc.CustomerID == "" {
					t.Errorf("order %s has no customer", id)
				}
				if len(cs) == 0 {
					t.Errorf("%s has no chunks", id)
				}
				for _, ch := range cs {
					checkRealChunk(t, c, doc, ch, rc)
				}
			}
			for typ, n := range rc.types {
				if types[typ] != n {
					t.Errorf("%s documents = %d, want %d (all: %v)", typ, types[typ], n, types)
				}
			}
			if chunks != sum.Chunks {
				t.Errorf("stored chunks = %d, summary says %d", chunks, sum.Chunks)
			}
			for suffix, fact := range rc.facts {
				if !factInChunk(st, suffix, fact) {
					t.Errorf("no chunk of a document ending in %q holds %q", suffix, fact)
				}
			}
		})
	}
}

// checkRealChunk checks one chunk: its size, its owner, and that a public
// chunk holds none of the corpus's private strings.
func checkRealChunk(t *testing.T, c *chunker, doc kefu.Document, ch kefu.Chunk, rc realCorpus) {
	t.Helper()
	if ch.Tokens > DefaultMaxChunkTokens || ch.Tokens <= 0 {
		t.Errorf("%s: %d tokens, limit %d", ch.ID, ch.Tokens, DefaultMaxChunkTokens)
	}
	// Tokens may count high by a token where the text was tokenized in
	// segments, never low.
	if n := len(c.enc.EncodeOrdinary(ch.Text)); n > ch.Tokens || ch.Tokens > n+1+len(ch.Text)/segmentBytes {
		t.Errorf("%s: says %d tokens, has %d", ch.ID, ch.Tokens, n)
	}
	if !utf8.ValidString(ch.Text) {
		t.Errorf("%s: invalid UTF-8", ch.ID)
	}
	if ch.CustomerID != doc.CustomerID {
		t.Errorf("%s: owner %q, its document's %q", ch.ID, ch.CustomerID, doc.CustomerID)
	}
	if ch.CustomerID == "" {
		for _, p := range rc.private {
			if strings.Contains(ch.Text, p) {
				t.Errorf("public chunk %s holds private %q", ch.ID, p)
			}
		}
	}
}

func factInChunk(st *memStore, suffix, fact string) bool {
	for _, id := range st.ids() {
		if !strings.HasSuffix(id, suffix) {
			continue
		}
		_, cs, _ := st.doc(id)
		for _, ch := range cs {
			if strings.Contains(ch.Text, fact) {
				return true
			}
		}
	}
	return false
}

// TestRealStatutesChunkPerArticle checks that the Chinese statutes are cut
// per article: every chunk holds text of one article only, led by its
// chapter heading, and a chunk that is not an article's end stops at a
// sentence or clause end (。！？；).
func TestRealStatutesChunkPerArticle(t *testing.T) {
	dir := filepath.Join(realDataDir(t), "cn-consumer-law")
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{}).Run(context.Background(), dir)
	if err != nil || len(sum.Failed) > 0 {
		t.Fatalf("%v\n%s", err, sum)
	}
	articles, split := 0, 0
	for _, id := range st.ids() {
		_, cs, _ := st.doc(id)
		for i, ch := range cs {
			body := ch.Text
			if strings.HasPrefix(body, "#") {
				_, body, _ = strings.Cut(body, "\n\n")
			}
			if n := strings.Count(body, "\n\n第"); n > 0 && articleStart.MatchString(strings.SplitAfter(body, "\n\n第")[1]) {
				t.Errorf("%s holds more than one article:\n%s", ch.ID, ch.Text)
			}
			num := ch.Heading[strings.LastIndex(ch.Heading, " > ")+3:]
			if !articleStart.MatchString(num + " ") {
				continue // a preamble
			}
			if strings.HasPrefix(body, num) {
				articles++
			}
			last := i+1 == len(cs) || cs[i+1].Heading != ch.Heading
			if last {
				continue
			}
			split++
			r, _ := utf8.DecodeLastRuneInString(strings.TrimSpace(body))
			if !strings.ContainsRune("。！？；", r) {
				t.Errorf("%s ends mid-sentence (%q):\n%s", ch.ID, r, ch.Text)
			}
		}
	}
	t.Logf("%d articles, %d chunks ending inside an article", articles, split)
	if articles < 300 {
		t.Errorf("found %d articles, want over 300", articles)
	}
}
