package qdrant

import (
	"context"
	"fmt"
	"sort"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/kefuhq/kefu"
)

// DocumentChunks returns the stored chunks of one document, in ordinal
// order, each with its dense vector: what a caller needs to put the
// document back later with Replace (ingest keeps it to take a change
// back). A document that is not stored has no chunks: the result is empty,
// not an error. It scrolls the document's chunk points by doc_id, a page
// per request. This is an operator's read of one named document, not a
// shopper's search: it returns the chunks whoever owns them, and no
// shopper-facing path calls it. Qdrant stores cosine vectors normalised,
// so a vector comes back as its unit-length copy (the embedders' vectors
// already are).
func (s *Store) DocumentChunks(ctx context.Context, docID string) ([]kefu.Chunk, error) {
	if docID == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "document has no id")
	}
	filter := &qc.Filter{Must: []*qc.Condition{
		qc.NewMatchKeyword(fieldKind, kindChunk),
		qc.NewMatchKeyword(fieldDocID, docID),
	}}
	var out []kefu.Chunk
	err := s.scrollPoints(ctx, "read document "+docID, filter, qc.NewWithPayload(true), qc.NewWithVectorsInclude(vecDense), func(p *qc.RetrievedPoint) error {
		c, err := decodeChunk(p.GetPayload())
		if err != nil {
			return fmt.Errorf("qdrant read document %s: point %s: %w", docID, p.GetId().GetUuid(), err)
		}
		c.Vector = denseOf(p.GetVectors())
		if len(c.Vector) != s.emb.Dims {
			return fmt.Errorf("qdrant read document %s: chunk %s has a %d-dim vector, the store holds %d", docID, c.ID, len(c.Vector), s.emb.Dims)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ordinal < out[j].Ordinal })
	return out, nil
}

// denseOf reads a point's dense vector, from the current field or from
// the one older servers fill.
func denseOf(v *qc.VectorsOutput) []float32 {
	out := v.GetVectors().GetVectors()[vecDense]
	if d := out.GetDense(); d != nil {
		return d.GetData()
	}
	return out.GetData() // deprecated, but what servers before 1.13 fill
}
