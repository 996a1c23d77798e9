package qdrant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/kefuhq/kefu"
)

// Replacement is one document with the chunks that replace all of its
// stored ones, for ReplaceMany.
type Replacement = kefu.Replacement

// Replace replaces every chunk of doc.ID with chunks. Each chunk must carry
// a vector of the store's dimension and belong to doc (same id and owner).
// It is ReplaceMany with one document: one request when the document has
// at most BatchSize chunks.
func (s *Store) Replace(ctx context.Context, doc kefu.Document, chunks []kefu.Chunk) error {
	return s.ReplaceMany(ctx, []Replacement{{Doc: doc, Chunks: chunks}})
}

// ReplaceMany replaces the chunks of several documents, packing their points
// into as few requests as it can: each request carries BatchSize chunk
// points (the last one fewer), so 1,000 chunks take 4 requests at the
// default 256, whether they belong to one document or to a hundred.
//
// Ordering. Every call draws a fresh generation tag G and every point it
// writes carries it. Each request is one UpdateBatch that Qdrant applies in
// order:
//
//  1. upsert the request's chunk points (tagged G);
//  2. for each document whose last chunk is in this request, delete its
//     chunk points whose generation is not G (the stale tail: chunks of the
//     old version beyond the new chunk count);
//  3. upsert those documents' document points (their DocumentInfo, hash
//     included).
//
// Why readers are safe: point ids are derived from chunk ids, so step 1
// replaces each chunk in place, point by point, and a reader never sees two
// versions of one chunk nor a document missing (there is no delete-first
// gap). The only mixed state, new chunks next to the old version's extra
// chunks, lasts from step 1 to step 2 of the same request, and for a
// document of more than BatchSize chunks, across its few requests. The
// customer filter is never at risk: a chunk carries its document's owner in
// every version. Why it is safe for writers: the document point, which holds
// the hash that lets ingest skip an unchanged document, is written last, so
// a failure part-way leaves the old hash and the next ingest replaces the
// document again; retrying a request is harmless because every step is
// idempotent. Two writers replacing the same document at the same moment
// are not supported (ingest runs one writer per document).
func (s *Store) ReplaceMany(ctx context.Context, rs []Replacement) error {
	seen := map[string]bool{}
	for _, r := range rs {
		if err := s.validate(r); err != nil {
			return err
		}
		if seen[r.Doc.ID] {
			return kefu.Errorf(kefu.EInvalid, "document %q is replaced twice in one batch", r.Doc.ID)
		}
		seen[r.Doc.ID] = true
	}
	if len(rs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	gen := newGeneration()
	var req writeRequest
	for _, r := range rs {
		for i := range r.Chunks {
			req.points = append(req.points, chunkPoint(&r.Chunks[i], gen))
			if len(req.points) >= s.batch && i < len(r.Chunks)-1 {
				if err := s.write(ctx, &req, gen); err != nil {
					return err
				}
			}
		}
		req.done = append(req.done, r)
		if len(req.points) >= s.batch {
			if err := s.write(ctx, &req, gen); err != nil {
				return err
			}
		}
	}
	if len(req.points) > 0 || len(req.done) > 0 {
		return s.write(ctx, &req, gen)
	}
	return nil
}

// writeRequest gathers what one UpdateBatch carries.
type writeRequest struct {
	points []*qc.PointStruct
	done   []Replacement // documents whose last chunk is in points (or that have none)
}

// write sends req as one UpdateBatch (steps 1-3 of ReplaceMany) and empties it.
func (s *Store) write(ctx context.Context, req *writeRequest, gen string) error {
	var ops []*qc.PointsUpdateOperation
	if len(req.points) > 0 {
		ops = append(ops, qc.NewPointsUpdateUpsert(&qc.PointsUpdateOperation_PointStructList{Points: req.points}))
	}
	if len(req.done) > 0 {
		ids := make([]string, len(req.done))
		docs := make([]*qc.PointStruct, len(req.done))
		for i, r := range req.done {
			ids[i] = r.Doc.ID
			info := kefu.DocumentInfo{ID: r.Doc.ID, Type: r.Doc.Type, Source: r.Doc.Source, Hash: r.Doc.Hash, Chunks: len(r.Chunks)}
			docs[i] = &qc.PointStruct{
				Id:      qc.NewIDUUID(docPointID(r.Doc.ID)),
				Payload: docPayload(info, gen),
				Vectors: qc.NewVectorsMap(map[string]*qc.Vector{}),
			}
		}
		stale := &qc.Filter{
			Must: []*qc.Condition{
				qc.NewMatchKeyword(fieldKind, kindChunk),
				qc.NewMatchKeywords(fieldDocID, ids...),
			},
			MustNot: []*qc.Condition{qc.NewMatchKeyword(fieldGen, gen)},
		}
		ops = append(ops,
			qc.NewPointsUpdateDeletePoints(&qc.PointsUpdateOperation_DeletePoints{Points: qc.NewPointsSelectorFilter(stale)}),
			qc.NewPointsUpdateUpsert(&qc.PointsUpdateOperation_PointStructList{Points: docs}),
		)
	}
	what := "store chunks"
	if len(req.done) > 0 {
		what = fmt.Sprintf("store document %s", req.done[0].Doc.ID)
		if len(req.done) > 1 {
			what += fmt.Sprintf(" and %d more", len(req.done)-1)
		}
	}
	err := s.call(ctx, what, func(ctx context.Context) error {
		_, err := s.client.UpdateBatch(ctx, &qc.UpdateBatchPoints{
			CollectionName: s.collection,
			Wait:           qc.PtrOf(true),
			Operations:     ops,
		})
		return err
	})
	*req = writeRequest{}
	s.forgetStats()
	return err
}

// forgetStats makes the next search re-read the collection's statistics,
// which a write of this process has just changed.
func (s *Store) forgetStats() {
	s.mu.Lock()
	s.statsAt = time.Time{}
	s.mu.Unlock()
}

func (s *Store) validate(r Replacement) error {
	doc := r.Doc
	if doc.ID == "" {
		return kefu.Errorf(kefu.EInvalid, "document has no id")
	}
	for i := range r.Chunks {
		c := &r.Chunks[i]
		if c.DocID != doc.ID {
			return kefu.Errorf(kefu.EInvalid, "chunk %q belongs to %q, not %q", c.ID, c.DocID, doc.ID)
		}
		if c.ID == "" {
			return kefu.Errorf(kefu.EInvalid, "chunk %d of %q has no id", i, doc.ID)
		}
		if len(c.Vector) != s.emb.Dims {
			return kefu.Errorf(kefu.EInvalid, "chunk %q has a %d-dim vector, the store holds %d", c.ID, len(c.Vector), s.emb.Dims)
		}
		if c.CustomerID != doc.CustomerID {
			return kefu.Errorf(kefu.EInvalid, "chunk %q has another owner than its document", c.ID)
		}
	}
	return nil
}

func chunkPoint(c *kefu.Chunk, gen string) *qc.PointStruct {
	vecs := map[string]*qc.Vector{vecDense: qc.NewVectorDense(c.Vector)}
	idx, w, terms := chunkSparse(c)
	if len(idx) > 0 {
		vecs[vecLexical] = qc.NewVectorSparse(idx, w)
	}
	payload := chunkPayload(c, gen)
	payload[fieldTerms] = qc.NewValueInt(int64(terms))
	return &qc.PointStruct{
		Id:      qc.NewIDUUID(chunkPointID(c.ID)),
		Payload: payload,
		Vectors: qc.NewVectorsMap(vecs),
	}
}

func newGeneration() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Delete removes a document, its chunks and its document point, in one
// request; deleting a missing document is not an error.
func (s *Store) Delete(ctx context.Context, docID string) error {
	if docID == "" {
		return kefu.Errorf(kefu.EInvalid, "document has no id")
	}
	defer s.forgetStats()
	return s.call(ctx, "delete document "+docID, func(ctx context.Context) error {
		_, err := s.client.Delete(ctx, &qc.DeletePoints{
			CollectionName: s.collection,
			Wait:           qc.PtrOf(true),
			Points:         qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(fieldDocID, docID)}}),
		})
		return err
	})
}

// scrollPage is how many points one scroll request returns.
const scrollPage = 1024

// Documents lists every stored document, sorted by id.
func (s *Store) Documents(ctx context.Context) ([]kefu.DocumentInfo, error) {
	filter := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(fieldKind, kindDoc)}}
	var out []kefu.DocumentInfo
	err := s.scroll(ctx, "list documents", filter, qc.NewWithPayload(true), func(p *qc.RetrievedPoint) error {
		out = append(out, decodeDoc(p.GetPayload()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// scroll calls fn for every point filter matches, a page per request,
// without their vectors.
func (s *Store) scroll(ctx context.Context, op string, filter *qc.Filter, payload *qc.WithPayloadSelector, fn func(*qc.RetrievedPoint) error) error {
	return s.scrollPoints(ctx, op, filter, payload, qc.NewWithVectors(false), fn)
}

// scrollPoints is scroll with the vectors that vectors selects.
func (s *Store) scrollPoints(ctx context.Context, op string, filter *qc.Filter, payload *qc.WithPayloadSelector, vectors *qc.WithVectorsSelector, fn func(*qc.RetrievedPoint) error) error {
	var offset *qc.PointId
	for {
		var pts []*qc.RetrievedPoint
		var next *qc.PointId
		err := s.call(ctx, op, func(ctx context.Context) (err error) {
			pts, next, err = s.client.ScrollAndOffset(ctx, &qc.ScrollPoints{
				CollectionName: s.collection,
				Filter:         filter,
				Offset:         offset,
				Limit:          qc.PtrOf(uint32(scrollPage)),
				WithPayload:    payload,
				WithVectors:    vectors,
			})
			return err
		})
		if err != nil {
			return err
		}
		for _, p := range pts {
			if err := fn(p); err != nil {
				return err
			}
		}
		if next == nil || len(pts) == 0 {
			return nil
		}
		offset = next
	}
}

// Refresh drops what the store caches of the collection (the statistics
// of the lexical score), so that the next search sees what another
// process has written.
func (s *Store) Refresh() { s.forgetStats() }
