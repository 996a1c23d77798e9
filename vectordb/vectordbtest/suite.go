// Package vectordbtest is the conformance suite that every chunk store
// passes: the same documents, filters and expectations for the embedded
// store and for Qdrant, so that moving between them changes nothing a
// shopper can see.
package vectordbtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
)

// Store is what the suite exercises.
type Store interface {
	Search(ctx context.Context, q kefu.Query) ([]kefu.Hit, error)
	Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error
	Delete(ctx context.Context, docID string) error
	Documents(ctx context.Context) ([]kefu.DocumentInfo, error)
}

// Dims is the vector size the suite's documents use; open the store with it.
const Dims = 256

var emb = embedding.NewLocal(Dims)

// Doc builds a one-chunk-per-paragraph document embedded with the local
// embedder. Paragraphs are separated by blank lines.
func Doc(id, typ, customer, text string) (kefu.Document, []kefu.Chunk) {
	doc := kefu.Document{ID: id, Type: typ, Title: id, Source: "test/" + id, CustomerID: customer, Text: text, Hash: fmt.Sprintf("%x", len(text))}
	var chunks []kefu.Chunk
	for i, p := range strings.Split(text, "\n\n") {
		chunks = append(chunks, kefu.Chunk{
			ID: fmt.Sprintf("%s#%d", id, i), DocID: id, Ordinal: i, Type: typ, Title: id, Source: doc.Source,
			CustomerID: customer, Text: p, Tokens: len(strings.Fields(p)), Vector: emb.Vector(p),
		})
	}
	return doc, chunks
}

// Query builds a query for text with the suite's embedder.
func Query(text string, f kefu.Filter, k int) kefu.Query {
	return kefu.Query{Text: text, Vector: emb.Vector(text), Filter: f, TopK: k}
}

// Run runs the suite; open returns a new, empty store each time it is called.
// MaxLexical bounds Hit.Lexical: BM25's term frequency saturates at k1+1
// (2.2) times a term's IDF, and expansion terms add at most a quarter more.
const MaxLexical = 2.2 * 1.25

func Run(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	put := func(t *testing.T, s Store, id, typ, customer, text string) {
		t.Helper()
		doc, chunks := Doc(id, typ, customer, text)
		if err := s.Replace(ctx, doc, chunks); err != nil {
			t.Fatalf("Replace(%s): %v", id, err)
		}
	}
	search := func(t *testing.T, s Store, q kefu.Query) []kefu.Hit {
		t.Helper()
		hits, err := s.Search(ctx, q)
		if err != nil {
			t.Fatalf("Search(%q): %v", q.Text, err)
		}
		return hits
	}
	seed := func(t *testing.T, s Store) {
		put(t, s, "returns", kefu.TypePolicy, "", "You can return most items within 30 days of delivery.\n\nRefunds reach Alipay in 3-5 business days.")
		put(t, s, "returns-zh", kefu.TypePolicy, "", "大部分商品签收后30天内可以退货。\n\n退款3-5个工作日退回支付宝。")
		put(t, s, "kettle", kefu.TypeProduct, "", "Lumi electric kettle, 1.7 L, 1800 W, stainless steel, price 199.")
		put(t, s, "order-a", kefu.TypeOrder, "C1", "Order W1 for customer C1: kettle, shipped, tracking SF111.")
		put(t, s, "order-b", kefu.TypeOrder, "C2", "Order W2 for customer C2: kettle, shipped, tracking SF222.")
	}

	t.Run("finds the relevant chunk first in both languages", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		for _, tc := range []struct{ q, want string }{
			{"how many days to return an item", "returns#0"},
			{"when will my refund reach alipay", "returns#1"},
			{"退货期限多少天", "returns-zh#0"},
			{"退款几天到账", "returns-zh#1"},
			{"kettle wattage", "kettle#0"},
		} {
			hits := search(t, s, Query(tc.q, kefu.Filter{}, 3))
			if len(hits) == 0 || hits[0].Chunk.ID != tc.want {
				t.Errorf("%q: top hit %v, want %s", tc.q, ids(hits), tc.want)
			}
		}
	})

	t.Run("customer filter is enforced inside the store", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		for _, q := range []string{"order W2 tracking SF222", "customer C2 kettle shipped", "order tracking", "W1 W2"} {
			for _, f := range []kefu.Filter{{}, {CustomerID: "C1"}, {CustomerID: "C1", Types: []string{kefu.TypeOrder}}, {CustomerID: "C1", OnlyCustomer: true}} {
				for _, h := range search(t, s, Query(q, f, 50)) {
					if h.Chunk.CustomerID != "" && h.Chunk.CustomerID != f.CustomerID {
						t.Fatalf("query %q with filter %+v returned %s owned by %s", q, f, h.Chunk.ID, h.Chunk.CustomerID)
					}
					if f.OnlyCustomer && h.Chunk.CustomerID != f.CustomerID {
						t.Fatalf("OnlyCustomer returned public chunk %s", h.Chunk.ID)
					}
				}
			}
		}
		hits := search(t, s, Query("order tracking", kefu.Filter{CustomerID: "C1", OnlyCustomer: true}, 10))
		if len(hits) != 1 || hits[0].Chunk.ID != "order-a#0" {
			t.Fatalf("C1's own orders: got %v, want [order-a#0]", ids(hits))
		}
	})

	t.Run("a query without text or vector lists what the filter allows", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		hits := search(t, s, kefu.Query{Filter: kefu.Filter{CustomerID: "C2", OnlyCustomer: true}, TopK: 10})
		if len(hits) != 1 || hits[0].Chunk.ID != "order-b#0" {
			t.Fatalf("listing C2's chunks: got %v, want [order-b#0]", ids(hits))
		}
		if all := search(t, s, kefu.Query{TopK: 100}); len(all) != 5 {
			t.Fatalf("anonymous listing returned %v, want the 5 public chunks", ids(all))
		}
	})

	t.Run("the version in force on a day", func(t *testing.T) {
		s := open(t)
		dated := func(id, from, to, text string) {
			t.Helper()
			doc, chunks := Doc(id, kefu.TypePolicy, "", text)
			for i := range chunks {
				chunks[i].Meta = map[string]string{}
				if from != "" {
					chunks[i].Meta[kefu.MetaEffectiveFrom] = from
				}
				if to != "" {
					chunks[i].Meta[kefu.MetaEffectiveTo] = to
				}
			}
			if err := s.Replace(ctx, doc, chunks); err != nil {
				t.Fatal(err)
			}
		}
		dated("returns-2025", "2025-01-01", "2026-02-28", "Returns are accepted within 14 days of delivery.")
		dated("returns-2026", "2026-03-01", "", "Returns are accepted within 30 days of delivery.")
		dated("shipping", "", "", "Returns ship back free with a prepaid label within days.")
		for _, tc := range []struct{ at, want, not string }{
			{"2026-01-15", "returns-2025", "returns-2026"},
			{"2026-03-01", "returns-2026", "returns-2025"},
			{"2027-06-30", "returns-2026", "returns-2025"},
		} {
			for _, q := range []kefu.Query{Query("returns accepted within days of delivery", kefu.Filter{At: tc.at}, 10), {Filter: kefu.Filter{At: tc.at}, TopK: 10}} {
				got := map[string]bool{}
				for _, h := range search(t, s, q) {
					got[h.Chunk.DocID] = true
				}
				if !got[tc.want] || got[tc.not] || !got["shipping"] {
					t.Errorf("on %s (query %q) got %v, want %s and the undated chunk, never %s", tc.at, q.Text, got, tc.want, tc.not)
				}
			}
		}
	})

	t.Run("type filter", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		for _, h := range search(t, s, Query("kettle", kefu.Filter{Types: []string{kefu.TypePolicy}}, 10)) {
			if h.Chunk.Type != kefu.TypePolicy {
				t.Fatalf("type filter policy returned %s (%s)", h.Chunk.ID, h.Chunk.Type)
			}
		}
	})

	t.Run("product filter keeps one product's chunks, by document id or product id", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		tagged := func(id, typ, customer, product, text string) {
			t.Helper()
			doc, chunks := Doc(id, typ, customer, text)
			doc.Meta = map[string]string{kefu.MetaProductID: product}
			for i := range chunks {
				chunks[i].Meta = map[string]string{kefu.MetaProductID: product}
			}
			if err := s.Replace(ctx, doc, chunks); err != nil {
				t.Fatal(err)
			}
		}
		tagged("cat.csv#P1", kefu.TypeProduct, "", "P1", "Lumi tablet case, fits the iPad Air 11 inch.\n\nMagnetic cover with a pencil holder.")
		tagged("cat.csv#P2", kefu.TypeProduct, "", "P2", "Lumi phone case, fits the iPhone 15.")
		tagged("faq.jsonl#3", kefu.TypeFAQ, "", "P1", "Q: Does the tablet case work with the iPad Pro? A: No, only the iPad Air.")
		tagged("orders.jsonl#W7", kefu.TypeOrder, "C1", "P1", "Order W7 for customer C1: tablet case, iPad Air, shipped.")
		allowed := func(f kefu.Filter, h kefu.Hit) bool {
			return h.Chunk.DocID == f.ProductID || h.Chunk.Meta[kefu.MetaProductID] == f.ProductID
		}
		for _, tc := range []struct {
			f    kefu.Filter
			want []string // every chunk the filter allows, in any order
		}{
			{kefu.Filter{ProductID: "P1"}, []string{"cat.csv#P1#0", "cat.csv#P1#1", "faq.jsonl#3#0"}},
			{kefu.Filter{ProductID: "P1", CustomerID: "C1"}, []string{"cat.csv#P1#0", "cat.csv#P1#1", "faq.jsonl#3#0", "orders.jsonl#W7#0"}},
			{kefu.Filter{ProductID: "P1", CustomerID: "C2"}, []string{"cat.csv#P1#0", "cat.csv#P1#1", "faq.jsonl#3#0"}},
			{kefu.Filter{ProductID: "P1", Types: []string{kefu.TypeProduct}}, []string{"cat.csv#P1#0", "cat.csv#P1#1"}},
			{kefu.Filter{ProductID: "cat.csv#P2"}, []string{"cat.csv#P2#0"}},
			{kefu.Filter{ProductID: "kettle"}, []string{"kettle#0"}},
			{kefu.Filter{ProductID: "P9"}, nil},
		} {
			for _, q := range []kefu.Query{Query("does it work with the iPad Air", tc.f, 50), Query("kettle", tc.f, 50), {Filter: tc.f, TopK: 50}} {
				hits := search(t, s, q)
				got := map[string]bool{}
				for _, h := range hits {
					if !allowed(tc.f, h) || (h.Chunk.CustomerID != "" && h.Chunk.CustomerID != tc.f.CustomerID) {
						t.Fatalf("query %q with filter %+v returned %s (product %q, owner %q)", q.Text, tc.f, h.Chunk.ID, h.Chunk.Meta[kefu.MetaProductID], h.Chunk.CustomerID)
					}
					got[h.Chunk.ID] = true
				}
				if q.Text == "" && len(got) != len(tc.want) {
					t.Errorf("listing with filter %+v: got %v, want %v", tc.f, ids(hits), tc.want)
				}
				for _, id := range tc.want {
					if q.Text == "" && !got[id] {
						t.Errorf("listing with filter %+v: %s missing from %v", tc.f, id, ids(hits))
					}
				}
			}
		}
		hits := search(t, s, Query("does it work with the iPad Air", kefu.Filter{ProductID: "P1"}, 3))
		if len(hits) == 0 || hits[0].Chunk.DocID != "cat.csv#P1" && hits[0].Chunk.DocID != "faq.jsonl#3" {
			t.Fatalf("iPad Air question on P1's page: got %v", ids(hits))
		}
		if hits[0].Chunk.Meta[kefu.MetaProductID] != "P1" {
			t.Fatalf("the product id did not survive the store: meta %v", hits[0].Chunk.Meta)
		}
	})

	t.Run("replace leaves no stale chunks and delete removes all", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		put(t, s, "returns", kefu.TypePolicy, "", "Returns are accepted within 14 days.")
		hits := search(t, s, Query("return refund alipay days", kefu.Filter{}, 10))
		for _, h := range hits {
			if h.Chunk.DocID == "returns" && h.Chunk.ID != "returns#0" {
				t.Fatalf("stale chunk %s after replace", h.Chunk.ID)
			}
			if strings.Contains(h.Chunk.Text, "30 days") {
				t.Fatalf("old text still retrievable: %q", h.Chunk.Text)
			}
		}
		if err := s.Delete(ctx, "returns"); err != nil {
			t.Fatal(err)
		}
		for _, h := range search(t, s, Query("returns accepted 14 days", kefu.Filter{}, 10)) {
			if h.Chunk.DocID == "returns" {
				t.Fatalf("deleted document still retrievable: %s", h.Chunk.ID)
			}
		}
		docs, err := s.Documents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 4 {
			t.Fatalf("Documents() = %d docs, want 4", len(docs))
		}
		if err := s.Delete(ctx, "never-existed"); err != nil {
			t.Fatalf("deleting a missing document: %v", err)
		}
	})

	t.Run("scores are ordered and bounded", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		hits := search(t, s, Query("return items within 30 days", kefu.Filter{}, 10))
		for i, h := range hits {
			if i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("hits not ordered by score: %v", hits)
			}
			if h.Lexical < 0 || h.Lexical > MaxLexical || h.Dense < -1.0001 || h.Dense > 1.0001 {
				t.Fatalf("hit %s has out-of-range scores lexical=%v dense=%v", h.Chunk.ID, h.Lexical, h.Dense)
			}
		}
		if len(hits) == 0 || hits[0].Lexical < 0.5 {
			t.Fatalf("exact match should have a high lexical score: %v", hits)
		}
		if none := search(t, s, Query("zzzz qqqq", kefu.Filter{}, 10)); len(none) != 0 && none[0].Lexical > 0 {
			t.Fatalf("nonsense query matched lexically: %v", ids(none))
		}
	})

	t.Run("expansion terms help ranking but are not required", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		q := Query("电水壶 多少钱", kefu.Filter{}, 5)
		before := search(t, s, q)
		q.Expand = "kettle price"
		after := search(t, s, q)
		found := false
		for _, h := range after {
			if h.Chunk.ID == "kettle#0" {
				found = h.Lexical > 0
			}
		}
		if !found {
			t.Fatalf("with expansion %v, want kettle#0 matched lexically", ids(after))
		}
		for _, h := range before {
			if h.Chunk.ID == "kettle#0" {
				t.Fatalf("the Chinese query alone should not match the English record: %v", ids(before))
			}
		}
		q.Text, q.Expand = "kettle price", "kettle price 1800"
		for _, h := range search(t, s, q) {
			if h.Lexical > MaxLexical {
				t.Fatalf("lexical score %v above %v", h.Lexical, MaxLexical)
			}
		}
	})

	t.Run("a term the query keeps coming back to weighs more", func(t *testing.T) {
		s := open(t)
		seed(t, s)
		// "Alipay" is rarer than "kettle", so said once each it decides;
		// a message that says "kettle" again and again is about the kettle.
		top := func(text string) string {
			t.Helper()
			hits := search(t, s, kefu.Query{Text: text, TopK: 3})
			if len(hits) == 0 {
				t.Fatalf("%q found nothing", text)
			}
			return hits[0].Chunk.ID
		}
		if got := top("alipay kettle"); got != "returns#1" {
			t.Errorf("alipay kettle: top %s, want returns#1", got)
		}
		if got := top("alipay kettle, the kettle: this kettle and that kettle, my kettle"); got == "returns#1" {
			t.Errorf("a message about the kettle: top %s", got)
		}
		hits := search(t, s, kefu.Query{Text: "return return return items items", TopK: 1})
		if len(hits) == 0 || hits[0].Lexical > MaxLexical {
			t.Errorf("repeated terms: lexical %v, want at most %v", hits, MaxLexical)
		}
	})

	t.Run("empty store", func(t *testing.T) {
		s := open(t)
		if hits := search(t, s, Query("anything", kefu.Filter{}, 5)); len(hits) != 0 {
			t.Fatalf("empty store returned %v", ids(hits))
		}
	})
}

func ids(hits []kefu.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.ID
	}
	return out
}
