package qdrant

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/vectordb"
)

const (
	// Each side (dense, sparse) nominates its best max(4·k, minDepth)
	// chunks, at most maxDepth; the union is what the client ranks. The
	// embedded store takes 100 per side from memory; over the network
	// fewer suffice for the top k.
	minDepth = 40
	maxDepth = 100
	// corpusTTL is how long the collection's statistics are trusted.
	corpusTTL = time.Minute
)

// Search runs a hybrid query inside Qdrant, restricted by q.Filter in every
// prefetch, and returns up to q.TopK hits (vectordb.DefaultTopK when 0),
// best first by vectordb.Fuse(Lexical, Dense), ties by chunk id.
//
// Hit.Dense is the cosine, as Qdrant computes it. Hit.Lexical is the
// embedded store's: the BM25 score of the query's terms divided by the sum
// of their IDF, each term weighed by how often the query says it (about 1
// when a chunk holds every term once), plus
// expandWeight times the same share for the expansion terms (not capped).
// Its parts come from Qdrant: each term's IDF over the whole collection
// (from a single-term probe query sent in the same request: its top score
// divided by that point's stored weight), the chunk's term frequencies (its
// sparse vector) and its length (its payload). What is approximated: the
// mean chunk length is that of a sample of up to 256 public chunks, and the
// count of chunks (for a term no chunk holds) is Qdrant's approximate count,
// both refreshed once a minute or after a write by this process; a
// misspelt word is not corrected (the embedded store matches "retrun" to
// "return", here it counts as a term no chunk holds); and a term that only
// chunks outside the filter hold also counts as such. As in the embedded
// store, a Chinese bigram that no chunk holds is left out of the sum.
//
// A hit must match at least one query term or have a positive cosine. A
// query with neither text nor vector lists the chunks the filter allows, in
// document and chunk order, with zero scores.
func (s *Store) Search(ctx context.Context, q kefu.Query) ([]kefu.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Vector != nil && len(q.Vector) != s.emb.Dims {
		return nil, kefu.Errorf(kefu.EInvalid, "query vector has %d dims, the store holds %d", len(q.Vector), s.emb.Dims)
	}
	k := q.TopK
	if k <= 0 {
		k = vectordb.DefaultTopK
	}
	if q.Filter.OnlyCustomer && q.Filter.CustomerID == "" {
		return nil, nil // "my orders" of nobody
	}
	if q.Text == "" && q.Vector == nil {
		return s.list(ctx, q.Filter, k)
	}
	filter := chunkFilter(q.Filter)
	terms := queryTerms(q.Text, q.Expand)
	main := hybridQuery(q.Vector, terms, filter, k)
	if main == nil {
		return nil, nil // text without a single term, and no vector
	}
	main.CollectionName = s.collection
	batch := []*qc.QueryPoints{main}
	for _, t := range terms {
		batch = append(batch, &qc.QueryPoints{
			CollectionName: s.collection,
			Query:          qc.NewQuerySparse([]uint32{t.index}, []float32{1}),
			Using:          qc.PtrOf(vecLexical),
			Filter:         filter,
			Limit:          qc.PtrOf(uint64(1)),
			WithPayload:    qc.NewWithPayload(false),
			WithVectors:    qc.NewWithVectorsInclude(vecLexical),
		})
	}
	var res []*qc.BatchResult
	err := s.call(ctx, "search", func(ctx context.Context) (err error) {
		res, err = s.client.QueryBatch(ctx, &qc.QueryBatchPoints{CollectionName: s.collection, QueryPoints: batch})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(res) != len(batch) {
		return nil, fmt.Errorf("qdrant search: %d results for %d queries", len(res), len(batch))
	}

	lex, err := s.lexicalScorer(ctx, terms, res[1:])
	if err != nil {
		return nil, err
	}
	hits := make([]kefu.Hit, 0, len(res[0].GetResult()))
	for _, p := range res[0].GetResult() {
		c, err := decodeChunk(p.GetPayload())
		if err != nil {
			return nil, fmt.Errorf("qdrant search: point %s: %w", p.GetId().GetUuid(), err)
		}
		var dense float64
		if q.Vector != nil {
			dense = float64(p.GetScore())
		}
		lexical := lex(sparseOf(p.GetVectors()), intValue(p.GetPayload()[fieldTerms]))
		if lexical <= 0 && dense <= 0 {
			continue
		}
		hits = append(hits, kefu.Hit{Chunk: c, Score: vectordb.Fuse(lexical, dense), Lexical: lexical, Dense: dense})
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
	return hits, nil
}

// hybridQuery builds the main query. With both sides: a dense and a sparse
// prefetch, each carrying the filter, whose union the outer query re-scores
// with the dense vector, so that every candidate (found by either side)
// comes back with its cosine as its score; the client then fuses each
// candidate's lexical score and cosine with vectordb.Fuse. This is the
// embedded store's candidate selection (the union of each side's best).
// Qdrant's RRF fusion is not used: it ranks by position, and cuts chunks
// that Fuse places in the top k, such as one matched only through the
// expansion terms with a poor cosine. With one side, that side alone.
func hybridQuery(vec []float32, terms []queryTerm, filter *qc.Filter, k int) *qc.QueryPoints {
	depth := uint64(min(max(4*k, minDepth), maxDepth))
	out := &qc.QueryPoints{
		Filter:      filter,
		Limit:       qc.PtrOf(depth),
		WithPayload: qc.NewWithPayload(true),
		WithVectors: qc.NewWithVectorsInclude(vecLexical),
	}
	var sparse *qc.PrefetchQuery
	if len(terms) > 0 {
		idx, w := querySparse(terms)
		sparse = &qc.PrefetchQuery{
			Query:  qc.NewQuerySparse(idx, w),
			Using:  qc.PtrOf(vecLexical),
			Filter: filter,
			Limit:  qc.PtrOf(depth),
		}
	}
	switch {
	case vec != nil && sparse != nil:
		dense := &qc.PrefetchQuery{
			Query:  qc.NewQueryDense(vec),
			Using:  qc.PtrOf(vecDense),
			Filter: filter,
			Limit:  qc.PtrOf(depth),
		}
		out.Prefetch = []*qc.PrefetchQuery{dense, sparse}
		out.Query = qc.NewQueryDense(vec)
		out.Using = qc.PtrOf(vecDense)
		out.Limit = qc.PtrOf(2 * depth) // the whole union
	case vec != nil:
		// Only the cosine ranks: the best k by cosine are the answer.
		out.Query = qc.NewQueryDense(vec)
		out.Using = qc.PtrOf(vecDense)
		out.Limit = qc.PtrOf(uint64(k))
	case sparse != nil:
		out.Query = sparse.Query
		out.Using = sparse.Using
	default:
		return nil
	}
	return out
}

// lexicalScorer reads each term's IDF from its probe result and returns the
// function that scores a chunk from its sparse vector and its length in
// terms (see Search).
func (s *Store) lexicalScorer(ctx context.Context, terms []queryTerm, probes []*qc.BatchResult) (func(v map[uint32]float32, dl int64) float64, error) {
	if len(terms) == 0 {
		return func(map[uint32]float32, int64) float64 { return 0 }, nil
	}
	stats, err := s.corpusStats(ctx)
	if err != nil {
		return nil, err
	}
	idf := make([]float64, len(terms))
	for i, t := range terms {
		if top := probes[i].GetResult(); len(top) > 0 {
			if w := sparseOf(top[0].GetVectors())[t.index]; w > 0 {
				idf[i] = float64(top[0].GetScore()) / float64(w)
				continue
			}
		}
		if t.kind != tokenize.Bigram {
			// A term no allowed chunk holds: the IDF of a term no chunk holds.
			idf[i] = math.Log(1 + (float64(stats.chunks)+0.5)/0.5)
		}
	}
	var own, exp float64
	for i, t := range terms {
		if t.expand {
			exp += float64(t.count) * idf[i]
		} else {
			own += float64(t.count) * idf[i]
		}
	}
	return func(v map[uint32]float32, dl int64) float64 {
		length := float64(dl)
		if dl <= 0 {
			length = stats.avgTerms // a point written without its length: no normalisation
		}
		var o, e float64
		for i, t := range terms {
			w := v[t.index]
			if w <= 0 || idf[i] == 0 {
				continue
			}
			x := float64(t.count) * idf[i] * bm25(w, length, stats.avgTerms)
			if t.expand {
				e += x
			} else {
				o += x
			}
		}
		var x float64
		if own > 0 {
			x = o / own
		}
		if exp > 0 {
			x += expandWeight * e / exp
		}
		return x
	}, nil
}

// sparseOf returns a point's lexical vector as index -> weight.
func sparseOf(v *qc.VectorsOutput) map[uint32]float32 {
	sv := v.GetVectors().GetVectors()[vecLexical].GetSparseVector()
	m := make(map[uint32]float32, len(sv.GetIndices()))
	for i, idx := range sv.GetIndices() {
		if i < len(sv.GetValues()) {
			m[idx] = sv.GetValues()[i]
		}
	}
	return m
}

// corpusStats is what the lexical score needs of the whole collection.
type corpusStats struct {
	chunks   int64   // chunk points, for the IDF of a term no chunk holds
	avgTerms float64 // mean chunk length in terms, for BM25's length normalisation
}

// statsSample is how many chunks' lengths estimate the mean length.
const statsSample = 256

// corpusStats returns the collection's statistics, read at most once per
// corpusTTL: an approximate count of chunk points, and the mean length of a
// sample of public chunks (a scroll's first page, in point-id order, which
// UUIDv5 ids make a fair sample).
func (s *Store) corpusStats(ctx context.Context) (corpusStats, error) {
	s.mu.Lock()
	st, at := s.stats, s.statsAt
	s.mu.Unlock()
	if !at.IsZero() && time.Since(at) < corpusTTL {
		return st, nil
	}
	chunks := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(fieldKind, kindChunk)}}
	var count uint64
	err := s.call(ctx, "count chunks", func(ctx context.Context) (err error) {
		count, err = s.client.Count(ctx, &qc.CountPoints{CollectionName: s.collection, Filter: chunks, Exact: qc.PtrOf(false)})
		return err
	})
	if err != nil {
		return st, err
	}
	var sample []*qc.RetrievedPoint
	err = s.call(ctx, "sample chunk lengths", func(ctx context.Context) (err error) {
		sample, err = s.client.Scroll(ctx, &qc.ScrollPoints{
			CollectionName: s.collection,
			Filter:         chunkFilter(kefu.Filter{}),
			Limit:          qc.PtrOf(uint32(statsSample)),
			WithPayload:    qc.NewWithPayloadInclude(fieldTerms),
			WithVectors:    qc.NewWithVectors(false),
		})
		return err
	})
	if err != nil {
		return st, err
	}
	st = corpusStats{chunks: int64(count), avgTerms: 1}
	var sum, n float64
	for _, p := range sample {
		if dl := intValue(p.GetPayload()[fieldTerms]); dl > 0 {
			sum += float64(dl)
			n++
		}
	}
	if n > 0 {
		st.avgTerms = sum / n
	}
	s.mu.Lock()
	s.stats, s.statsAt = st, time.Now()
	s.mu.Unlock()
	return st, nil
}

// chunkFilter expresses kefu.Filter as a Qdrant filter over chunk points.
// The customer rule first: an anonymous query matches chunks without a
// customer_id; a shopper's matches those and the shopper's own; with
// OnlyCustomer, the shopper's own only (nothing at all for an anonymous
// one). Then the types, then the product (its document id or its
// product_id), then the day the chunk must be in force.
func chunkFilter(f kefu.Filter) *qc.Filter {
	out := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(fieldKind, kindChunk)}}
	switch {
	case f.OnlyCustomer && f.CustomerID == "":
		// Allows nothing: a contradiction rather than a special case.
		out.Must = append(out.Must, qc.NewIsEmpty(fieldCustomer))
		out.MustNot = append(out.MustNot, qc.NewIsEmpty(fieldCustomer))
	case f.CustomerID == "":
		out.Must = append(out.Must, qc.NewIsEmpty(fieldCustomer))
	case f.OnlyCustomer:
		out.Must = append(out.Must, qc.NewMatchKeyword(fieldCustomer, f.CustomerID))
	default:
		out.Must = append(out.Must, qc.NewFilterAsCondition(&qc.Filter{Should: []*qc.Condition{
			qc.NewIsEmpty(fieldCustomer),
			qc.NewMatchKeyword(fieldCustomer, f.CustomerID),
		}}))
	}
	if len(f.Types) > 0 {
		out.Must = append(out.Must, qc.NewMatchKeywords(fieldType, f.Types...))
	}
	if f.ProductID != "" {
		out.Must = append(out.Must, qc.NewFilterAsCondition(&qc.Filter{Should: []*qc.Condition{
			qc.NewMatchKeyword(fieldDocID, f.ProductID),
			qc.NewMatchKeyword(fieldProduct, f.ProductID),
		}}))
	}
	if at := float64(dayNumber(f.At)); at > 0 {
		// In force on At: no start or a start on or before it, and no end
		// or an end on or after it.
		out.Must = append(out.Must,
			qc.NewFilterAsCondition(&qc.Filter{Should: []*qc.Condition{
				qc.NewIsEmpty(fieldFromDay), qc.NewRange(fieldFromDay, &qc.Range{Lte: &at}),
			}}),
			qc.NewFilterAsCondition(&qc.Filter{Should: []*qc.Condition{
				qc.NewIsEmpty(fieldToDay), qc.NewRange(fieldToDay, &qc.Range{Gte: &at}),
			}}),
		)
	}
	return out
}

// list returns up to k chunks that f allows, in document and chunk order,
// with zero scores. It scrolls the allowed points' (doc_id, ordinal) pairs,
// keeps the first k, then reads those k in full, again through the filter,
// so that a chunk whose owner changed in between is never returned.
func (s *Store) list(ctx context.Context, f kefu.Filter, k int) ([]kefu.Hit, error) {
	filter := chunkFilter(f)
	type entry struct {
		id      *qc.PointId
		doc     string
		ordinal int64
	}
	var all []entry
	err := s.scroll(ctx, "list chunks", filter, qc.NewWithPayloadInclude(fieldDocID, "ordinal"), func(p *qc.RetrievedPoint) error {
		all = append(all, entry{p.GetId(), p.GetPayload()[fieldDocID].GetStringValue(), intValue(p.GetPayload()["ordinal"])})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].doc != all[j].doc {
			return all[i].doc < all[j].doc
		}
		return all[i].ordinal < all[j].ordinal
	})
	if len(all) > k {
		all = all[:k]
	}
	if len(all) == 0 {
		return nil, nil
	}
	ids := make([]*qc.PointId, len(all))
	for i, e := range all {
		ids[i] = e.id
	}
	byID := &qc.Filter{Must: append(append([]*qc.Condition(nil), filter.Must...), qc.NewHasID(ids...)), MustNot: filter.MustNot}
	var hits []kefu.Hit
	err = s.scroll(ctx, "list chunks", byID, qc.NewWithPayload(true), func(p *qc.RetrievedPoint) error {
		c, err := decodeChunk(p.GetPayload())
		if err != nil {
			return fmt.Errorf("qdrant list: point %s: %w", p.GetId().GetUuid(), err)
		}
		hits = append(hits, kefu.Hit{Chunk: c})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i].Chunk, hits[j].Chunk
		if a.DocID != b.DocID {
			return a.DocID < b.DocID
		}
		return a.Ordinal < b.Ordinal
	})
	return hits, nil
}
