package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/vectordb/embedded"
	"github.com/kefuhq/kefu/vectordb/qdrant/qdranttest"
	"github.com/kefuhq/kefu/vectordb/vectordbtest"
)

var _ vectordbtest.Store = (*Store)(nil)

var testEmbedder = EmbedderInfo{Name: "local-hash-v1", Dims: vectordbtest.Dims}

// openFake opens a store on srv's collection coll (a fresh fake when srv is
// nil) with fast retries.
func openFake(t testing.TB, srv *qdranttest.Server, cfg Config) (*Store, *qdranttest.Server) {
	t.Helper()
	if srv == nil {
		srv = qdranttest.Start(t)
	}
	cfg.Addr = srv.Addr
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	s, err := Open(context.Background(), cfg, testEmbedder)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

func TestConformance(t *testing.T) {
	vectordbtest.Run(t, func(t *testing.T) vectordbtest.Store {
		s, _ := openFake(t, nil, Config{})
		return s
	})
}

func TestCreatesSchemaOnFirstUse(t *testing.T) {
	s, srv := openFake(t, nil, Config{Collection: "shop_a"})
	coll, ok := srv.Collection("shop_a")
	if !ok {
		t.Fatal("collection shop_a was not created")
	}
	dense := coll.Create.GetVectorsConfig().GetParamsMap().GetMap()[vecDense]
	if dense.GetSize() != vectordbtest.Dims || dense.GetDistance() != qc.Distance_Cosine {
		t.Errorf("dense vector config %v", dense)
	}
	if m := coll.Create.GetSparseVectorsConfig().GetMap()[vecLexical].GetModifier(); m != qc.Modifier_Idf {
		t.Errorf("sparse modifier %v, want IDF", m)
	}
	for _, f := range []string{"type", "customer_id", "locale", "product_id", "doc_id", "kind", "gen", "effective_from_day", "effective_to_day"} {
		if typ, ok := coll.Indexes[f]; !ok || typ != indexType(f) {
			t.Errorf("payload index on %s: %v %v", f, typ, ok)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	// A second process opening the same collection creates nothing.
	srv.Reset()
	openFake(t, srv, Config{Collection: "shop_a"})
	if n := srv.Calls("Collections/Create") + srv.Calls("Points/CreateFieldIndex"); n != 0 {
		t.Errorf("reopening sent %d schema changes", n)
	}
}

func TestRefusesAnotherEmbedder(t *testing.T) {
	_, srv := openFake(t, nil, Config{})
	_, err := Open(context.Background(), Config{Addr: srv.Addr}, EmbedderInfo{Name: "openai-3-small", Dims: 1536})
	if kefu.ErrorCode(err) != kefu.EConflict {
		t.Fatalf("Open with another embedder: %v, want a conflict", err)
	}
	for _, want := range []string{"local-hash-v1", "openai-3-small", "1536"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRejectsBadInput(t *testing.T) {
	s, _ := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("d", kefu.TypePolicy, "", "text")
	chunks[0].Vector = chunks[0].Vector[:3]
	if err := s.Replace(ctx, doc, chunks); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("short vector: %v", err)
	}
	doc, chunks = vectordbtest.Doc("d", kefu.TypeOrder, "C1", "order")
	chunks[0].CustomerID = ""
	if err := s.Replace(ctx, doc, chunks); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("chunk without its document's owner: %v", err)
	}
	if _, err := s.Search(ctx, kefu.Query{Text: "x", Vector: []float32{1}}); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("query vector of the wrong size: %v", err)
	}
	if _, err := Open(ctx, Config{Addr: "no port at all:x"}, testEmbedder); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("bad address: %v", err)
	}
}

// The filter must express kefu.Filter.Allows exactly. Every combination of
// owner, type and filter is listed through Qdrant (the fake evaluates the
// filter the adapter built) and compared with Allows.
func TestFilterIsAllows(t *testing.T) {
	s, _ := openFake(t, nil, Config{})
	ctx := context.Background()
	var all []kefu.Chunk
	for _, owner := range []string{"", "C1", "C2"} {
		for _, typ := range kefu.DocTypes {
			id := typ + "-" + orDefault(owner, "public")
			doc, chunks := vectordbtest.Doc(id, typ, owner, "some text about "+id)
			if err := s.Replace(ctx, doc, chunks); err != nil {
				t.Fatal(err)
			}
			all = append(all, chunks...)
		}
	}
	var filters []kefu.Filter
	for _, cust := range []string{"", "C1", "C2", "C3"} {
		for _, only := range []bool{false, true} {
			for _, types := range [][]string{nil, {kefu.TypeOrder}, {kefu.TypePolicy, kefu.TypeFAQ}} {
				filters = append(filters, kefu.Filter{CustomerID: cust, OnlyCustomer: only, Types: types})
			}
		}
	}
	for _, f := range filters {
		var want []string
		for i := range all {
			if f.Allows(&all[i]) {
				want = append(want, all[i].ID)
			}
		}
		slices.Sort(want)
		for _, q := range []kefu.Query{
			{Filter: f, TopK: 100},
			vectordbtest.Query("some text about order", f, 100),
		} {
			hits, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(hits)
			slices.Sort(got)
			if q.Text == "" && !slices.Equal(got, want) {
				t.Errorf("filter %+v lists %v, want %v", f, got, want)
			}
			for _, id := range got {
				if !slices.Contains(want, id) {
					t.Errorf("filter %+v, query %q: %s is not allowed", f, q.Text, id)
				}
			}
		}
	}
}

func ids(hits []kefu.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.ID
	}
	return out
}

// Every query the adapter sends, at every prefetch level, carries the
// customer rule: the fake refuses one that does not (and Start's cleanup
// fails the test). Here the fake is shown to refuse such a query.
func TestFakeRefusesAQueryWithoutTheCustomerRule(t *testing.T) {
	s, srv := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("order-b", kefu.TypeOrder, "C2", "Order W2 tracking SF222")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Search(ctx, vectordbtest.Query("tracking", kefu.Filter{CustomerID: "C1"}, 5)); err != nil {
		t.Fatal(err)
	}
	queries := srv.Queries()
	if len(queries) == 0 {
		t.Fatal("no query recorded")
	}
	prefetches := 0
	var walk func(ps []*qc.PrefetchQuery)
	walk = func(ps []*qc.PrefetchQuery) {
		for _, p := range ps {
			prefetches++
			if p.GetFilter() == nil {
				t.Errorf("prefetch without a filter: %v", p)
			}
			walk(p.GetPrefetch())
		}
	}
	for _, q := range queries {
		walk(q.GetPrefetch())
	}
	if prefetches != 2 {
		t.Errorf("hybrid query has %d prefetches, want 2 (dense and sparse)", prefetches)
	}

	// A raw query without the rule.
	_, err := s.client.Query(ctx, &qc.QueryPoints{
		CollectionName: s.collection,
		Query:          qc.NewQueryDense(vectordbtest.Query("tracking", kefu.Filter{}, 1).Vector),
		Using:          qc.PtrOf(vecDense),
		Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(fieldKind, kindChunk)}},
		WithPayload:    qc.NewWithPayload(true),
	})
	if err == nil {
		t.Fatal("the fake answered a query without the customer rule")
	}
	if v := srv.TakeViolations(); len(v) != 1 || !strings.Contains(v[0], "customer_id") {
		t.Fatalf("violations %v", v)
	}
}

// ingest1000 writes 1,000 chunks as docs documents and returns the write
// requests the fake saw.
func ingest1000(t testing.TB, s *Store, srv *qdranttest.Server, docs int, many bool) []qdranttest.Write {
	t.Helper()
	ctx := context.Background()
	per := 1000 / docs
	var rs []Replacement
	for d := range docs {
		var paras []string
		for i := range per {
			paras = append(paras, fmt.Sprintf("Paragraph %d of document %d: kettle, returns and shipping.", i, d))
		}
		doc, chunks := vectordbtest.Doc(fmt.Sprintf("doc-%03d", d), kefu.TypeFAQ, "", strings.Join(paras, "\n\n"))
		rs = append(rs, Replacement{Doc: doc, Chunks: chunks})
	}
	srv.Reset()
	if many {
		if err := s.ReplaceMany(ctx, rs); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, r := range rs {
			if err := s.Replace(ctx, r.Doc, r.Chunks); err != nil {
				t.Fatal(err)
			}
		}
	}
	return srv.Writes()
}

func TestUpsertBatches(t *testing.T) {
	const chunks, batch = 1000, DefaultBatchSize
	maxRequests := (chunks + batch - 1) / batch
	for _, tc := range []struct {
		name string
		docs int
		many bool
		want int
	}{
		{"one document of 1000 chunks", 1, false, maxRequests},
		{"100 documents of 10 chunks, ReplaceMany", 100, true, maxRequests},
		{"100 documents of 10 chunks, one Replace each", 100, false, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := openFake(t, nil, Config{})
			writes := ingest1000(t, s, srv, tc.docs, tc.many)
			if len(writes) != tc.want {
				t.Fatalf("%d write round trips, want %d", len(writes), tc.want)
			}
			chunkPoints := 0
			for i, w := range writes {
				if w.Method != "Points/UpdateBatch" {
					t.Errorf("write %d is %s, want one UpdateBatch per request", i, w.Method)
				}
				n := 0
				fmt.Sscanf(w.Ops[0], "upsert %d", &n)
				chunkPoints += n
				if tc.want == maxRequests && i < len(writes)-1 && n < batch {
					t.Errorf("request %d carries %d chunk points, want %d", i, n, batch)
				}
			}
			if chunkPoints != chunks {
				t.Errorf("%d chunk points written, want %d", chunkPoints, chunks)
			}
			docs, err := s.Documents(context.Background())
			if err != nil || len(docs) != tc.docs {
				t.Fatalf("Documents: %d, %v; want %d", len(docs), err, tc.docs)
			}
			t.Logf("%d chunks in %d documents: %d write round trips", chunks, tc.docs, len(writes))
		})
	}
}

// The write ordering that keeps readers safe (see ReplaceMany): new chunks
// first, then the stale ones of the old version, then the document point.
func TestReplaceOrdering(t *testing.T) {
	s, srv := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", "one\n\ntwo\n\nthree")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	doc, chunks = vectordbtest.Doc("returns", kefu.TypePolicy, "", "uno")
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	w := srv.Writes()
	if len(w) != 1 || !slices.Equal(w[0].Ops, []string{"upsert 1", "delete", "upsert 1"}) {
		t.Fatalf("writes %+v, want one request: upsert chunks, delete stale, upsert document", w)
	}
	hits, err := s.Search(ctx, kefu.Query{TopK: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); !slices.Equal(got, []string{"returns#0"}) || hits[0].Chunk.Text != "uno" {
		t.Fatalf("after shrinking the document: %v", got)
	}
	docs, _ := s.Documents(ctx)
	if len(docs) != 1 || docs[0].Chunks != 1 || docs[0].Hash != doc.Hash || docs[0].Source != doc.Source {
		t.Fatalf("Documents() = %+v", docs)
	}

	// A failure part-way (the request after the first of a large document)
	// leaves the old hash, so the next ingest writes the document again.
	var paras []string
	for i := range 300 {
		paras = append(paras, fmt.Sprintf("line %d", i))
	}
	big, bigChunks := vectordbtest.Doc("returns", kefu.TypePolicy, "", strings.Join(paras, "\n\n"))
	srv.FailNext("Points/UpdateBatch", codes.OK, codes.Internal)
	if err := s.Replace(ctx, big, bigChunks); err == nil {
		t.Fatal("Replace succeeded through a failed request")
	}
	docs, _ = s.Documents(ctx)
	if len(docs) != 1 || docs[0].Hash != doc.Hash {
		t.Fatalf("after a failed replace Documents() = %+v, want the old hash", docs)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	s, _ := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("o-1", kefu.TypeOrder, "C9", "订单 W9 已发货，顺丰 SF999。")
	chunks[0].Locale, chunks[0].Heading, chunks[0].Meta = "zh", "订单 > 物流", map[string]string{"order_id": "W9"}
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(ctx, vectordbtest.Query("顺丰单号", kefu.Filter{CustomerID: "C9"}, 1))
	if err != nil || len(hits) != 1 {
		t.Fatalf("Search: %v %v", hits, err)
	}
	want := chunks[0]
	want.Vector = nil
	got := hits[0].Chunk
	if got.ID != want.ID || got.DocID != want.DocID || got.Ordinal != want.Ordinal || got.Type != want.Type ||
		got.Title != want.Title || got.Source != want.Source || got.Locale != want.Locale ||
		got.CustomerID != want.CustomerID || got.Heading != want.Heading || got.Text != want.Text ||
		got.Tokens != want.Tokens || got.Meta["order_id"] != "W9" || got.Vector != nil {
		t.Fatalf("chunk came back as %+v, want %+v", got, want)
	}
	if hits[0].Lexical <= 0 || hits[0].Dense <= 0 {
		t.Errorf("scores %+v", hits[0])
	}
}

// On the same data the store ranks and scores as the embedded store does:
// the cosine exactly, the lexical share up to float rounding (with every
// chunk in the length sample, and no misspelt word in the queries).
func TestScoresAgreeWithEmbedded(t *testing.T) {
	s, _ := openFake(t, nil, Config{})
	e, err := embedded.Open(t.TempDir(), embedded.EmbedderInfo{Name: testEmbedder.Name, Dims: testEmbedder.Dims})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	for _, d := range [][4]string{
		{"returns", kefu.TypePolicy, "", "You can return most items within 30 days of delivery.\n\nRefunds reach Alipay in 3-5 business days."},
		{"returns-zh", kefu.TypePolicy, "", "大部分商品签收后30天内可以退货。\n\n退款3-5个工作日退回支付宝。"},
		{"kettle", kefu.TypeProduct, "", "Lumi electric kettle, 1.7 L, 1800 W, stainless steel, price 199."},
	} {
		doc, chunks := vectordbtest.Doc(d[0], d[1], d[2], d[3])
		if err := s.Replace(ctx, doc, chunks); err != nil {
			t.Fatal(err)
		}
		doc, chunks = vectordbtest.Doc(d[0], d[1], d[2], d[3])
		if err := e.Replace(ctx, doc, chunks); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []kefu.Query{
		vectordbtest.Query("how many days to return an item", kefu.Filter{}, 3),
		vectordbtest.Query("退款几天到账", kefu.Filter{}, 3),
		vectordbtest.Query("kettle wattage", kefu.Filter{}, 3),
		vectordbtest.Query("return the kettle, the kettle I bought: return it within days", kefu.Filter{}, 3),
		{Text: "电水壶 多少钱", Expand: "kettle price", Vector: vectordbtest.Query("电水壶 多少钱", kefu.Filter{}, 3).Vector, TopK: 3},
	} {
		want, err := e.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !slices.Equal(ids(got), ids(want)) {
			t.Errorf("%q: hits %v, embedded %v", q.Text, ids(got), ids(want))
			continue
		}
		for i := range got {
			g, w := got[i], want[i]
			if math.Abs(g.Dense-w.Dense) > 1e-5 || math.Abs(g.Lexical-w.Lexical) > 1e-4 || math.Abs(g.Score-w.Score) > 1e-4 {
				t.Errorf("%q %s: lexical %v dense %v, embedded %v %v", q.Text, g.Chunk.ID, g.Lexical, g.Dense, w.Lexical, w.Dense)
			}
		}
	}
}

func TestRetriesUnavailable(t *testing.T) {
	s, srv := openFake(t, nil, Config{})
	ctx := context.Background()
	doc, chunks := vectordbtest.Doc("kettle", kefu.TypeProduct, "", "Lumi electric kettle, 1800 W.")
	srv.FailNext("Points/UpdateBatch", codes.Unavailable, codes.Unavailable)
	if err := s.Replace(ctx, doc, chunks); err != nil {
		t.Fatalf("Replace through two Unavailable answers: %v", err)
	}
	srv.FailNext("Points/QueryBatch", codes.Unavailable)
	if hits, err := s.Search(ctx, vectordbtest.Query("kettle", kefu.Filter{}, 1)); err != nil || len(hits) != 1 {
		t.Fatalf("Search through one Unavailable answer: %v %v", hits, err)
	}
	if n := srv.Calls("Points/UpdateBatch"); n != 3 {
		t.Errorf("UpdateBatch called %d times, want 3", n)
	}

	// Other failures are not retried.
	srv.Reset()
	srv.FailNext("Points/QueryBatch", codes.Internal)
	if _, err := s.Search(ctx, vectordbtest.Query("kettle", kefu.Filter{}, 1)); err == nil || srv.Calls("Points/QueryBatch") != 1 {
		t.Fatalf("Internal error: %v after %d calls", err, srv.Calls("Points/QueryBatch"))
	}

	// Retries give up with an unavailable error...
	srv.FailNext("Points/QueryBatch", codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable)
	if _, err := s.Search(ctx, vectordbtest.Query("kettle", kefu.Filter{}, 1)); kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("after every retry failed: %v", err)
	}

	// ...and never outlive the context: with a long backoff, a cancelled
	// context ends the wait.
	slow, _ := openFake(t, srv, Config{Backoff: time.Hour})
	srv.FailNext("Points/QueryBatch", codes.Unavailable)
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := slow.Search(cctx, vectordbtest.Query("kettle", kefu.Filter{}, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during backoff: %v", err)
	}
}

func TestAPIKey(t *testing.T) {
	const key = "k3fu-test-key-not-a-secret"
	srv := qdranttest.Start(t, qdranttest.WithAPIKey(key))
	if _, err := Open(context.Background(), Config{Addr: srv.Addr, APIKey: "wrong-key-value"}, testEmbedder); err == nil {
		t.Fatal("Open with a wrong key succeeded")
	} else if strings.Contains(err.Error(), "wrong-key-value") {
		t.Fatalf("the error shows the key: %v", err)
	}
	srv.TakeViolations()
	s, _ := openFake(t, srv, Config{APIKey: key})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestUUIDv5(t *testing.T) {
	// RFC 9562's namespace DNS and Python's uuid.uuid5(NAMESPACE_DNS, "python.org").
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got := uuidString(uuidV5(dns, "python.org")); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Fatalf("uuidV5 = %s", got)
	}
	if chunkPointID("a#0") != chunkPointID("a#0") || chunkPointID("a#0") == chunkPointID("a#1") || chunkPointID("a") == docPointID("a") {
		t.Fatal("point ids are not deterministic and distinct")
	}
}

func TestSplitAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"", "localhost", 6334},
		{"qdrant", "qdrant", 6334},
		{"qdrant:6334", "qdrant", 6334},
		{"10.0.0.5:7000", "10.0.0.5", 7000},
		{"[::1]:6334", "::1", 6334},
	} {
		host, port, err := splitAddr(tc.in)
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("splitAddr(%q) = %q %d %v", tc.in, host, port, err)
		}
	}
	for _, bad := range []string{"qdrant:http", "qdrant:0", "a:b:c"} {
		if _, _, err := splitAddr(bad); err == nil {
			t.Errorf("splitAddr(%q) accepted", bad)
		}
	}
}
