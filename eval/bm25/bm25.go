// Package bm25 is a plain Okapi BM25 ranker over kefu chunks, the baseline
// that kefu eval --baseline scores beside the pipeline: no fusion, no dense
// side, no query expansion, no typo correction, no reranking.
//
// A chunk's indexed text is its title, heading and text (as the embedded
// store indexes it), split into terms by tokenize.Terms; a query is split
// the same way, each distinct term counted once. The score of a chunk is
//
//	sum over query terms t: idf(t) * tf*(k1+1) / (tf + k1*(1 - b + b*dl/avgdl))
//
// with k1 = 1.2, b = 0.75, idf(t) = ln(1 + (N - df + 0.5)/(df + 0.5)), N the
// number of chunks in the index, df the chunks holding t, dl the chunk's
// term count and avgdl the mean dl over the index. The statistics are over
// the whole index; a search's filter only decides which chunks may rank.
package bm25

import (
	"math"
	"sort"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// Parameters of the ranking.
const (
	K1 = 1.2
	B  = 0.75
)

// Index is an immutable BM25 index over a set of chunks; it is safe for
// concurrent searches.
type Index struct {
	chunks []kefu.Chunk
	post   map[string][]posting
	docLen []int
	avgdl  float64
}

type posting struct {
	doc int
	tf  int
}

// Hit is one ranked chunk.
type Hit struct {
	Chunk kefu.Chunk
	Score float64
}

// New indexes chunks; the index keeps the slice.
func New(chunks []kefu.Chunk) *Index {
	ix := &Index{chunks: chunks, post: map[string][]posting{}, docLen: make([]int, len(chunks))}
	total := 0
	for i := range chunks {
		c := &chunks[i]
		terms := tokenize.Terms(c.Title + "\n" + c.Heading + "\n" + c.Text)
		tf := map[string]int{}
		for _, t := range terms {
			tf[t]++
		}
		for t, n := range tf {
			ix.post[t] = append(ix.post[t], posting{doc: i, tf: n})
		}
		ix.docLen[i] = len(terms)
		total += len(terms)
	}
	if len(chunks) > 0 {
		ix.avgdl = float64(total) / float64(len(chunks))
	}
	if ix.avgdl == 0 {
		ix.avgdl = 1
	}
	return ix
}

// Len returns the number of indexed chunks.
func (ix *Index) Len() int { return len(ix.chunks) }

// IDF returns the inverse document frequency of an indexed term.
func (ix *Index) IDF(term string) float64 {
	n, df := float64(len(ix.chunks)), float64(len(ix.post[term]))
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// Search returns the k best chunks for query among those keep accepts
// (nil keeps all), best first; ties go to the smaller chunk id. Only chunks
// holding at least one query term are returned. k <= 0 returns none.
func (ix *Index) Search(query string, keep func(*kefu.Chunk) bool, k int) []Hit {
	if k <= 0 {
		return nil
	}
	score := map[int]float64{}
	seen := map[string]bool{}
	for _, t := range tokenize.Terms(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		ps := ix.post[t]
		if len(ps) == 0 {
			continue
		}
		idf := ix.IDF(t)
		for _, p := range ps {
			if keep != nil && !keep(&ix.chunks[p.doc]) {
				continue
			}
			tf, dl := float64(p.tf), float64(ix.docLen[p.doc])
			score[p.doc] += idf * tf * (K1 + 1) / (tf + K1*(1-B+B*dl/ix.avgdl))
		}
	}
	hits := make([]Hit, 0, len(score))
	for d, s := range score {
		hits = append(hits, Hit{Chunk: ix.chunks[d], Score: s})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Chunk.ID < hits[j].Chunk.ID
	})
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}
