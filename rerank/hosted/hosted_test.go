package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
	"github.com/kefuhq/kefu/rag"
)

var _ rag.Reranker = (*Client)(nil)

const secret = "rk-test-5f4e3d2c1b"

// seen is one request a fake service received.
type seen struct {
	path, auth string
	body       map[string]any
	docs       []string
}

// service is a fake rerank endpoint of one dialect. It scores a document
// by how many of the query's words it holds (plus a small tie-breaker
// that favours shorter documents), as a cross-encoder would rank them, and
// replies in the dialect's shape, best first. reply, when set, replaces
// the reply.
type service struct {
	t       *testing.T
	dialect Dialect
	limit   int // the most documents one request may carry (0: any)
	mu      sync.Mutex
	reqs    []seen
	reply   func(w http.ResponseWriter, r *http.Request, n int)
}

func newService(t *testing.T, d Dialect) (*service, *httptest.Server) {
	s := &service{t: t, dialect: d}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func score(query, doc string) float64 {
	n := 0.0
	for _, w := range strings.Fields(strings.ToLower(query)) {
		if strings.Contains(strings.ToLower(doc), w) {
			n++
		}
	}
	return n + 1/float64(10+len(doc))
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"message":"bad json"}`, http.StatusBadRequest)
		return
	}
	key := "documents"
	if s.dialect == TEI {
		key = "texts"
	}
	var docs []string
	for _, d := range body[key].([]any) {
		docs = append(docs, d.(string))
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, seen{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body, docs: docs})
	s.mu.Unlock()
	if s.limit > 0 && len(docs) > s.limit {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		fmt.Fprintf(w, `{"error":"batch size %d > maximum allowed batch size %d","error_type":"validation"}`, len(docs), s.limit)
		return
	}
	if s.reply != nil {
		s.reply(w, r, len(docs))
		return
	}
	query, _ := body["query"].(string)
	idx := make([]int, len(docs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score(query, docs[idx[a]]) > score(query, docs[idx[b]]) })
	if n, ok := body["top_n"].(float64); ok && int(n) < len(idx) {
		idx = idx[:int(n)]
	}
	var out []map[string]any
	for _, i := range idx {
		if s.dialect == TEI {
			out = append(out, map[string]any{"index": i, "score": score(query, docs[i])})
		} else {
			out = append(out, map[string]any{"index": i, "relevance_score": score(query, docs[i])})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if s.dialect == TEI {
		json.NewEncoder(w).Encode(out)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": "r-1", "results": out, "meta": map[string]any{"billed_units": map[string]any{"search_units": 1}}})
}

func (s *service) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hit(id, title, text string) kefu.Hit {
	return kefu.Hit{Chunk: kefu.Chunk{ID: id, DocID: id, Title: title, Text: text}, Score: 0.5, Lexical: 0.3, Dense: 0.6}
}

// candidates is a first-stage list where the answer is not first.
func candidates() []kefu.Hit {
	return []kefu.Hit{
		hit("shipping", "Shipping", "Orders over 99 yuan ship free."),
		hit("case", "Tablet case", "The Lumi tablet case fits the iPad Air 11 inch."),
		hit("returns", "Returns", "Return within 30 days."),
		hit("pro", "Tablet case FAQ", "Does the case fit the iPad Pro? No."),
	}
}

func ids(hits []kefu.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Chunk.ID)
	}
	return out
}

func TestRerankEachDialect(t *testing.T) {
	for _, d := range []Dialect{Cohere, Jina, TEI} {
		t.Run(string(d), func(t *testing.T) {
			svc, srv := newService(t, d)
			path := "/v1/rerank"
			if d == TEI {
				path = "/rerank"
			}
			c := newClient(t, Config{Dialect: d, URL: srv.URL + path, APIKey: secret})
			in := candidates()
			got, err := c.Rerank(context.Background(), "which case fits the ipad air", in)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"case", "pro", "returns", "shipping"}; !slices.Equal(ids(got), want) {
				t.Fatalf("order %v, want %v", ids(got), want)
			}
			for i, h := range got {
				if i > 0 && h.Score > got[i-1].Score {
					t.Errorf("scores not descending: %v", got)
				}
				if h.Lexical != 0.3 || h.Dense != 0.6 {
					t.Errorf("%s lost its first-stage scores: %+v", h.Chunk.ID, h)
				}
			}
			if got[0].Score != score("which case fits the ipad air", "Tablet case\n\nThe Lumi tablet case fits the iPad Air 11 inch.") {
				t.Errorf("score %v is not the service's", got[0].Score)
			}
			if in[0].Chunk.ID != "shipping" || in[0].Score != 0.5 {
				t.Errorf("the input hits were changed: %v", in)
			}
			reqs := svc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.path != path || r.auth != "Bearer "+secret || len(r.docs) != 4 || r.body["query"] != "which case fits the ipad air" {
				t.Errorf("request %+v", r)
			}
			switch d {
			case TEI:
				if r.body["truncate"] != true || r.body["model"] != nil {
					t.Errorf("TEI request %v", r.body)
				}
			default:
				if r.body["model"] != DefaultModel(d) || r.body["return_documents"] != false || r.body["top_n"] != nil {
					t.Errorf("%s request %v", d, r.body)
				}
			}
			if c.Name() != string(d)+strings.TrimSuffix("/"+DefaultModel(d), "/") {
				t.Errorf("Name %q", c.Name())
			}
		})
	}
}

func TestTopN(t *testing.T) {
	for _, d := range []Dialect{Cohere, TEI} {
		svc, srv := newService(t, d)
		c := newClient(t, Config{Dialect: d, URL: srv.URL + "/rerank", Model: "m", TopN: 2})
		got, err := c.Rerank(context.Background(), "which case fits the ipad air", candidates())
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"case", "pro"}; !slices.Equal(ids(got), want) {
			t.Errorf("%s: %v, want %v", d, ids(got), want)
		}
		r := svc.requests()[0]
		if d == Cohere && r.body["top_n"] != 2.0 {
			t.Errorf("cohere: top_n %v, want 2", r.body["top_n"])
		}
		if d == TEI && r.body["model"] != nil {
			t.Errorf("tei was sent a model: %v", r.body)
		}
	}
}

// text-embeddings-inference refuses more texts than its batch limit: the
// candidates go in batches, whose scores are merged into one order.
func TestBatchesMerge(t *testing.T) {
	svc, srv := newService(t, TEI)
	svc.limit = DefaultTEIBatch
	var in []kefu.Hit
	for i := range 40 {
		in = append(in, hit(fmt.Sprintf("c%02d", i), "", strings.Repeat("filler ", i%7)+fmt.Sprintf("chunk %d", i)))
	}
	in[35].Chunk.Text = "the kettle holds 1.7 litres"
	in[3].Chunk.Text = "kettle"
	c := newClient(t, Config{Dialect: TEI, URL: srv.URL + "/rerank", TopN: 5})
	got, err := c.Rerank(context.Background(), "how many litres does the kettle hold", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Chunk.ID != "c35" || got[1].Chunk.ID != "c03" {
		t.Fatalf("merged order %v, want c35, c03 first and 5 hits", ids(got))
	}
	reqs := svc.requests()
	sizes := []int{len(reqs[0].docs), len(reqs[1].docs)}
	slices.Sort(sizes)
	if len(reqs) != 2 || !slices.Equal(sizes, []int{8, 32}) {
		t.Fatalf("batches %v, want 32 + 8", sizes)
	}
	for _, r := range reqs {
		if r.body["top_n"] != nil {
			t.Errorf("a batch asked for top_n: %v", r.body)
		}
	}
}

func TestRequestIsBounded(t *testing.T) {
	svc, srv := newService(t, Jina)
	long := strings.Repeat("退货政策说明。", 2000) // 3 bytes a character
	var in []kefu.Hit
	for i := range 12 {
		in = append(in, hit(fmt.Sprintf("d%d", i), "Returns policy", long))
	}
	c := newClient(t, Config{Dialect: Jina, URL: srv.URL, MaxDocuments: 10, MaxDocumentBytes: 1000})
	got, err := c.Rerank(context.Background(), strings.Repeat("退货 ", 5000), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Errorf("%d hits back, want the 10 sent", len(got))
	}
	r := svc.requests()[0]
	if len(r.docs) != 10 {
		t.Fatalf("%d documents sent, want 10", len(r.docs))
	}
	for _, d := range r.docs {
		if len(d) > 1000 || !utf8.ValidString(d) || !strings.HasPrefix(d, "Returns policy\n\n退货") {
			t.Fatalf("document of %d bytes, valid UTF-8 %t: %.40q", len(d), utf8.ValidString(d), d)
		}
	}
	if q := r.body["query"].(string); len(q) > MaxQueryBytes || !utf8.ValidString(q) {
		t.Errorf("query of %d bytes", len(q))
	}
}

func TestDocumentText(t *testing.T) {
	for _, tc := range []struct {
		c    kefu.Chunk
		want string
	}{
		{kefu.Chunk{Title: "Returns", Heading: "Returns > Opened items", Text: "Opened items: 15 days."}, "Returns\nReturns > Opened items\n\nOpened items: 15 days."},
		{kefu.Chunk{Title: "Kettle", Text: "Kettle\nPower: 1800 W"}, "Kettle\nPower: 1800 W"},
		{kefu.Chunk{Title: "Returns", Heading: "Returns", Text: "30 days."}, "Returns\n\n30 days."},
		{kefu.Chunk{}, "-"},
		{kefu.Chunk{Text: "bad \xff byte"}, "bad  byte"},
	} {
		if got := document(tc.c, 1000); got != tc.want {
			t.Errorf("document(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestNothingToRerank(t *testing.T) {
	svc, srv := newService(t, Cohere)
	c := newClient(t, Config{Dialect: Cohere, URL: srv.URL})
	if got, err := c.Rerank(context.Background(), "q", nil); err != nil || got != nil {
		t.Errorf("no hits: %v, %v", got, err)
	}
	if _, err := c.Rerank(context.Background(), "  ", candidates()); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("blank query: %v, want invalid", err)
	}
	if n := len(svc.requests()); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
}

// Every failure is unavailable, names the service, and never holds the
// key, even when the service echoes it.
func TestFailures(t *testing.T) {
	raw := func(status int, body string) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	for _, tc := range []struct {
		name    string
		dialect Dialect
		reply   func(http.ResponseWriter, *http.Request, int)
		want    string
		status  int
	}{
		{"500", Cohere, raw(500, `{"message":"internal error"}`), "internal error", 500},
		{"401 echoing the key", Jina, raw(401, `{"detail":"invalid key `+secret+`"}`), "invalid key [redacted]", 401},
		{"429", TEI, raw(429, `{"error":"model is overloaded","error_type":"overloaded"}`), "model is overloaded", 429},
		{"plain text error", TEI, raw(502, "Bad Gateway"), "Bad Gateway", 502},
		{"nested error object", Cohere, raw(400, `{"error":{"message":"too many documents"}}`), "too many documents", 400},
		{"not JSON", Cohere, raw(200, `<html>hello</html>`), "invalid JSON", 0},
		{"cut short", Jina, raw(200, `{"results":[{"index":0,"relevance_score":0.`), "malformed reply", 0},
		{"no results key", Cohere, raw(200, `{"data":[]}`), `no "results"`, 0},
		{"results not a list", Jina, raw(200, `{"results":{"index":0}}`), "malformed reply", 0},
		{"empty results", Cohere, raw(200, `{"results":[]}`), "no results", 0},
		{"tei object instead of list", TEI, raw(200, `{"results":[{"index":0,"score":1}]}`), "malformed reply", 0},
		{"index out of range", Cohere, raw(200, `{"results":[{"index":4,"relevance_score":0.9}]}`), "outside 0..3", 0},
		{"negative index", TEI, raw(200, `[{"index":-1,"score":0.9}]`), "outside 0..3", 0},
		{"fractional index", Jina, raw(200, `{"results":[{"index":1.5,"relevance_score":0.9}]}`), "not a whole number", 0},
		{"huge index", TEI, raw(200, `[{"index":1e400,"score":0.9}]`), "index", 0},
		{"repeated index", Cohere, raw(200, `{"results":[{"index":1,"relevance_score":0.9},{"index":1,"relevance_score":0.8}]}`), "given twice", 0},
		{"no index", TEI, raw(200, `[{"score":0.9}]`), "no index", 0},
		{"no score", Cohere, raw(200, `{"results":[{"index":0}]}`), "no score", 0},
		{"tei score under cohere's name", TEI, raw(200, `[{"index":0,"relevance_score":0.9}]`), "no score", 0},
		{"infinite score", TEI, raw(200, `[{"index":0,"score":1e999}]`), "not a finite number", 0},
		{"score a string", Cohere, raw(200, `{"results":[{"index":0,"relevance_score":"high"}]}`), "malformed reply", 0},
		{"more results than documents", TEI, raw(200, `[{"index":0,"score":1},{"index":1,"score":1},{"index":2,"score":1},{"index":3,"score":1},{"index":4,"score":1}]`), "5 results for 4", 0},
		{"trailing data", TEI, raw(200, `[{"index":0,"score":1}] [1]`), "after the JSON value", 0},
		{"too large", Cohere, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Write([]byte(`{"results":[{"index":0,"relevance_score":1}],"pad":"`))
			w.Write([]byte(strings.Repeat("x", maxReplyBytes)))
			w.Write([]byte(`"}`))
		}, "larger than", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, srv := newService(t, tc.dialect)
			svc.reply = tc.reply
			c := newClient(t, Config{Dialect: tc.dialect, URL: srv.URL + "/rerank", APIKey: secret})
			got, err := c.Rerank(context.Background(), "which case fits the ipad air", candidates())
			if err == nil || got != nil {
				t.Fatalf("got %v, %v; want an error", ids(got), err)
			}
			if kefu.ErrorCode(err) != kefu.EUnavailable || kefu.ErrorMessage(err) != "the reranker is unavailable" {
				t.Errorf("error %v, want code unavailable", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds the key: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), string(tc.dialect)+" rerank") {
				t.Errorf("error %q, want it to name the service and say %q", err, tc.want)
			}
			var re *remote.Error
			if !errors.As(err, &re) || re.Status != tc.status {
				t.Errorf("remote error %+v, want status %d", re, tc.status)
			}
			if tc.status >= 500 || tc.status == 429 {
				if !re.Transient() {
					t.Errorf("status %d is not transient", tc.status)
				}
			} else if re.Transient() {
				t.Errorf("%s is transient", tc.name)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	svc, srv := newService(t, TEI)
	svc.reply = func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	defer close(release)
	c := newClient(t, Config{Dialect: TEI, URL: srv.URL, Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.Rerank(context.Background(), "kettle", candidates())
	if kefu.ErrorCode(err) != kefu.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want unavailable from the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}

	// The caller's cancellation ends the call too.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	c = newClient(t, Config{Dialect: TEI, URL: srv.URL, Timeout: time.Minute})
	if _, err := c.Rerank(ctx, "kettle", candidates()); !errors.Is(err, context.Canceled) || kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("error %v, want unavailable from the cancellation", err)
	}
}

// A failed batch fails the call, with its own reason rather than the
// cancellation it caused in the others.
func TestBatchFailure(t *testing.T) {
	svc, srv := newService(t, TEI)
	svc.reply = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 2 {
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"shard down"}`))
			return
		}
		<-r.Context().Done()
	}
	c := newClient(t, Config{Dialect: TEI, URL: srv.URL, BatchSize: 2, Timeout: 10 * time.Second})
	_, err := c.Rerank(context.Background(), "kettle", candidates()[:3]) // batches of 2 and 1
	if err == nil || !strings.Contains(err.Error(), "shard down") {
		t.Fatalf("error %v, want the failed batch's reason", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newClient(t, Config{Dialect: Cohere, URL: url, APIKey: secret})
	_, err := c.Rerank(context.Background(), "kettle", candidates())
	if kefu.ErrorCode(err) != kefu.EUnavailable || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Dialect: "openai"},
		{Dialect: TEI},
		{Dialect: Cohere, URL: "ftp://example.com/rerank"},
		{Dialect: Jina, URL: "not a url"},
		{Dialect: Cohere, TopN: -1},
		{Dialect: Cohere, Timeout: -time.Second},
	} {
		if _, err := New(cfg); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("New(%v) = %v, want an invalid error", cfg, err)
		}
	}
	c, err := New(Config{Dialect: Cohere})
	if err != nil || c.cfg.URL != "https://api.cohere.com/v1/rerank" || c.cfg.Timeout != DefaultTimeout || c.cfg.BatchSize != DefaultMaxDocuments {
		t.Errorf("defaults: %+v, %v", c.cfg, err)
	}
	c, _ = New(Config{Dialect: TEI, URL: "http://tei/rerank"})
	if c.cfg.BatchSize != DefaultTEIBatch || c.cfg.Model != "" || c.Name() != "tei" {
		t.Errorf("tei defaults: %+v", c.cfg)
	}
}

func TestConfigNeverShowsTheKey(t *testing.T) {
	cfg := Config{Dialect: Cohere, URL: "https://user:pw@api.cohere.com/v1/rerank", APIKey: secret}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "rerank", cfg)
	for _, s := range []string{b.String(), cfg.String(), fmt.Sprint(cfg)} {
		if strings.Contains(s, secret) || strings.Contains(s, "pw@") {
			t.Errorf("shows a secret: %s", s)
		}
		if !strings.Contains(s, "true") {
			t.Errorf("does not say the key is set: %s", s)
		}
	}
}
