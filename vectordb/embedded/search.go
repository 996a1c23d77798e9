package embedded

import (
	"container/heap"
	"context"
	"math"
	"sort"
	"strconv"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/vectordb"
)

// DefaultTopK is the number of hits Search returns when the query asks for none.
const DefaultTopK = vectordb.DefaultTopK

type scores struct {
	lex, exp, dense []float32
	touched         []int32
}

// Search runs a hybrid query: BM25 over the query's terms and an exact
// dot-product scan over the query vector (the stored vectors are unit length,
// so the dot product is the cosine), each restricted by q.Filter; the best
// of each are fused with Fuse. Hits come best first. Hit.Lexical is the BM25 score
// divided by the sum of the query terms' IDF, each term weighed by how often
// the query says it (about 1 when a chunk holds every query term once, 0 when
// it holds none) and Hit.Dense the cosine. A query
// with neither text nor vector lists the chunks the filter allows (up to
// TopK, in document order): "all my orders".
func (s *Store) Search(ctx context.Context, q kefu.Query) ([]kefu.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Vector != nil && len(q.Vector) != s.dims {
		return nil, kefu.Errorf(kefu.EInvalid, "query vector has %d dims, the store holds %d", len(q.Vector), s.dims)
	}
	k := q.TopK
	if k <= 0 {
		k = DefaultTopK
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if q.Text == "" && q.Vector == nil {
		return s.list(q.Filter, k)
	}

	n := s.baseN() + len(s.slots)
	sc := s.getScores(n)
	defer s.putScores(sc)

	s.scoreLexical(q.Text, q.Expand, sc)
	keep := func(slot int32) bool { return s.live(slot) && q.Filter.AllowsFields(s.fieldsOf(slot)) }
	lexTop := topSlots(sc.touched, sc.lex, fuseDepth, keep)
	var denseTop []int32
	if q.Vector != nil {
		s.scoreDense(q.Vector, sc.dense)
		denseTop = topAll(sc.dense, fuseDepth, keep)
	}

	// Both rankings nominate candidates; each is scored by the weighted sum
	// of its normalised lexical score and its cosine.
	cand := map[int32]bool{}
	for _, slot := range lexTop {
		cand[slot] = true
	}
	for _, slot := range denseTop {
		cand[slot] = true
	}
	type scored struct {
		slot              int32
		score, lex, dense float64
	}
	ranked := make([]scored, 0, len(cand))
	for slot := range cand {
		lex := float64(sc.lex[slot])
		dense := float64(sc.dense[slot])
		ranked = append(ranked, scored{slot, vectordb.Fuse(lex, dense), lex, dense})
	}
	// Ties go to the smaller chunk id; a chunk id is its document id and
	// ordinal, so within a tier slot order is id order, and across tiers
	// the ids are compared (rarely: only among equal scores).
	ids := map[int32]string{}
	id := func(slot int32) string {
		if v, ok := ids[slot]; ok {
			return v
		}
		f := s.fieldsOf(slot)
		v := f.DocID + "#" + strconv.Itoa(int(s.positionOf(slot)))
		ids[slot] = v
		return v
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].score != ranked[j].score {
			return ranked[i].score > ranked[j].score
		}
		return id(ranked[i].slot) < id(ranked[j].slot)
	})
	if len(ranked) > k {
		ranked = ranked[:k]
	}
	slots := make([]int32, len(ranked))
	for i, r := range ranked {
		slots[i] = r.slot
	}
	return s.hitsAt(slots, func(i int, h *kefu.Hit) {
		h.Score, h.Lexical, h.Dense = ranked[i].score, ranked[i].lex, ranked[i].dense
	})
}

// hitsAt returns the hits of slots, in order, their chunks read by
// chunksAt (a chunk replaced meanwhile is left out); fill, when not nil,
// sets the scores of hit i.
func (s *Store) hitsAt(slots []int32, fill func(i int, h *kefu.Hit)) ([]kefu.Hit, error) {
	chunks, err := s.chunksAt(slots)
	if err != nil {
		return nil, err
	}
	hits := make([]kefu.Hit, 0, len(slots))
	for i, c := range chunks {
		if c == nil {
			continue
		}
		h := kefu.Hit{Chunk: *c}
		if fill != nil {
			fill(i, &h)
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// list returns up to k chunks that f allows, in document and chunk order,
// with zero scores: Search's answer to a query with neither text nor vector.
func (s *Store) list(f kefu.Filter, k int) ([]kefu.Hit, error) {
	refs := s.inDocumentOrder(f.AllowsFields)
	if len(refs) > k {
		refs = refs[:k]
	}
	slots := make([]int32, len(refs))
	for i, r := range refs {
		slots[i] = r.slot
	}
	return s.hitsAt(slots, nil)
}

// slotRef is a live slot with its document id and position in it.
type slotRef struct {
	slot int32
	doc  string // may point into the segment: not kept past the caller's lock
	pos  uint32
}

// inDocumentOrder returns the live slots of both tiers whose chunks keep
// allows (every one when keep is nil), in document id and position order.
func (s *Store) inDocumentOrder(keep func(kefu.FilterFields) bool) []slotRef {
	var refs []slotRef
	for slot := range int32(s.slotCount()) {
		if !s.live(slot) {
			continue
		}
		if x := s.fieldsOf(slot); keep == nil || keep(x) {
			refs = append(refs, slotRef{slot, x.DocID, s.positionOf(slot)})
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].doc != refs[j].doc {
			return refs[i].doc < refs[j].doc
		}
		return refs[i].pos < refs[j].pos
	})
	return refs
}

// expandWeight is how much a full match of the query's expansion terms
// counts against a full match of the shopper's own words.
const expandWeight = 0.25

// scoreLexical fills sc.lex with each matching slot's normalised lexical
// score, recording the slots in sc.touched: the BM25 score of the query's
// own terms divided by the sum of their IDF (about 1 when a chunk holds every
// term once, more when terms repeat: BM25's saturation, up to k1+1), plus
// expandWeight times the same share for the expansion terms. It is not
// capped: a cap at 1 made every chunk that holds a short query's words tie,
// and the dense side, not the words, decided among them. A misspelt word counts as the known term one edit away; a
// Chinese bigram that no chunk contains is left out, since it usually spans
// two words. Other unknown terms stay in the sum: a question about something
// the shop never mentions should score low.
func (s *Store) scoreLexical(text, expand string, sc *scores) {
	if s.liveCount() == 0 {
		return
	}
	avgdl := float64(s.total) / float64(s.slotCount())
	if avgdl == 0 {
		avgdl = 1
	}
	seen := map[string]bool{}
	own := s.bm25(text, seen, avgdl, sc.lex, sc)
	extra := s.bm25(expand, seen, avgdl, sc.exp, sc)
	for _, slot := range sc.touched {
		var x float64
		if own > 0 {
			x = float64(sc.lex[slot]) / own
		}
		if extra > 0 {
			x += expandWeight * float64(sc.exp[slot]) / extra
		}
		sc.lex[slot] = float32(x)
	}
}

// bm25 adds the BM25 score of text's terms not in seen to acc, marks them
// seen, and returns the sum of their IDF. A term is weighed by how often
// text says it: a long message that comes back to "credit card" five times
// is about credit cards, not about the words it says once in passing (for a
// short question, where every term comes once, this is plain BM25). The
// returned sum weighs each IDF by the same count, so a chunk that holds
// every term once still scores about 1.
func (s *Store) bm25(text string, seen map[string]bool, avgdl float64, acc []float32, sc *scores) float64 {
	all := s.slotCount()
	var terms []string
	count := map[string]int{}
	for _, tok := range tokenize.Tokens(text) {
		term := tok.Text
		if s.df(term) == 0 {
			switch tok.Kind {
			case tokenize.Bigram:
				continue
			case tokenize.Word:
				if fixed := s.correct(term); fixed != "" {
					term = fixed
				}
			}
		}
		if seen[term] {
			continue
		}
		if count[term] == 0 {
			terms = append(terms, term)
		}
		count[term]++
	}
	var idfSum float64
	for _, term := range terms {
		seen[term] = true
		baseSlots, baseTF := s.base.postings(s.base.find(term))
		ps := s.post[term]
		df := len(baseSlots) + len(ps)
		idf := math.Log(1 + (float64(all)-float64(df)+0.5)/(float64(df)+0.5))
		qtf := float64(count[term])
		idfSum += qtf * idf
		add := func(slot int32, tf float64, dl int32) {
			w := qtf * idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(dl)/avgdl))
			if sc.lex[slot] == 0 && sc.exp[slot] == 0 {
				sc.touched = append(sc.touched, slot)
			}
			acc[slot] += float32(w)
		}
		bn := int32(s.baseN())
		for i, slot := range baseSlots {
			if uint32(slot) < uint32(bn) && s.baseLive(slot) { // a damaged posting is skipped
				add(slot, float64(baseTF[i]), s.base.docLen[slot])
			}
		}
		for _, p := range ps {
			if s.slots[p.slot-bn] != nil {
				add(p.slot, float64(p.tf), s.docLen[p.slot-bn])
			}
		}
	}
	return idfSum
}

// df is how many slots of both tiers hold term (deleted ones included, as
// in Lucene until a merge).
func (s *Store) df(term string) int {
	n := len(s.post[term])
	if s.base != nil {
		n += s.base.df(term)
	}
	return n
}

func (s *Store) scoreDense(q []float32, dense []float32) {
	bn := s.baseN()
	for d, x := range q {
		if x == 0 {
			continue
		}
		if bn > 0 {
			axpy(x, s.base.col(d), dense[:bn])
		}
		axpy(x, s.cols[d], dense[bn:])
	}
}

// axpy adds x times col to acc.
func axpy(x float32, col, acc []float32) {
	col = col[:len(acc)]
	for i, y := range col {
		acc[i] += x * y
	}
}

func (s *Store) getScores(n int) *scores {
	if v := s.scratch.Get(); v != nil {
		sc := v.(*scores)
		if cap(sc.lex) >= n {
			sc.lex, sc.exp, sc.dense = sc.lex[:n], sc.exp[:n], sc.dense[:n]
			return sc
		}
	}
	return &scores{lex: make([]float32, n), exp: make([]float32, n), dense: make([]float32, n)}
}

func (s *Store) putScores(sc *scores) {
	for _, slot := range sc.touched {
		sc.lex[slot], sc.exp[slot] = 0, 0
	}
	clear(sc.dense)
	sc.touched = sc.touched[:0]
	s.scratch.Put(sc)
}

// slotHeap is a min-heap of slots by score, for top-k selection.
type slotHeap struct {
	slots  []int32
	scores []float32
}

func (h *slotHeap) Len() int { return len(h.slots) }
func (h *slotHeap) Less(i, j int) bool {
	a, b := h.scores[h.slots[i]], h.scores[h.slots[j]]
	if a != b {
		return a < b
	}
	return h.slots[i] > h.slots[j]
}
func (h *slotHeap) Swap(i, j int) { h.slots[i], h.slots[j] = h.slots[j], h.slots[i] }
func (h *slotHeap) Push(x any)    { h.slots = append(h.slots, x.(int32)) }
func (h *slotHeap) Pop() any {
	x := h.slots[len(h.slots)-1]
	h.slots = h.slots[:len(h.slots)-1]
	return x
}

// topSlots returns up to k of the candidate slots with positive scores that
// keep allows, best first.
func topSlots(candidates []int32, score []float32, k int, keep func(int32) bool) []int32 {
	h := &slotHeap{scores: score}
	for _, slot := range candidates {
		if score[slot] <= 0 {
			continue
		}
		pushTop(h, slot, k, keep)
	}
	return drain(h)
}

// topAll is topSlots over every slot.
func topAll(score []float32, k int, keep func(int32) bool) []int32 {
	h := &slotHeap{scores: score}
	for slot, x := range score {
		if x <= 0 {
			continue
		}
		pushTop(h, int32(slot), k, keep)
	}
	return drain(h)
}

func pushTop(h *slotHeap, slot int32, k int, keep func(int32) bool) {
	if h.Len() == k {
		if score := h.scores[slot]; score < h.scores[h.slots[0]] || (score == h.scores[h.slots[0]] && slot > h.slots[0]) {
			return
		}
	}
	if !keep(slot) {
		return
	}
	if h.Len() == k {
		heap.Pop(h)
	}
	heap.Push(h, slot)
}

func drain(h *slotHeap) []int32 {
	out := make([]int32, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(int32)
	}
	return out
}
