package use

import "context"

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
// the lexical side alone. An empty text gets the zero vector too. Embed
// fails only when ctx is done.
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
	return e.enc.vector(ids)
}
