// Package kefu holds the domain types that kefu's packages share: documents and
// chunks of the shop's knowledge, search queries and hits, and the one
// application error type. It imports nothing of kefu's own, so every package
// (ingest, rag, the stores, the API) can speak in these terms without
// importing each other.
package kefu
