// Package embedded is kefu's default chunk store: one bbolt file under the
// data directory holds documents, chunks and vectors; at open the store
// builds in-memory indexes from it, a BM25 inverted index over
// tokenize.Terms and a column-major vector matrix, and answers hybrid
// queries by fusing both sides with a weighted sum (vectordb.Fuse).
//
// Every write (the replacement of one document's chunks) is one bbolt
// transaction, so a crash mid-ingest leaves each document either wholly old
// or wholly new. The customer filter (kefu.Filter) is applied inside Search
// before anything is ranked.
package embedded
