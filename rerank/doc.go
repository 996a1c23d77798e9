// Package rerank is kefu's offline second-stage scorer. It reorders the
// candidates of the first-stage hybrid search by a logistic model over
// features of the query and each candidate: the first-stage scores and
// ranks, how much of the question the chunk's text, its title and heading,
// and its best sentence cover, whether the question's word pairs appear
// together, the chunk's length and document type, and whether its language
// is the question's.
//
// The weights are fitted on labelled retrieval data (Fit, run by
// `go run ./rerank/fit`), committed in weights.json and embedded, so the
// offline default stays one binary. The model's probability that a
// candidate answers is also what the pipeline's relevance bar reads.
package rerank
