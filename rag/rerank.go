package rag

import (
	"context"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/telemetry"
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

// WithRerankBar sets, for a pipeline with a reranker that judges answers
// (an Answerable method), the probability it must give for the knowledge
// to count as answering; 0, the default, keeps the first-stage bar of
// WithRelevance on the best hit.
func WithRerankBar(bar float64) Option { return func(o *options) { o.rerankBar = bar } }

// WithStrongBar sets, for a pipeline with a reranker that judges answers,
// the probability at which the evidence outweighs the understanding: a
// question taken for out of scope, or for small talk, is answered when the
// reranker's judgement reaches it (default 0: never).
func WithStrongBar(bar float64) Option { return func(o *options) { o.strongBar = bar } }

// rerankDepth is how many first-stage candidates a reranker sees.
const rerankDepth = 40

// ranked retrieves for query under f and, with a reranker, reorders the
// first rerankDepth candidates by it; it returns at most topK hits, and
// whether they answer the question (found) and strongly (see judge). A
// reranker that fails leaves the first-stage order. With a product in
// context, that product's chunks are searched first and come first, unless
// none of them answers and the shop's hits other than other products'
// records do (a question about delivery asked from a product page): then
// the shop's hits come first, without other products' records (a question
// asked on one product's page is not answered by another product), and the
// product's own chunks follow. The verdict is the one of the list that
// decided, judged as it was ranked. A message that describes a situation
// gets its candidates spread over documents before they are cut to topK
// (see spread).
func (p *Pipeline) ranked(ctx context.Context, query, expand string, f kefu.Filter, product string) (hits []kefu.Hit, found, strong bool, err error) {
	hits, err = p.rankedIn(ctx, query, expand, f)
	if err != nil {
		return nil, false, false, err
	}
	var own []kefu.Hit
	if product != "" {
		f.ProductID = product
		if own, err = p.rankedIn(ctx, query, expand, f); err != nil {
			return nil, false, false, err
		}
	}
	if len(own) == 0 {
		found, strong = p.judge(ctx, query, hits)
		return hits, found, strong, nil
	}
	out := append(own, without(hits, own)...)
	found, strong = p.judge(ctx, query, own)
	if !found {
		shop := withoutOtherProducts(hits, product)
		if shopFound, shopStrong := p.judge(ctx, query, shop); shopFound {
			out, found, strong = append(shop, without(own, shop)...), true, shopStrong
		}
	}
	if len(out) > p.opts.topK {
		out = out[:p.opts.topK]
	}
	return out, found, strong, nil
}

// withoutOtherProducts returns hits without the product records of
// products other than product.
func withoutOtherProducts(hits []kefu.Hit, product string) []kefu.Hit {
	var out []kefu.Hit
	for _, h := range hits {
		if h.Chunk.Type == kefu.TypeProduct && !h.Chunk.Describes(product) {
			continue
		}
		out = append(out, h)
	}
	return out
}

func (p *Pipeline) rankedIn(ctx context.Context, query, expand string, f kefu.Filter) ([]kefu.Hit, error) {
	if p.opts.rerank == nil {
		hits, err := p.retrieve(ctx, query, expand, f, p.opts.topK)
		return spread(query, hits), err
	}
	hits, err := p.retrieve(ctx, query, expand, f, max(p.opts.topK, rerankDepth))
	if err != nil {
		return nil, err
	}
	rctx, span := telemetry.Start(ctx, "kefu.rerank", attribute.Int("kefu.candidates", len(hits)))
	out, err := p.opts.rerank.Rerank(rctx, query, hits)
	telemetry.End(span, err)
	if err == nil && len(out) > 0 {
		hits = out
	}
	hits = spread(query, hits)
	if len(hits) > p.opts.topK {
		hits = hits[:p.opts.topK]
	}
	return hits, nil
}

// Candidates returns what a reranker would see for a turn: the
// first-stage hits of the turn's standalone query at rerank depth, in
// first-stage order, under the same filter as the answer (the shopper's
// own and public chunks, policies in force; the turn's product only, when
// it names one). It is what a reranker is fitted on.
func (p *Pipeline) Candidates(ctx context.Context, t Turn) (string, []kefu.Hit, error) {
	u := Understand(t.Message, t.Locale, t.History)
	f := kefu.Filter{CustomerID: t.CustomerID, At: p.opts.now().Format("2006-01-02"), ProductID: t.ProductID}
	hits, err := p.retrieve(ctx, u.Query, expansion(u.Query), f, max(p.opts.topK, rerankDepth))
	return u.Query, hits, err
}
