// Package hosted reranks retrieval candidates with a hosted cross-encoder
// behind a /rerank endpoint, in one of the dialects such services speak:
//
//   - Cohere (POST https://api.cohere.com/v1/rerank, also /v2/rerank):
//     {"model", "query", "documents": [...], "top_n"} ->
//     {"results": [{"index", "relevance_score"}]};
//   - Jina (POST https://api.jina.ai/v1/rerank): the same shape;
//   - Hugging Face text-embeddings-inference (POST {url}/rerank):
//     {"query", "texts": [...], "truncate": true} -> [{"index", "score"}].
//
// A Client satisfies rag.Reranker. Requests are bounded: long documents
// are cut, the candidate count is capped, and a service's batch limit is
// respected by splitting the candidates into batches whose scores are
// merged. Each call has a timeout. The API key is sent as a bearer token
// and never appears in an error or a log line. Every failure (the service
// down, slow, refusing, or replying with something malformed) is a
// *kefu.Error with code kefu.EUnavailable; the caller keeps its
// first-stage order then.
package hosted
