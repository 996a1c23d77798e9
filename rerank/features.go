package rerank

import (
	"math"
	"math/bits"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// Feature names, in vector order. The weights file names its features so a
// file written for another feature set is refused rather than misread.
var featureNames = []string{
	"lexical", "dense", "lexical_rel", "dense_rel", "rank", "lexical_rank",
	"cover_all", "cover_text", "cover_head", "cover_sentence", "pairs",
	"length", "type_faq", "type_policy", "type_product", "type_order", "locale_other",
	"query_missing",
}

// query is what the features need of a question, worked out once per call.
type query struct {
	terms  []string // unique terms, in order
	weight map[string]float64
	total  float64  // sum of weight
	pairs  []string // adjacent term pairs "a b" of the question's words and bigrams
	zh     bool     // the question is written in Chinese
}

// termWeight counts a CJK unigram less than a word or a bigram: single Han
// characters match almost anything.
func termWeight(k tokenize.Kind) float64 {
	if k == tokenize.Unigram {
		return 0.3
	}
	return 1
}

func newQuery(text string) query {
	q := query{weight: map[string]float64{}}
	toks := tokenize.Tokens(text)
	var prev string
	for _, t := range toks {
		if _, seen := q.weight[t.Text]; !seen {
			q.terms = append(q.terms, t.Text)
			w := termWeight(t.Kind)
			q.weight[t.Text] = w
			q.total += w
		}
		if t.Kind != tokenize.Unigram {
			if prev != "" && t.Kind == tokenize.Word {
				q.pairs = append(q.pairs, prev+" "+t.Text)
			}
			prev = t.Text
		}
	}
	hans, letters := 0, 0
	for _, r := range text {
		switch {
		case tokenize.IsCJK(r):
			hans++
		case unicode.IsLetter(r):
			letters++
		}
	}
	q.zh = hans > 0 && hans*3 >= letters
	return q
}

// chunkTerms is what the features need of a chunk, kept per chunk. in
// maps each term of the text to the sentences that hold it, as a bit set
// (sentences past the 64th share the last bit).
type chunkTerms struct {
	in        map[string]uint64
	head      map[string]bool
	pairs     map[string]bool
	sentences int
	length    int
}

func newChunkTerms(c kefu.Chunk) *chunkTerms {
	ct := &chunkTerms{in: map[string]uint64{}, head: map[string]bool{}, pairs: map[string]bool{}}
	for _, t := range tokenize.Terms(c.Title + "\n" + c.Heading) {
		ct.head[t] = true
	}
	var prev string
	for _, s := range sentences(c.Text) {
		toks := tokenize.Tokens(s)
		if len(toks) == 0 {
			continue
		}
		bit := uint64(1) << min(ct.sentences, 63)
		ct.sentences++
		for _, t := range toks {
			ct.in[t.Text] |= bit
			ct.length++
			if t.Kind == tokenize.Word {
				if prev != "" {
					ct.pairs[prev+" "+t.Text] = true
				}
				prev = t.Text
			}
		}
	}
	return ct
}

// sentences splits text at line breaks and sentence ends.
func sentences(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '。' || r == '！' || r == '？' || r == '!' || r == '?' || r == ';' || r == '；'
	})
}

func (q query) cover(set map[string]bool) float64 {
	if q.total == 0 {
		return 0
	}
	var got float64
	for _, t := range q.terms {
		if set[t] {
			got += q.weight[t]
		}
	}
	return got / q.total
}

// covers returns the share of the question that the chunk's text, its
// text or title and heading, and its best sentence hold.
func (q query) covers(ct *chunkTerms) (text, either, sentence float64) {
	if q.total == 0 {
		return 0, 0, 0
	}
	var per [64]float64
	for _, t := range q.terms {
		w := q.weight[t]
		mask := ct.in[t]
		if mask != 0 {
			text += w
			for m := mask; m != 0; m &= m - 1 {
				per[bits.TrailingZeros64(m)] += w
			}
		}
		if mask != 0 || ct.head[t] {
			either += w
		}
	}
	for _, x := range per {
		sentence = math.Max(sentence, x)
	}
	return text / q.total, either / q.total, sentence / q.total
}

// vectors returns the feature vector of every hit, in order. terms gives
// a chunk's terms (a cache in front of newChunkTerms).
func vectors(q query, hits []kefu.Hit, terms func(kefu.Chunk) *chunkTerms) [][]float64 {
	var maxLex, maxDense float64
	for _, h := range hits {
		maxLex = math.Max(maxLex, h.Lexical)
		maxDense = math.Max(maxDense, h.Dense)
	}
	lexRank := ranks(hits, func(h kefu.Hit) float64 { return h.Lexical })
	// The share of the question that no candidate holds: a question about
	// something the shop never mentions is not answered by any of them.
	cts := make([]*chunkTerms, len(hits))
	for i, h := range hits {
		cts[i] = terms(h.Chunk)
	}
	var held float64
	for _, t := range q.terms {
		for _, ct := range cts {
			if ct.in[t] != 0 || ct.head[t] {
				held += q.weight[t]
				break
			}
		}
	}
	missing := 1.0
	if q.total > 0 {
		missing = 1 - held/q.total
	}
	out := make([][]float64, len(hits))
	for i, h := range hits {
		ct := cts[i]
		v := make([]float64, len(featureNames))
		v[0] = h.Lexical
		v[1] = math.Max(0, h.Dense)
		v[2] = ratio(h.Lexical, maxLex)
		v[3] = ratio(math.Max(0, h.Dense), maxDense)
		v[4] = 1 / float64(1+i)
		v[5] = 1 / float64(1+lexRank[i])
		v[7], v[6], v[9] = q.covers(ct)
		v[8] = q.cover(ct.head)
		if len(q.pairs) > 0 {
			n := 0
			for _, p := range q.pairs {
				if ct.pairs[p] {
					n++
				}
			}
			v[10] = float64(n) / float64(len(q.pairs))
		}
		v[11] = math.Log1p(float64(ct.length)) / 6
		switch h.Chunk.Type {
		case kefu.TypeFAQ:
			v[12] = 1
		case kefu.TypePolicy:
			v[13] = 1
		case kefu.TypeProduct:
			v[14] = 1
		case kefu.TypeOrder:
			v[15] = 1
		}
		if loc := h.Chunk.Locale; loc != "" && (loc == "zh") != q.zh {
			v[16] = 1
		}
		v[17] = missing
		out[i] = v
	}
	return out
}

// ranks gives each hit its 0-based rank by score, best first; ties keep
// the hits' order.
func ranks(hits []kefu.Hit, score func(kefu.Hit) float64) []int {
	out := make([]int, len(hits))
	for i := range hits {
		si := score(hits[i])
		for j := range hits {
			sj := score(hits[j])
			if sj > si || (sj == si && j < i) {
				out[i]++
			}
		}
	}
	return out
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
