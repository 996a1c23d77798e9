// Package tokenize turns shop text into the terms that kefu indexes and
// matches: Unicode-normalised, lower-cased words for Latin scripts and
// overlapping character bigrams for Chinese (with single characters kept
// for one-character words). The same terms feed the embedded store's BM25
// index, the local embedder and Qdrant's sparse vectors, so Chinese and
// English behave the same everywhere.
package tokenize
