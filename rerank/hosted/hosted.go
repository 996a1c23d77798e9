package hosted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

// Dialect is the request and reply shape a rerank service speaks.
type Dialect string

// The dialects a Client speaks.
const (
	Cohere Dialect = "cohere"
	Jina   Dialect = "jina"
	TEI    Dialect = "tei" // Hugging Face text-embeddings-inference
)

// Defaults of Config's zero values, and the bounds of a request.
const (
	DefaultTimeout = 3 * time.Second
	// DefaultMaxDocuments caps the candidates sent; the ones after it are
	// dropped from the reranked list.
	DefaultMaxDocuments = 100
	// DefaultMaxDocumentBytes cuts each candidate's text (its title and
	// text), at a character boundary.
	DefaultMaxDocumentBytes = 2048
	// DefaultTEIBatch is text-embeddings-inference's default
	// --max-client-batch-size: the most texts one request may carry.
	DefaultTEIBatch = 32
	// MaxQueryBytes cuts the query.
	MaxQueryBytes = 2048
	// maxReplyBytes caps the reply read for one request.
	maxReplyBytes = 1 << 20
)

// Config is plain data; the zero value of a field means its default.
type Config struct {
	Dialect Dialect // required
	// URL is the rerank endpoint itself, path included (DefaultURL of the
	// dialect: Cohere's and Jina's public APIs; text-embeddings-inference
	// has none, so it is required, e.g. http://tei:80/rerank).
	URL string
	// Model is the rerank model (DefaultModel of the dialect);
	// text-embeddings-inference serves one model and is sent none.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <key>". It is a
	// secret: read it from the environment or a file, never log it.
	APIKey string
	// Timeout bounds one Rerank call, all its batches together
	// (DefaultTimeout).
	Timeout time.Duration
	// TopN, when positive, keeps only the best TopN candidates; 0 keeps
	// every candidate sent, reordered.
	TopN int
	// MaxDocuments caps the candidates sent (DefaultMaxDocuments).
	MaxDocuments int
	// MaxDocumentBytes cuts each candidate's text
	// (DefaultMaxDocumentBytes).
	MaxDocumentBytes int
	// BatchSize is the most candidates one request carries; more are sent
	// in several requests at once and their scores merged (default
	// DefaultTEIBatch for text-embeddings-inference, MaxDocuments for the
	// others).
	BatchSize int
	// HTTPClient's transport carries the requests (default a pooled copy
	// of http.DefaultTransport); its Timeout is ignored in favour of
	// Timeout.
	HTTPClient *http.Client
}

// DefaultURL is the endpoint of a dialect's public API, "" for
// text-embeddings-inference, which is self-hosted.
func DefaultURL(d Dialect) string {
	switch d {
	case Cohere:
		return "https://api.cohere.com/v1/rerank"
	case Jina:
		return "https://api.jina.ai/v1/rerank"
	}
	return ""
}

// DefaultModel is the model asked for when Config.Model is empty: a
// multilingual one (kefu's shoppers write Chinese and English), "" for
// text-embeddings-inference.
func DefaultModel(d Dialect) string {
	switch d {
	case Cohere:
		return "rerank-v3.5"
	case Jina:
		return "jina-reranker-v2-base-multilingual"
	}
	return ""
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dialect", string(c.Dialect)), slog.String("url", remote.RedactURL(c.URL)),
		slog.String("model", c.Model), slog.Bool("api_key_set", c.APIKey != ""), slog.Duration("timeout", c.Timeout),
		slog.Int("top_n", c.TopN))
}

// String keeps the API key out of anything that prints the config.
func (c Config) String() string {
	return fmt.Sprintf("hosted.Config{Dialect: %s, URL: %s, Model: %s, APIKey set: %t, Timeout: %s, TopN: %d}",
		c.Dialect, remote.RedactURL(c.URL), c.Model, c.APIKey != "", c.Timeout, c.TopN)
}

// Client reranks through one rerank endpoint. It is safe for concurrent
// use.
type Client struct {
	cfg     Config
	http    *http.Client
	service string // names the endpoint in errors, never with the key
}

// New returns a client for cfg, with defaults filled. It fails, with code
// kefu.EInvalid, on an unknown dialect, a missing or non-http(s) URL or a
// negative bound; it does not call the service.
func New(cfg Config) (*Client, error) {
	switch cfg.Dialect {
	case Cohere, Jina, TEI:
	default:
		return nil, kefu.Errorf(kefu.EInvalid, "rerank dialect %q is not cohere, jina or tei", cfg.Dialect)
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL(cfg.Dialect)
	}
	if cfg.URL == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "rerank: the %s dialect needs the endpoint's URL, e.g. http://localhost:8081/rerank", cfg.Dialect)
	}
	if _, err := remote.HTTPURL(cfg.URL); err != nil {
		return nil, kefu.Errorf(kefu.EInvalid, "rerank: %s", err.Error())
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel(cfg.Dialect)
	}
	if cfg.Timeout < 0 || cfg.TopN < 0 || cfg.MaxDocuments < 0 || cfg.MaxDocumentBytes < 0 || cfg.BatchSize < 0 {
		return nil, kefu.Errorf(kefu.EInvalid, "rerank: timeout, top_n and the request bounds must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxDocuments == 0 {
		cfg.MaxDocuments = DefaultMaxDocuments
	}
	if cfg.MaxDocumentBytes == 0 {
		cfg.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = cfg.MaxDocuments
		if cfg.Dialect == TEI {
			cfg.BatchSize = DefaultTEIBatch
		}
	}
	service := fmt.Sprintf("%s rerank at %s", cfg.Dialect, remote.RedactURL(cfg.URL))
	if cfg.Model != "" {
		service = fmt.Sprintf("%s rerank %q at %s", cfg.Dialect, cfg.Model, remote.RedactURL(cfg.URL))
	}
	return &Client{cfg: cfg, http: remote.Client(cfg.HTTPClient, nil), service: service}, nil
}

// Name identifies the reranker in answers' records: "cohere/rerank-v3.5",
// "tei".
func (c *Client) Name() string {
	if c.cfg.Model == "" {
		return string(c.cfg.Dialect)
	}
	return string(c.cfg.Dialect) + "/" + c.cfg.Model
}

// Rerank orders the first Config.MaxDocuments hits by the service's
// relevance scores, best first (ties keep the first-stage order), keeping
// the best Config.TopN when it is set; hits past MaxDocuments are
// dropped. Each returned hit is an input hit with Score set to the
// service's score; Lexical and Dense are kept. No hits give none, without
// a call. A blank query is an EInvalid error; any failure of the service
// or of its reply (a status other than 2xx, a timeout, malformed JSON, an
// index out of range or repeated, a missing or non-finite score) is an
// EUnavailable error, and no hits.
func (c *Client) Rerank(ctx context.Context, query string, hits []kefu.Hit) ([]kefu.Hit, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	query = clip(strings.TrimSpace(query), MaxQueryBytes)
	if query == "" {
		return nil, kefu.Errorf(kefu.EInvalid, "rerank: the query is empty")
	}
	hits = hits[:min(len(hits), c.cfg.MaxDocuments)]
	docs := make([]string, len(hits))
	for i, h := range hits {
		docs[i] = document(h.Chunk, c.cfg.MaxDocumentBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	scores := make([]float64, len(docs))
	scored := make([]bool, len(docs)) // a reply with a top_n lists only those
	batches := (len(docs) + c.cfg.BatchSize - 1) / c.cfg.BatchSize
	errs := make([]error, batches)
	var wg sync.WaitGroup
	for b := range batches {
		lo, hi := b*c.cfg.BatchSize, min((b+1)*c.cfg.BatchSize, len(docs))
		// One batch asks the service for the best TopN; several need
		// every score, to merge.
		topN := 0
		if batches == 1 && c.cfg.TopN > 0 && c.cfg.TopN < hi-lo {
			topN = c.cfg.TopN
		}
		wg.Go(func() {
			got, err := c.call(ctx, query, docs[lo:hi], topN)
			if err != nil {
				errs[b] = err
				cancel() // the other batches are of no use now
				return
			}
			for _, r := range got {
				scores[lo+r.index], scored[lo+r.index] = r.score, true
			}
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return nil, kefu.WrapError(kefu.EUnavailable, "the reranker is unavailable", err)
	}

	idx := make([]int, 0, len(hits))
	for i, ok := range scored {
		if ok {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	if c.cfg.TopN > 0 && len(idx) > c.cfg.TopN {
		idx = idx[:c.cfg.TopN]
	}
	out := make([]kefu.Hit, len(idx))
	for i, j := range idx {
		out[i] = hits[j]
		out[i].Score = scores[j]
	}
	return out, nil
}

// firstError is the first failure that is not only the cancellation
// another batch's failure caused.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		var re *remote.Error
		if !errors.As(err, &re) || !errors.Is(re.Err, context.Canceled) {
			return err
		}
	}
	return first
}

// call sends one batch and returns its results, checked against the
// batch's size.
func (c *Client) call(ctx context.Context, query string, docs []string, topN int) ([]result, error) {
	body, err := json.Marshal(c.request(query, docs, topN))
	if err != nil {
		return nil, &remote.Error{Service: c.service, Message: "encode the request: " + err.Error(), Final: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &remote.Error{Service: c.service, Message: remote.Scrub(err.Error(), c.cfg.APIKey), Final: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	ctx, call := remote.WithCall(ctx)
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, remote.Failure(ctx, c.service, call, err, c.cfg.APIKey)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, remote.Failure(ctx, c.service, call, fmt.Errorf("read the reply: %w", err), c.cfg.APIKey)
	}
	if resp.StatusCode/100 != 2 {
		e := remote.Failure(ctx, c.service, call, errors.New(errorText(raw)), c.cfg.APIKey)
		e.Status = resp.StatusCode
		return nil, e
	}
	if len(raw) > maxReplyBytes {
		return nil, &remote.Error{Service: c.service, Message: fmt.Sprintf("reply larger than %d bytes", maxReplyBytes), Final: true}
	}
	got, err := decodeReply(c.cfg.Dialect, raw, len(docs))
	if err != nil {
		return nil, &remote.Error{Service: c.service, Message: remote.Scrub(err.Error(), c.cfg.APIKey), Final: true}
	}
	return got, nil
}

// request is the body of one call in the client's dialect.
func (c *Client) request(query string, docs []string, topN int) any {
	if c.cfg.Dialect == TEI {
		return teiRequest{Query: query, Texts: docs, Truncate: true}
	}
	return cohereRequest{Model: c.cfg.Model, Query: query, Documents: docs, TopN: topN}
}

// cohereRequest is Cohere's and Jina's request; the documents are not
// asked back (Jina's default would echo them).
type cohereRequest struct {
	Model           string   `json:"model"`
	Query           string   `json:"query"`
	Documents       []string `json:"documents"`
	TopN            int      `json:"top_n,omitempty"`
	ReturnDocuments bool     `json:"return_documents"`
}

// teiRequest is text-embeddings-inference's request; truncate lets the
// server cut a text to the model's window instead of refusing it.
type teiRequest struct {
	Query    string   `json:"query"`
	Texts    []string `json:"texts"`
	Truncate bool     `json:"truncate"`
}

// document is what the service scores for a chunk: its title (and
// heading) above its text, unless the text starts with them already, cut
// to max bytes.
func document(c kefu.Chunk, max int) string {
	var b strings.Builder
	text := strings.TrimSpace(c.Text)
	for _, head := range []string{c.Title, c.Heading} {
		if head = strings.TrimSpace(head); head != "" && !strings.HasPrefix(text, head) && !strings.Contains(b.String(), head) {
			b.WriteString(head)
			b.WriteString("\n")
		}
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString(text)
	doc := clip(strings.TrimSpace(b.String()), max)
	if doc == "" {
		return "-" // services refuse an empty document
	}
	return doc
}

// clip cuts s to at most n bytes, at a character boundary, and drops
// invalid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// errorText is what a failed reply says: its message in any of the
// dialects' error shapes ({"message"}, {"error": "..."}, {"error":
// {"message"}}, {"detail"}), or the start of its body.
func errorText(raw []byte) string {
	var e struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &e) == nil {
		if e.Message != "" {
			return clip(e.Message, 512)
		}
		for _, v := range []json.RawMessage{e.Error, e.Detail} {
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				return clip(s, 512)
			}
			var o struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &o) == nil && o.Message != "" {
				return clip(o.Message, 512)
			}
		}
	}
	if t := strings.TrimSpace(clip(string(raw), 512)); t != "" {
		return t
	}
	return "no reason given"
}
