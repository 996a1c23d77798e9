package embedding

import (
	"context"
	"hash/fnv"
	"math"

	"github.com/kefuhq/kefu/tokenize"
)

// DefaultDims is the vector size of the local embedder when none is given.
const DefaultDims = 512

// Local is a deterministic feature-hashing embedder. Each text becomes the
// L2-normalised sum of signed hashed features: whole words, character
// trigrams of each word (so "retrun" still lands near "return"), and Chinese
// character bigrams and unigrams. Term frequency is dampened
// logarithmically. It has no notion of synonyms or translation: "refund"
// and "money back" or "退款" do not meet unless they share characters; the
// lexical side of hybrid search and a real embedder cover that.
type Local struct {
	dims int
}

// NewLocal returns a local embedder producing vectors of dims dimensions
// (DefaultDims when dims <= 0).
func NewLocal(dims int) *Local {
	if dims <= 0 {
		dims = DefaultDims
	}
	return &Local{dims: dims}
}

// Name identifies the embedder and its version; a store built with one
// embedder must be queried with the same one.
func (l *Local) Name() string { return "local-hash-v1" }

// Dims is the length of every vector Embed returns.
func (l *Local) Dims() int { return l.dims }

// Embed returns one vector per text, in order. An empty text gets the zero
// vector. It fails only when ctx is done.
func (l *Local) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = l.Vector(t)
	}
	return out, nil
}

// Feature weights: a whole word or a Chinese bigram is the unit of meaning;
// trigrams and single characters add recall at a lower weight.
const (
	wordWeight    = 1.0
	trigramWeight = 0.3
	bigramWeight  = 1.0
	unigramWeight = 0.4
)

// Vector embeds one text.
func (l *Local) Vector(text string) []float32 {
	counts := map[uint64]float64{}
	add := func(kind byte, s string, w float64) {
		h := fnv.New64a()
		h.Write([]byte{kind})
		h.Write([]byte(s))
		counts[h.Sum64()] += w
	}
	for _, t := range tokenize.Tokens(text) {
		switch t.Kind {
		case tokenize.Word:
			add('w', t.Text, wordWeight)
			if len(t.Text) >= 4 {
				g := "<" + t.Text + ">"
				for i := 0; i+3 <= len(g); i++ {
					add('t', g[i:i+3], trigramWeight)
				}
			}
		case tokenize.Bigram:
			add('b', t.Text, bigramWeight)
		case tokenize.Unigram:
			add('u', t.Text, unigramWeight)
		}
	}
	v := make([]float32, l.dims)
	for h, c := range counts {
		// Sub-linear frequency: a word said five times is not five times as important.
		w := 1 + math.Log(c)
		if c < 1 {
			w = c
		}
		sign := float32(1)
		if h>>63 == 1 {
			sign = -1
		}
		v[h%uint64(l.dims)] += sign * float32(w)
	}
	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range v {
		v[i] *= inv
	}
	return v
}
