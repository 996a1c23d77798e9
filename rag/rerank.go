package rag

import (
	"context"

	"github.com/kefuhq/kefu"
)

// Reranker reorders the first-stage candidates of a query, best first. It
// may drop candidates but never adds any, and it must keep the Lexical and
// Dense scores of the hits it returns (the relevance bar reads them); it
// sets Score to its own. An error leaves the first-stage order in place.
type Reranker interface {
	Rerank(ctx context.Context, query string, hits []kefu.Hit) ([]kefu.Hit, error)
}

// RerankFunc adapts a function to Reranker.
type RerankFunc func(ctx context.Context, query string, hits []kefu.Hit) ([]kefu.Hit, error)

// Rerank calls f.
func (f RerankFunc) Rerank(ctx context.Context, query string, hits []kefu.Hit) ([]kefu.Hit, error) {
	return f(ctx, query, hits)
}

// WithReranker adds a second-stage scorer over the retrieved candidates
// (default none: the store's fused order stands).
func WithReranker(r Reranker) Option { return func(o *options) { o.rerank = r } }
