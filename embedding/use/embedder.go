package use

import (
	"context"
	"math"
)

// Embedder adapts an Encoder to kefu's embedder contract (Name, Dims,
// Embed).
type Embedder struct {
	enc *Encoder
}

// NewEmbedder returns an embedder over enc.
func NewEmbedder(enc *Encoder) *Embedder { return &Embedder{enc: enc} }

// Name identifies the embedder and its version; a store built with one
// embedder must be queried with the same one.
func (e *Embedder) Name() string { return "use-lite-en-v1" }

// Dims is the length of every vector Embed returns.
func (e *Embedder) Dims() int { return Dims }

// Embed returns one vector per text, in order. A text the vocabulary
// cannot read, one of whose characters (spaces aside) more than half fall
// outside it, gets the zero vector: Chinese, for one, is all unknown
// pieces to this English model, and a vector of unknown pieces would place
// every such text near every other. A zero vector adds nothing to a hybrid
// search's dense side, so such a text is found, and finds, by its words on
// the lexical side alone. An empty text gets the zero vector too. A text
// of more than MaxPieces pieces is read in windows of MaxPieces, whose
// vectors are averaged (weighted by their pieces); Encoder.Vector reads
// the first window only, as the graph does. Embed fails only when ctx is
// done.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = e.vector(t)
	}
	return out, nil
}

// vector embeds one text under Embed's rule.
func (e *Embedder) vector(text string) []float32 {
	ids, chars, unknownChars := e.enc.tok.encode(text)
	if 2*unknownChars > chars {
		return make([]float32, Dims)
	}
	if len(ids) <= MaxPieces {
		return e.enc.vector(ids)
	}
	// A text longer than the encoder reads (two chunks in three of a
	// product catalogue are): the mean of its windows' vectors, each
	// weighted by its pieces, normalised, so that the whole text counts.
	sum := make([]float64, Dims)
	for start := 0; start < len(ids); start += MaxPieces {
		w := ids[start:min(start+MaxPieces, len(ids))]
		for k, v := range e.enc.vector(w) {
			sum[k] += float64(len(w)) * float64(v)
		}
	}
	var ss float64
	for _, v := range sum {
		ss += v * v
	}
	out := make([]float32, Dims)
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for k, v := range sum {
		out[k] = float32(v * inv)
	}
	return out
}
