// Package qdrant is kefu's chunk store on a Qdrant server (or cluster),
// spoken to over gRPC with github.com/qdrant/go-client. It satisfies the same
// small interfaces as the embedded store (rag.Searcher, ingest.Store) and
// passes the same conformance suite, vectordbtest, so that moving a shop from
// one store to the other changes nothing a shopper can see.
//
// # Schema
//
// One collection (Config.Collection, "kefu_chunks" by default) holds two
// kinds of point, told apart by the payload field "kind":
//
//   - a chunk point per kefu.Chunk: the named dense vector "dense" (cosine,
//     the embedder's dimension), the named sparse vector "lexical" (Qdrant's
//     IDF modifier), and a payload holding every kefu.Chunk field except the
//     vector, so that a hit is self-contained. Its id is the UUIDv5 of the
//     chunk id, so a re-ingest overwrites it in place;
//   - a document point per ingested document, without vectors, holding the
//     kefu.DocumentInfo that Documents lists.
//
// The sparse vector is built with kefu's own tokenizer (tokenize.Tokens, the
// one the embedded store indexes), so Chinese bigrams and English stems match
// exactly as they do in the embedded store: each distinct term of the chunk's
// title, heading and text is hashed (FNV-1a, 32 bits) to an index whose
// weight is the BM25-saturated term frequency tf·(k1+1)/(tf+k1), k1 = 1.2 (1
// for a term seen once). Qdrant multiplies in the IDF at query time. The
// chunk's length in terms rides in the payload, so that the client can apply
// BM25's length normalisation, which needs the corpus' mean length and so
// cannot be baked into stored weights.
//
// The collection records the embedder that built it in its metadata; Open
// refuses another embedder with a kefu.EConflict error, as the embedded store
// does. Payload indexes cover every field a filter names (kind, doc_id, gen,
// type, customer_id, locale); Open adds any that an older collection lacks.
//
// # Search
//
// Search sends one QueryBatch request: a hybrid query (a dense and a sparse
// prefetch, each carrying the payload filter that expresses kefu.Filter,
// whose union is re-scored by the dense vector so that each candidate comes
// back with its exact cosine), plus one tiny single-term sparse query per
// query term, whose top score divided by that point's weight for the term is
// the term's IDF as Qdrant computes it. From those, Hit.Lexical is computed
// client-side as the embedded store defines it (BM25 over the query's terms,
// each weighed by how often the query says it, divided by the sum of their
// IDF weighed alike, plus a quarter of the same share for the expansion
// terms), and hits are ranked by
// vectordb.Fuse(Lexical, Dense). The approximations are documented on
// Search.
//
// # Writes
//
// See Store.ReplaceMany for the write ordering and why readers never see a
// document half old and half new for longer than one request.
package qdrant
