// Package vectordb is the home of kefu's chunk stores. Each sub-package is one
// implementation: embedded (the on-disk default, no server) and, at scale,
// qdrant. They satisfy the small interfaces that their consumers declare
// (rag.Searcher, ingest.Store) and share one conformance suite, vectordbtest.
package vectordb
