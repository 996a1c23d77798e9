package vectordb

import "math"

// Fusion weights. Lexical matching carries most of the signal for shop
// documents (product names, order ids, policy terms); the dense side adds
// typo and partial-word tolerance. Chosen on the demo golden set, see
// docs/DECISIONS.md.
const (
	LexicalWeight = 0.6
	DenseWeight   = 0.4
)

// Fuse is the hybrid score of a chunk from its normalised lexical score
// (0..1) and its cosine. Every store ranks by it, so rankings agree across
// stores.
func Fuse(lexical, dense float64) float64 {
	return LexicalWeight*lexical + DenseWeight*math.Max(0, dense)
}

// DefaultTopK is the number of hits a search returns when the query asks
// for none.
const DefaultTopK = 10
