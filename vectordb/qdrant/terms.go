package qdrant

import (
	"hash/fnv"
	"math"
	"slices"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// BM25 parameters, the embedded store's. bm25K1 saturates term frequency: a
// term seen once weighs 1, one seen very often approaches 1+k1. bm25B is
// the weight of document-length normalisation, applied client-side (see
// Search).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// expandWeight is how much a full match of a query's expansion terms counts
// against a full match of the shopper's own words (as in the embedded store).
const expandWeight = 0.25

// termIndex is a term's index in the sparse vector space: FNV-1a over its
// UTF-8 bytes. Two terms sharing an index (about one pair in four billion)
// count as one.
func termIndex(term string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(term))
	return h.Sum32()
}

// indexText is what the lexical side sees of a chunk: its title and heading
// make "return policy" match the returns page's sections (as in the
// embedded store).
func indexText(c *kefu.Chunk) string {
	return c.Title + "\n" + c.Heading + "\n" + c.Text
}

// chunkSparse returns a chunk's sparse vector, indices ascending, each
// weight the saturated frequency tf·(k1+1)/(tf+k1) of its term, and the
// number of terms in the chunk (its length for BM25).
func chunkSparse(c *kefu.Chunk) ([]uint32, []float32, int) {
	tf := map[uint32]int{}
	toks := tokenize.Tokens(indexText(c))
	for _, t := range toks {
		tf[termIndex(t.Text)]++
	}
	idx := make([]uint32, 0, len(tf))
	for i := range tf {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	w := make([]float32, len(idx))
	for j, i := range idx {
		n := float64(tf[i])
		w[j] = float32(n * (bm25K1 + 1) / (n + bm25K1))
	}
	return idx, w, len(toks)
}

// termFrequency inverts the saturation of a stored weight.
func termFrequency(w float32) float64 {
	x := float64(w)
	if x >= bm25K1+1 {
		return math.MaxFloat32
	}
	return bm25K1 * x / (bm25K1 + 1 - x)
}

// bm25 is a term's BM25 weight in a chunk of dl terms, as the embedded store
// computes it, from the stored saturated weight w.
func bm25(w float32, dl, avgdl float64) float64 {
	tf := termFrequency(w)
	return tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*dl/avgdl))
}

// queryTerm is one distinct term of a query.
type queryTerm struct {
	index  uint32
	kind   tokenize.Kind
	count  int  // how often the query says it: its weight, as in the embedded store
	expand bool // from Query.Expand, not from the shopper's words
}

// queryTerms returns the distinct terms of text, each with how often text
// says it, then those of expand that text lacks (counted likewise).
func queryTerms(text, expand string) []queryTerm {
	seen := map[uint32]bool{}
	var out []queryTerm
	add := func(s string, exp bool) {
		at := map[uint32]int{}
		for _, t := range tokenize.Tokens(s) {
			i := termIndex(t.Text)
			if j, ok := at[i]; ok {
				out[j].count++
				continue
			}
			if seen[i] {
				continue
			}
			seen[i] = true
			at[i] = len(out)
			out = append(out, queryTerm{index: i, kind: t.Kind, count: 1, expand: exp})
		}
	}
	add(text, false)
	add(expand, true)
	return out
}

// querySparse is the sparse query vector. Qdrant multiplies in each term's
// IDF; the weights mirror Hit.Lexical's normalisation, so that Qdrant's
// sparse ranking nominates the chunks the client will rank high: the
// shopper's terms share a weight of 1 in proportion to how often each is
// said, the expansion terms a weight of expandWeight (without the division,
// one expansion term would count for a quarter of a whole question of
// fifteen Chinese terms).
func querySparse(terms []queryTerm) ([]uint32, []float32) {
	var own, exp int
	for _, t := range terms {
		if t.expand {
			exp += t.count
		} else {
			own += t.count
		}
	}
	idx := make([]uint32, len(terms))
	w := make([]float32, len(terms))
	for i, t := range terms {
		idx[i] = t.index
		if t.expand {
			w[i] = float32(expandWeight * float64(t.count) / float64(exp))
		} else {
			w[i] = float32(float64(t.count) / float64(own))
		}
	}
	return idx, w
}
